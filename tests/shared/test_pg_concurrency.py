"""8 processes write steps to one PostgreSQL store at once, each its own steps and all of
them one contended step: no error, the rows add up (every attempt, checkpoint, lease and
event accounted for), and the writes were serialized as on SQLite (unique positions, one
lease holder at a time)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mirrorneuron_nb.store import open_store

WRITERS, STEPS = 8, 15

WRITER = """
import json, os, socket, sys, time
from pathlib import Path
from mirrorneuron_nb.models import Attempt, Claimant, NewCheckpoint, Run, StepStart, VarEntry
from mirrorneuron_nb.store import open_store

n, steps, notebook = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
store = open_store(notebook.with_suffix(".mn"), notebook=notebook)
run_id = f"writer{n}"
store.start_run(Run(id=run_id, kind="batch", status="running", started_at=time.time(),
                    pid=os.getpid(), host=socket.gethostname()))
me = Claimant(run_id, "batch", socket.gethostname(), os.getpid())
granted = denied = 0
for i in range(steps):
    for name in (f"w{n}_{i}", "common"):
        start = StepStart(name, None, "x = 1", "h", "key", {}, None)
        got = store.claim_attempt(run_id, start, me)
        if not isinstance(got, Attempt):
            denied += 1
            continue
        granted += name == "common"
        var = VarEntry(name="x", type_name="int", serializer="pickle", size=1, header=b"\\x00")
        store.commit_checkpoint(got, NewCheckpoint("key", "h", 0.0, {}, [], [var], []))
store.end_run(run_id, "done")
store.close()
print(json.dumps({"granted": granted, "denied": denied}))
"""


@pytest.mark.timeout(300)
def test_eight_writers(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIRRORNEURON_STORE", pg_url)
    monkeypatch.setenv("MIRRORNEURON_PROJECT", tmp_path.name)
    notebook = tmp_path / "nb.ipynb"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(n), str(STEPS), str(notebook)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
        for n in range(WRITERS)
    ]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=240)
        assert p.returncode == 0 and not err, err
        results.append(json.loads(out))
    granted = sum(r["granted"] for r in results)
    store = open_store(tmp_path / "nb.mn", notebook=notebook, readonly=True)
    try:
        steps = {s.name: s for s in store.steps()}
        assert len(steps) == WRITERS * STEPS + 1
        assert {s.status.value for s in steps.values()} == {"succeeded"}
        for name, step in steps.items():
            attempts = store.attempts(name)
            expected = granted if name == "common" else 1
            assert len(attempts) == expected and {a.status for a in attempts} == {"succeeded"}
            checkpoint = store.checkpoint(step.checkpoint_id or 0)
            assert checkpoint is not None and checkpoint.step == name
            assert [v.name for v in store.variables(checkpoint.id)] == ["x"]
        # Serialized like SQLite's writers: positions handed out once each, and the
        # contended step's lease held by one run at a time (claimed, released, claimed...).
        assert len({s.position for s in steps.values()}) == len(steps)
        held = [e.kind for e in store.events("common") if e.kind in ("claimed", "released")]
        assert held == ["claimed", "released"] * granted
        assert store.leases() == {} and store.lease_waiters() == {}
        events = store.events(limit=100_000)
        kinds = [e.kind for e in events]
        total = WRITERS * STEPS + granted
        assert kinds.count("claimed") == kinds.count("released") == total
        assert kinds.count("succeeded") == total
        assert [e.id for e in events] == sorted({e.id for e in events})
        assert {r.status for r in store.runs()} == {"done"}
    finally:
        store.close()
