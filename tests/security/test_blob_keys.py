"""A blob key in a row is untrusted text: a key that is a path never reaches the file it
names (nothing outside the sidecar is read, renamed or deleted), and a key naming a FIFO
never hangs a kernel or the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ..helpers import mn, run
from ..messages import UNTRUSTED
from .sidecars import build, counter, db, kernel_for, runs, var_rowid

pytestmark = [pytest.mark.kernel]

STEP = "%%mn_step make\n" + counter("runs.txt") + "import numpy as np\narr = np.arange(50_000)\n"
SECRET = b"the user's important file\n"


def _point_buffer_at(sidecar: Path, key: str, size: int) -> None:
    """The attacker's edit: arr's buffer key (and size) name another file."""
    with db(sidecar) as conn:
        rowid = var_rowid(conn, "make", "arr")
        conn.execute(
            "UPDATE checkpoint_vars SET buffers=? WHERE rowid=?", (json.dumps([[key, size]]), rowid)
        )


def _path_key_sidecar(workdir: Path) -> tuple[Path, Path]:
    notebook = workdir / "nb.ipynb"
    sidecar = build(notebook, [STEP])
    outside = workdir.parent / "outside"
    outside.mkdir()
    important = outside / "important.txt"
    important.write_bytes(SECRET)
    # Joined as blobs/KEY[:2]/KEY[2:], this key resolved to outside/important.txt.
    key = "..blobs/../../../outside/important.txt"
    assert (sidecar / "blobs" / key[:2] / key[2:]).resolve() == important.resolve()
    _point_buffer_at(sidecar, key, len(SECRET))
    return notebook, important


def _untouched(important: Path) -> None:
    assert important.read_bytes() == SECRET
    assert sorted(p.name for p in important.parent.iterdir()) == ["important.txt"]


def test_a_path_key_never_touches_a_file_outside_the_sidecar(workdir: Path) -> None:
    notebook, important = _path_key_sidecar(workdir)
    with kernel_for(notebook) as kernel:
        report = run(kernel, "%mn_resume").stdout
        _untouched(important)
        # The row is checked before any blob it names is opened.
        assert "arr (step make)" in report and UNTRUSTED in report, report
        out = run(kernel, STEP)  # the cache hit refuses the row: the step runs
        assert "checkpoint unusable" in out.stderr, out.stderr
        assert runs(workdir, "runs.txt") == 2
        _untouched(important)
    _point_buffer_at(
        notebook.with_suffix(".mn"), "..blobs/../../../outside/important.txt", len(SECRET)
    )
    for args in (["status"], ["gc", "--grace-seconds", "0"], ["trust", "--yes"]):
        result = mn(*args, notebook.name, cwd=workdir, timeout=120)
        assert "Traceback" not in result.stderr, result.stderr
        _untouched(important)
    trust = mn("trust", "--yes", notebook.name, cwd=workdir, timeout=120)
    assert trust.returncode == 1, trust.stdout + trust.stderr
    assert "a blob key is not a digest (sidecar altered?)" in trust.stderr, trust.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_key_naming_a_fifo_does_not_hang(workdir: Path) -> None:
    notebook = workdir / "nb.ipynb"
    sidecar = build(notebook, [STEP])
    key = "ab" + "0" * 30
    (sidecar / "blobs" / "ab").mkdir(exist_ok=True)
    os.mkfifo(sidecar / "blobs" / "ab" / key[2:])
    _point_buffer_at(sidecar, key, 4096)
    # A kernel's resume refuses the row before opening the FIFO (bounded: no hang).
    with kernel_for(notebook) as kernel:
        report = kernel.run("%mn_resume", timeout=60).stdout
        assert "arr (step make)" in report and UNTRUSTED in report, report
    # trust opens the blobs of rows it has not verified (it checks them to sign them).
    trust = subprocess.run(
        [sys.executable, "-m", "mirrorneuron_nb.batch.cli", "trust", "--yes", notebook.name],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert trust.returncode == 1, trust.stdout + trust.stderr
    assert f"blob {key} is not a regular file" in trust.stderr, trust.stderr
    assert (sidecar / "blobs" / "ab" / key[2:]).is_fifo()
