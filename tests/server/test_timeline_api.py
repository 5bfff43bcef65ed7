"""GET /mirrorneuron/api/timeline against a real in-process Jupyter server: the last runs as
bars on a time axis, in exactly the contract's shape, built from what a kernel wrote."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from mirrorneuron_nb.models import Claimant, LeaseOwner

from .builders import Kernelish, body, notebook

STEPS = {"load": "x = 1", "features": "y = x + 1", "train": "z = y * 2"}
RUN_KEYS = {
    "run_id",
    "kind",
    "status",
    "started_at",
    "ended_at",
    "restored",
    "saved_seconds",
    "bars",
}
BAR_KEYS = {"step", "outcome", "start", "end", "attempt", "detail"}
PATH = "work/analysis.ipynb"


@pytest.fixture
def nb(root: Path) -> Path:
    return notebook(root / "work" / "analysis.ipynb", STEPS)


def _first_run(kernel: Kernelish) -> dict[str, int]:
    """load runs; features fails once, then its retry runs; train runs."""
    ids = {"load": kernel.succeed("load", STEPS["load"], {"x": 8}, position=0)}
    kernel.fail("features", STEPS["features"], "ConnectionError: API down", position=1)
    ids["features"] = kernel.succeed("features", STEPS["features"], {"y": 8}, position=1)
    ids["train"] = kernel.succeed("train", STEPS["train"], {"z": 8}, position=2)
    kernel.store.end_run(kernel.run.id, "ended")
    return ids


def _restore(kernel: Kernelish, name: str, checkpoint_id: int) -> None:
    """A cache hit, as the runner records it."""
    checkpoint = kernel.store.checkpoint(checkpoint_id)
    assert checkpoint is not None
    start = kernel.start(name, STEPS[name], list(STEPS).index(name))
    kernel.store.record_cache_hit(kernel.run.id, start, checkpoint, ["x"])


def _outcomes(run: dict[str, Any]) -> list[tuple[str, str, int | None]]:
    return [(b["step"], b["outcome"], b["attempt"]) for b in run["bars"]]


async def test_timeline_of_a_run_and_its_resume(api: Any, nb: Path, kernel: Kernelish):
    ids = _first_run(kernel)
    second = Kernelish(nb)
    try:
        _restore(second, "load", ids["load"])
        _restore(second, "features", ids["features"])
        second.fail("train", STEPS["train"], "MemoryError: out of memory", position=2)
    finally:
        second.close()

    r = await api("timeline", path=PATH)
    assert r.code == 200 and r.headers["Cache-Control"] == "no-store"
    runs = body(r)["runs"]
    assert set(body(r)) == {"runs"}
    assert [run["run_id"] for run in runs] == [second.run.id, kernel.run.id]  # newest first
    for run in runs:
        assert set(run) == RUN_KEYS
        assert all(set(bar) == BAR_KEYS for bar in run["bars"])
        starts = [bar["start"] for bar in run["bars"]]
        assert starts == sorted(starts)

    newest, oldest = runs
    assert _outcomes(newest) == [
        ("load", "restored", None),
        ("features", "restored", None),
        ("train", "failed", 1),
    ]
    # Each restored step saved the time its checkpointed run took (1.5 s in the builder).
    assert newest["restored"] == 2 and newest["saved_seconds"] == pytest.approx(3.0)
    assert newest["bars"][2]["detail"] == "MemoryError: out of memory"
    assert newest["status"] == "running" and newest["ended_at"] is None

    assert _outcomes(oldest) == [
        ("load", "ran", 1),
        ("features", "retried", 1),
        ("features", "ran", 2),
        ("train", "ran", 1),
    ]
    assert oldest["bars"][1]["detail"] == "ConnectionError: API down"
    assert oldest["restored"] == 0 and oldest["saved_seconds"] == 0
    assert oldest["status"] == "ended" and oldest["ended_at"] >= oldest["started_at"]
    assert all(b["end"] is not None and b["end"] >= b["start"] for b in oldest["bars"])

    only = body(await api("timeline", path=PATH, runs="1"))["runs"]
    assert [run["run_id"] for run in only] == [second.run.id]


async def test_waits_are_waiting_bars(api: Any, nb: Path, kernel: Kernelish):
    run_id = kernel.run.id
    attempt = kernel.begin("load", STEPS["load"], 0)
    kernel.store.record_wait(run_id, "load", "sleeping", time.time() + 5, "mn.sleep(5)")
    kernel.store.record_wait(run_id, "load", "woke", time.time(), "mn.sleep(5)")
    kernel.succeed("load", STEPS["load"], {"x": 8}, attempt=attempt)
    owner = LeaseOwner("other-run", "batch", "elsewhere", 1, time.time(), time.time())
    claimant = Claimant(run_id, "interactive", socket.gethostname(), os.getpid())
    kernel.store.start_waiting(claimant, "features", owner)
    kernel.store.stop_waiting(run_id, "features", "served")
    kernel.ask("train", STEPS["train"], "Spend $40 on GPUs?", position=2)

    (run,) = body(await api("timeline", path=PATH))["runs"]
    waits = [(b["step"], b["detail"]) for b in run["bars"] if b["outcome"] == "waiting"]
    assert waits == [
        ("load", "sleeping: mn.sleep(5)"),
        ("features", "waiting for the run that holds this step"),
        ("train", "awaiting approval: Spend $40 on GPUs?"),
    ]
    bars = {b["step"]: b for b in run["bars"] if b["outcome"] == "waiting"}
    assert bars["load"]["end"] >= bars["load"]["start"]
    assert bars["features"]["end"] is not None
    assert bars["train"]["end"] is None  # undecided, and the run goes on


async def test_timeline_before_any_step_ran(api: Any, nb: Path):
    r = await api("timeline", path=PATH)
    assert r.code == 200 and body(r) == {"runs": []}


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"path": "work/missing.ipynb"}, 404),
        ({"path": "../outside.ipynb"}, 400),
        ({"path": "work/analysis.txt"}, 400),
        ({"path": PATH, "runs": "0"}, 400),
        ({"path": PATH, "runs": "51"}, 400),
        ({"path": PATH, "runs": "banana"}, 400),
        ({}, 400),
    ],
)
async def test_timeline_bad_requests(api: Any, nb: Path, params: dict[str, str], code: int):
    r = await api("timeline", **params)
    assert r.code == code
    answer = body(r)
    assert set(answer) == {"code", "message"} and "\n" not in answer["message"]
