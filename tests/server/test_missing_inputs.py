"""Inputs nobody checkpointed, as the Steps panel reads them (jp_fetch): a step stopped
after a restart because inputs from plain cells are missing carries the names and the cells
that define them, until anything else happens to it. The sidecar's record is untrusted."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from mirrorneuron_nb.models import InputOrigin
from mirrorneuron_nb.sidecar import sidecar_of
from mirrorneuron_nb.store.sqlite import DB_NAME

from .builders import body, notebook

STEPS = {"load": "x = 1", "features": "y = x + rate"}


@pytest.fixture
def nb(root: Path) -> Path:
    return notebook(root / "work" / "analysis.ipynb", STEPS)


async def test_missing_inputs_are_offered_until_the_step_runs_again(
    api: Any, nb: Path, kernel: Any
):
    kernel.succeed("load", STEPS["load"], {"x": 28})
    kernel.succeed("features", STEPS["features"], {"y": 28})
    origins = [
        InputOrigin(name="rate", cell_index=1, cell_id="cell-rate", label="cell 2, not a step"),
        InputOrigin(name="x", step="load", cell_index=1, label="step load"),
    ]
    kernel.store.record_inputs_missing(kernel.run.id, "features", origins)
    rows = {r["name"]: r for r in body(await api("steps", path="work/analysis.ipynb"))["steps"]}
    assert rows["features"]["status"] == "succeeded"  # stopped, not demoted
    assert rows["features"]["missing_inputs"] == [
        {
            "name": "rate",
            "step": None,
            "cell_index": 1,
            "cell_id": "cell-rate",
            "label": "cell 2, not a step",
        },
        {"name": "x", "step": "load", "cell_index": 1, "cell_id": None, "label": "step load"},
    ]
    assert rows["load"]["missing_inputs"] == []

    # Anything that happens to the step afterwards (here: it runs again) withdraws it.
    kernel.succeed("features", STEPS["features"], {"y": 28})
    rows = {r["name"]: r for r in body(await api("steps", path="work/analysis.ipynb"))["steps"]}
    assert rows["features"]["missing_inputs"] == []


async def test_a_damaged_missing_inputs_record_is_ignored(api: Any, nb: Path, kernel: Any):
    kernel.succeed("load", STEPS["load"], {"x": 28})
    good = InputOrigin(name="rate", cell_index=1, label="cell 2, not a step")
    kernel.store.record_inputs_missing(kernel.run.id, "load", [good])
    conn = sqlite3.connect(sidecar_of(nb) / DB_NAME)
    with conn:  # a negative cell index: nothing of it is used
        conn.execute(
            "UPDATE events SET detail=? WHERE kind='inputs_missing'",
            (json.dumps({"origins": [good.model_dump(), {"name": "y", "cell_index": -4}]}),),
        )
    conn.close()
    r = await api("steps", path="work/analysis.ipynb")
    assert r.code == 200
    assert body(r)["steps"][0]["missing_inputs"] == []
