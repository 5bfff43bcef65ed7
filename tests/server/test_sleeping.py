"""A step a batch run parked `sleeping` (a wait longer than --max-sleep), as the Steps panel
reads it (jp_fetch): status `sleeping` and its `wake_at`, until it runs again. The wake-up
time comes from the sidecar's event log, which is untrusted: a damaged one is no time."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from mirrorneuron_nb.sidecar import sidecar_of
from mirrorneuron_nb.store.sqlite import DB_NAME

from .builders import body, notebook

STEPS = {"load": "x = 1", "wait": "import mirrorneuron_nb as mn\nmn.sleep(600)"}


@pytest.fixture
def nb(root: Path) -> Path:
    return notebook(root / "work" / "analysis.ipynb", STEPS)


async def rows(api: Any) -> dict[str, Any]:
    answer = body(await api("steps", path="work/analysis.ipynb"))
    return {r["name"]: r for r in answer["steps"]} | {"": answer["summary"]}


async def test_a_parked_step_shows_sleeping_with_its_wake_up_time(
    api: Any, nb: Path, kernel: Any
) -> None:
    kernel.succeed("load", STEPS["load"], {"x": 1})
    attempt = kernel.begin("wait", STEPS["wait"])
    wake_at = time.time() + 600
    kernel.store.park_attempt(attempt, wake_at, "mn.sleep(600)")
    shown = await rows(api)
    assert shown["wait"]["status"] == "sleeping" and shown["wait"]["wake_at"] == wake_at
    assert shown["wait"]["error"] is None
    assert shown["load"]["wake_at"] is None
    assert "1 sleeping" in shown[""]["text"]

    # A damaged detail in the sidecar is no wake-up time, never an error.
    conn = sqlite3.connect(sidecar_of(nb) / DB_NAME)
    with conn:
        conn.execute("UPDATE events SET detail='{\"wake_at\": \"soon\"}' WHERE kind='sleeping'")
    conn.close()
    shown = await rows(api)
    assert shown["wait"]["status"] == "sleeping" and shown["wait"]["wake_at"] is None

    kernel.begin("wait", STEPS["wait"])  # the next run re-runs it: no longer sleeping
    shown = await rows(api)
    assert shown["wait"]["status"] == "running" and shown["wait"]["wake_at"] is None
