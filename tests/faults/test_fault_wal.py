"""The issue's worst case: `state.sqlite-wal` deleted while a kernel holds it. SQLite would
go on committing into the unlinked log, the kernel reporting success, and every step would
vanish with the kernel. Now the kernel notices at its next write, saves the log into the
database file, says so in one line, and a fresh kernel finds every step."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from ..helpers import fresh, mn, run, usage_error, value
from ..kernels import Kernel

pytestmark = [pytest.mark.kernel, pytest.mark.faults]


def step(i: int) -> str:
    return f"%%mn_step s{i}\nv{i} = list(range({i} * 10))\n"


def test_a_deleted_log_is_noticed_within_one_step_and_nothing_is_lost(workdir: Path) -> None:
    notebook = workdir / "nb.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell(step(i)) for i in range(11)]), notebook)
    sidecar = workdir / "nb.mn"
    kernel = Kernel(workdir, env={"JPY_SESSION_NAME": str(notebook)})
    try:
        run(kernel, "%load_ext mirrorneuron_nb")
        for i in range(5):
            run(kernel, step(i))
        (sidecar / "state.sqlite-wal").unlink()

        # The very next step is refused before its body runs, in one line that says the
        # records were saved.
        message = usage_error(kernel, step(5))
        assert "state.sqlite-wal was deleted" in message, message
        assert "were saved into state.sqlite" in message, message
        assert value(kernel, "'v5' in globals()") == "False"
        # Running it again works, and so do the steps after it.
        for i in range(5, 11):
            run(kernel, step(i))
        # Another process sees everything while the kernel still runs.
        status = mn("status", str(notebook), timeout=120)
        assert status.returncode == 0, status.stderr
        assert all(f"s{i} " in status.stdout for i in range(11)), status.stdout

        # A kill (no clean close): what the kernel committed is in the files on disk.
        fresh(kernel)
        report = run(kernel, "%mn_resume").stdout
        assert "restored 11 variable(s) from 11 step(s)" in report, report
        assert value(kernel, "[len(v0), len(v4), len(v10)]") == "[0, 40, 100]"
    finally:
        kernel.shutdown()
