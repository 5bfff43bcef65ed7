"""The server reads and writes a notebook's rows in a shared PostgreSQL store (a real
server and a real database): the steps a kernel elsewhere recorded show, a reset works,
and nothing appears beside the notebook."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from mirrorneuron_nb.models import Attempt, NewCheckpoint, Run, StepStart
from mirrorneuron_nb.notebook import code_hash
from mirrorneuron_nb.sidecar import sidecar_of
from mirrorneuron_nb.store import open_store

from .builders import body, notebook

NB = "work/shared.ipynb"


@pytest.fixture
def nb(root: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MIRRORNEURON_STORE", pg_url)
    monkeypatch.setenv("MIRRORNEURON_PROJECT", "server-" + root.parent.name)
    return notebook(root / NB, {"load": "x = 1", "train": "y = x"})


def record(nb: Path, name: str) -> None:
    """What a kernel on another machine writes for one successful step."""
    store = open_store(sidecar_of(nb), notebook=nb)
    try:
        store.start_run(
            Run(
                id="r-" + name,
                kind="interactive",
                status="running",
                started_at=time.time(),
                pid=os.getpid(),
                host=socket.gethostname(),
            )
        )
        got = store.begin_attempt(
            "r-" + name, StepStart(name, None, "x = 1", code_hash("x = 1"), "k", {}, 0)
        )
        assert isinstance(got, Attempt)
        store.commit_checkpoint(got, NewCheckpoint("k", code_hash("x = 1"), 0.1, {}, [], [], []))
    finally:
        store.close()


async def test_steps_and_reset_from_the_shared_store(api: Any, nb: Path) -> None:
    data = body(await api("steps", path=NB))
    assert {r["name"]: r["status"] for r in data["steps"]} == {
        "load": "pending",
        "train": "pending",
    }
    record(nb, "load")
    data = body(await api("steps", path=NB))
    assert {r["name"]: r["status"] for r in data["steps"]}["load"] == "succeeded"
    r = await api("reset", "POST", {"path": NB, "name": "load"})
    assert r.code == 200 and body(r) == {"path": NB, "reset": ["load"]}
    data = body(await api("steps", path=NB))
    assert {r["name"]: r["status"] for r in data["steps"]}["load"] == "pending"
    assert sorted(p.name for p in nb.parent.iterdir()) == ["shared.ipynb"]
