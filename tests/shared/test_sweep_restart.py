"""The database restarted mid-sweep: a sweep of 4 combinations on a real PostgreSQL store,
the server stopped (`pg_ctl stop -m fast`) by one combination's step while others run and
started again a few seconds later. The affected steps fail with a `store unavailable`
line (their kernels survive: no combination dies), the sweep exits 1 naming them, and the
same sweep again completes them, running only what had not finished (call counters)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from .. import notebooks
from ..helpers import mn
from ..notebooks import counts, step
from .postgres import PgServer
from .test_sweep import COMBOS, GRID, write_notebook

pytestmark = pytest.mark.kernel

DOWN_FOR = 3.0
"""Seconds the database stays down."""


def stop_database(server: PgServer) -> str:
    """Lines `train` runs first: for lr=0.1 depth=5, once, stop the server mid-step."""
    return (
        "import os, subprocess\n"
        "if lr == 0.1 and depth == 5 and not os.path.exists('db.stopped'):\n"
        f"    subprocess.run({server.stop_command()!r}, check=True)\n"
        "    open('db.stopped', 'w').close()\n"
    )


def _restart_when_stopped(server: PgServer, workdir: Path, sweep: subprocess.Popen[str]) -> None:
    """Start the server again DOWN_FOR s after the step stopped it."""
    while not (workdir / "db.stopped").exists():
        if sweep.poll() is not None:
            return
        time.sleep(0.1)
    time.sleep(DOWN_FOR)
    server.start()
    (workdir / "db.started").touch()


@pytest.fixture
def shared(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """This test's notebooks on the shared store, in a project of their own."""
    monkeypatch.setenv("MIRRORNEURON_STORE", pg_url)
    monkeypatch.setenv("MIRRORNEURON_PROJECT", "restart-" + tmp_path.name)


def _run_restarting(
    server: PgServer, workdir: Path, command: str, *args: str
) -> tuple[int, str, str]:
    """`mn-nb COMMAND nb.ipynb ARGS` while the server is started again DOWN_FOR s after a
    step of the notebook stopped it (which it must): (exit code, stdout, stderr)."""
    cmd = [sys.executable, "-m", "mirrorneuron_nb.batch.cli", command, "nb.ipynb", *args]
    proc = subprocess.Popen(
        cmd, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    restarter = threading.Thread(target=_restart_when_stopped, args=(server, workdir, proc))
    restarter.start()
    try:
        stdout, stderr = proc.communicate(timeout=600)
    finally:
        restarter.join(timeout=60)
        if not (workdir / "db.started").exists():
            server.start()  # the next tests need it whatever happened here
    assert (workdir / "db.stopped").exists(), stderr
    return proc.returncode, stdout, stderr


@pytest.mark.timeout(900)
def test_database_restarted_mid_sweep(pg_server: PgServer, shared: None, workdir: Path) -> None:
    write_notebook(workdir / "nb.ipynb", stop_database(pg_server))
    returncode, stdout, stderr = _run_restarting(pg_server, workdir, "sweep", *GRID, "--json")
    assert returncode == 1, stdout + stderr
    first = {f"{r['lr']} {r['depth']}": r for r in json.loads(stdout)}
    failed = {c: r for c, r in first.items() if r["status"] != "succeeded"}
    # the stopping step's own combination failed, on its checkpoint, with one clear line;
    # every failure is the database's or the planned one, none a dead kernel
    assert failed["0.1 5"]["failed_step"] == "train", failed
    for combo, row in failed.items():
        assert row["status"] == "failed", row
        planned = combo == "0.01 5" and "diverged" in row["error"]
        assert planned or row["error"].startswith("store unavailable: "), row
    ours = [line for line in stderr.splitlines() if line.startswith("mn-nb")]
    assert len(ours) == 1 and f"{len(failed)} of 4 combination(s) failed" in ours[0], stderr
    assert "lr=0.1 depth=5 (step train: store unavailable: " in ours[0], ours
    ran = counts(workdir)

    (workdir / "fixed.flag").touch()
    second = mn("sweep", "nb.ipynb", *GRID, "--json", cwd=workdir, timeout=600)
    assert second.returncode == 0, second.stdout + second.stderr
    assert [r["status"] for r in json.loads(second.stdout)] == ["succeeded"] * 4
    # Only what had not finished ran again: a step the restart cut off (its body ran, its
    # checkpoint was never written) runs once more; nothing that succeeded runs twice.
    again = counts(workdir) - ran
    unfinished = {
        f"{name} {combo}": 1
        for combo in COMBOS
        for name in ("train", "report")
        if first[combo]["steps"].get(name) not in ("ran", "restored")
    }
    assert "train 0.1 5" in unfinished
    assert again == unfinished, (again, first)
    assert ran["prepare"] + again["prepare"] == 1, ran


def test_an_outcome_read_while_the_database_restarts_is_waited_for(
    pg_server: PgServer, shared: None, workdir: Path
) -> None:
    """The step committed; then, before papermill hands its reply to the engine, the
    database goes down (a post_run_cell hook stops it) for DOWN_FOR s. The engine waits
    for it to read the step's outcome, instead of reporting nothing for a step that ran."""
    hook = (
        f"def _stop_db(result, _cmd={pg_server.stop_command()!r}):\n"
        "    import subprocess\n"
        "    get_ipython().events.unregister('post_run_cell', _stop_db)\n"
        "    subprocess.run(_cmd, check=True)\n"
        "    open('db.stopped', 'w').close()\n"
        "get_ipython().events.register('post_run_cell', _stop_db)\n"
    )
    notebooks.write_notebook(workdir / "nb.ipynb", "lr = 0.1", [step("fit", "model = 2\n" + hook)])
    returncode, stdout, stderr = _run_restarting(pg_server, workdir, "run", "out.ipynb")
    assert returncode == 0, stdout + stderr
    progress = [line.split()[:2] for line in stdout.splitlines() if line.startswith("  ")]
    assert progress[:1] == [["fit", "ran"]], stdout
    assert counts(workdir) == {"fit": 1}
