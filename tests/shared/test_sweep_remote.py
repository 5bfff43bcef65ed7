"""`mn-nb sweep --dask ADDRESS`: a real scheduler and two real workers, each its own
process as on a cluster (started and stopped here); an address nothing answers at is one
line, exit 2."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..helpers import mn
from ..notebooks import counts
from ..processes import stop
from .moto import free_port
from .test_sweep import write_notebook

pytestmark = pytest.mark.kernel


def _wait_workers(address: str, count: int, procs: list[subprocess.Popen[bytes]]) -> None:
    from distributed import Client

    deadline = time.monotonic() + 60
    with Client(address, timeout="30s") as c:
        while len(c.scheduler_info()["workers"]) < count:
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise RuntimeError(f"{count} Dask workers did not join {address}")
            time.sleep(0.2)


def _wait_listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"the Dask scheduler did not listen on {port}")


@pytest.fixture
def scheduler(tmp_path: Path) -> Iterator[str]:
    """A scheduler and 2 single-threaded workers: separate processes inheriting this test's
    environment (its hermetic Jupyter dirs, PYTHONPATH)."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler_cmd = [sys.executable, "-m", "distributed.cli.dask_scheduler", "--no-dashboard"]
    worker_cmd = [sys.executable, "-m", "distributed.cli.dask_worker", "--no-dashboard"]
    log = (tmp_path / "dask.log").open("wb")
    procs = [
        subprocess.Popen(
            [*scheduler_cmd, "--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(os.environ),
        )
    ]
    try:
        _wait_listening(port, procs[0])
        for _ in range(2):
            procs.append(
                subprocess.Popen(
                    [*worker_cmd, address, "--nworkers", "1", "--nthreads", "1"],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=dict(os.environ),
                )
            )
        _wait_workers(address, 2, procs)
        yield address
    finally:
        stop(procs[::-1], timeout=30)  # workers first: they would wait for the scheduler
        log.close()


@pytest.mark.timeout(600)
def test_sweep_on_a_remote_scheduler(workdir: Path, scheduler: str) -> None:
    write_notebook(workdir / "nb.ipynb")
    grid = ["-g", "lr=0.1,0.01", "-p", "depth", "5"]  # two combinations, one per worker
    done = mn("sweep", "nb.ipynb", *grid, "--dask", scheduler, "--json", cwd=workdir, timeout=500)
    assert done.returncode == 1, done.stdout + done.stderr
    rows = json.loads(done.stdout)
    assert [(r["lr"], r["status"], r["failed_step"]) for r in rows] == [
        (0.1, "succeeded", None),
        (0.01, "failed", "train"),
    ]
    assert "ValueError: diverged" in rows[1]["error"], rows
    assert all(Path(r["output"]).is_file() for r in rows), rows
    assert (workdir / "nb_sweep" / "summary.csv").is_file()
    assert done.stderr.splitlines()[-1] == (
        "mn-nb: 1 of 2 combination(s) failed: lr=0.01 (step train: ValueError: diverged)"
    )
    # the remote workers ran each body once, the shared upstream step once for both
    assert counts(workdir) == {"prepare": 1, "train 0.1 5": 1, "train 0.01 5": 1, "report 0.1 5": 1}


def test_unreachable_scheduler_exits_2_with_one_line(workdir: Path) -> None:
    write_notebook(workdir / "nb.ipynb")
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    done = mn("sweep", "nb.ipynb", "-g", "lr=1,2", "--dask", address, cwd=workdir, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith(
        f"mn-nb: error: cannot reach the Dask scheduler at {address}: "
    ), done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert counts(workdir) == {}
    assert not (workdir / "nb_sweep").exists()  # an unreachable cluster changes nothing
