"""`mn-nb run --max-sleep S`: a step sleeping longer stops the run cleanly (exit 5), is shown
`sleeping` with its wake-up time, and the same command run again after that proceeds.
Real `mn-nb run` processes, real papermill kernels, counter files."""

from __future__ import annotations

import json
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from mirrorneuron_nb.store.base import LEASE_EVENTS

from ..helpers import mn

SLEEP = 30  # long enough that the second run reaches the step well before the wake-up time,
# even when two test workers share two cores (a first run took 12.6 s there)


def _notebook(path: Path) -> None:
    cells = [
        new_code_cell("%load_ext mirrorneuron_nb"),
        new_code_cell(
            "%%mn_step wait\n"
            "import mirrorneuron_nb as mn\n"
            "@mn.durable\n"
            "def notify():\n"
            "    with open('notify.txt', 'a') as fh:\n"
            "        fh.write('x')\n"
            "    return 'sent'\n"
            "sent = notify()\n"
            f"mn.sleep({SLEEP})\n"
        ),
        new_code_cell(
            "%%mn_step after\nwith open('after.txt', 'a') as fh:\n    fh.write('x')\nz = sent\n"
        ),
    ]
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": kernelspec}), path)


def _count(workdir: Path, name: str) -> int:
    path = workdir / name
    return len(path.read_text()) if path.exists() else 0


def _step(workdir: Path, name: str) -> dict[str, object]:
    status = mn("status", "sleepy.ipynb", "--json", cwd=workdir)
    assert status.returncode == 0, status.stderr
    steps: dict[str, dict[str, object]] = {s["name"]: s for s in json.loads(status.stdout)["steps"]}
    return steps[name]


def test_max_sleep_parks_the_step_and_the_next_run_after_wake_proceeds(workdir: Path) -> None:
    _notebook(workdir / "sleepy.ipynb")
    started = time.time()
    first = mn("run", "sleepy.ipynb", "--max-sleep", "1", cwd=workdir)
    assert first.returncode == 5, first.stdout + first.stderr
    line = first.stderr.strip().splitlines()[-1]
    assert line.startswith("mn-nb: step `wait` sleeps until "), line
    assert line.endswith(": run the same command again after that"), line
    assert _count(workdir, "notify.txt") == 1 and _count(workdir, "after.txt") == 0

    # Again before the wake-up time (at once: kernel starts are slow on a busy machine):
    # stopped again, the recorded call not repeated, the sleep not restarted.
    assert time.time() < started + SLEEP - 5
    second = mn("run", "sleepy.ipynb", "--max-sleep", "1", cwd=workdir)
    assert second.returncode == 5, second.stdout + second.stderr
    assert second.stderr.strip().splitlines()[-1] == line  # the same wake-up time
    assert _count(workdir, "notify.txt") == 1 and _count(workdir, "after.txt") == 0

    wait = _step(workdir, "wait")
    assert wait["status"] == "sleeping", wait
    wake_at = wait["wake_at"]
    assert isinstance(wake_at, float) and started + SLEEP <= wake_at <= time.time() + SLEEP
    assert "sleeps until" in mn("status", "sleepy.ipynb", cwd=workdir).stdout
    log = json.loads(mn("log", "sleepy.ipynb", "--step", "wait", "--json", cwd=workdir).stdout)
    parked = [e for e in log if e["kind"] == "sleeping"]
    assert len(parked) == 2 and all(e["detail"]["parked"] is True for e in parked)
    assert {e["detail"]["wake_at"] for e in parked} == {wake_at}

    time.sleep(max(wake_at - time.time(), 0) + 0.2)
    t0 = time.perf_counter()
    third = mn("run", "sleepy.ipynb", "--max-sleep", "1", cwd=workdir)
    assert third.returncode == 0, third.stdout + third.stderr
    assert time.perf_counter() - t0 < 60
    assert "sleeping" not in third.stderr.split("mn-nb run")[0]
    assert _count(workdir, "notify.txt") == 1 and _count(workdir, "after.txt") == 1
    wait = _step(workdir, "wait")
    assert wait["status"] == "succeeded" and wait["wake_at"] is None
    log = json.loads(mn("log", "sleepy.ipynb", "--step", "wait", "--json", cwd=workdir).stdout)
    kinds = [e["kind"] for e in log if e["kind"] not in LEASE_EVENTS]  # not who held it
    assert kinds[-2:] == ["woke", "succeeded"]


def test_bad_max_sleep_is_one_line_exit_2(workdir: Path) -> None:
    _notebook(workdir / "sleepy.ipynb")
    for bad in ("inf", "-1", "nan"):
        out = mn("run", "sleepy.ipynb", "--max-sleep", bad, cwd=workdir)
        assert out.returncode == 2, out.stderr
        assert out.stderr.startswith("mn-nb: error: --max-sleep must be 0 or more"), out.stderr
        assert len(out.stderr.strip().splitlines()) == 1
    assert not (workdir / "sleepy.mn").exists()  # nothing ran, nothing written
