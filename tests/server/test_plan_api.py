"""GET /mirrorneuron/api/plan against a real in-process Jupyter server: the same plan as
`mn-nb plan`, errors through the API's usual {code, message} mapping."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mirrorneuron_nb.sidecar import sidecar_of
from mirrorneuron_nb.store.sqlite import DB_NAME

from .builders import body, notebook

STEPS = {"load": "x = 1", "features": "y = x + 1", "train": "z = y * 2"}


@pytest.fixture
def nb(root: Path) -> Path:
    return notebook(root / "work" / "analysis.ipynb", STEPS)


async def test_plan_without_a_sidecar_runs_every_step(api: Any, nb: Path):
    r = await api("plan", path="work/analysis.ipynb")
    assert r.code == 200
    assert body(r) == {
        "notebook": "work/analysis.ipynb",
        "steps": [
            {"name": n, "position": i, "action": "run", "reason": "new", "detail": None}
            for i, n in enumerate(STEPS)
        ],
    }
    assert not sidecar_of(nb).exists()  # planning writes nothing


async def test_plan_follows_the_sidecar(api: Any, nb: Path, kernel: Any):
    kernel.succeed("load", "x = 0", {"x": 28}, position=0)  # the notebook now says x = 1
    kernel.fail("features", STEPS["features"], "NameError: name 'x' is not defined", position=1)
    kernel.succeed("train", STEPS["train"], {"z": 28}, position=2)
    r = await api("plan", path="work/analysis.ipynb")
    assert r.code == 200 and r.headers["Cache-Control"] == "no-store"
    steps = {s["name"]: (s["action"], s["reason"]) for s in body(r)["steps"]}
    assert steps == {
        "load": ("run", "code changed"),
        "features": ("run", "failed last time"),
        "train": ("restore", "unchanged"),
    }


async def test_plan_of_a_rejected_gate(api: Any, nb: Path, kernel: Any):
    kernel.succeed("load", STEPS["load"], {"x": 28}, position=0)
    kernel.ask("features", STEPS["features"], "Go?", position=1)
    kernel.store.decide("features", False, "ana", None)
    steps = body(await api("plan", path="work/analysis.ipynb"))["steps"]
    assert [(s["action"], s["detail"]) for s in steps] == [
        ("restore", None),
        ("blocked", "step 'features' rejected by ana"),
        ("blocked", "step 'features' was rejected"),
    ]


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("work/missing.ipynb", 404, "not_found"),
        ("work/notjson.ipynb", 400, "invalid_input"),
        ("../outside.ipynb", 400, "path_outside_root"),
        (None, 400, "invalid_input"),
    ],
)
async def test_plan_bad_input(api: Any, nb: Path, path: str | None, status: int, code: str):
    (nb.parent / "notjson.ipynb").write_text("not json")
    r = await api("plan", path=path)
    assert r.code == status
    assert body(r)["code"] == code and set(body(r)) == {"code", "message"}
    assert "\n" not in body(r)["message"]


async def test_plan_of_a_damaged_sidecar_is_503(api: Any, nb: Path):
    db = sidecar_of(nb) / DB_NAME
    db.parent.mkdir(parents=True)
    db.write_bytes(b"this is not a database, just garbage" * 100)
    r = await api("plan", path="work/analysis.ipynb")
    assert r.code == 503 and body(r)["code"] == "sidecar_damaged"
