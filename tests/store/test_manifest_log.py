"""The manifest log beside the database: one line per commit, reset steps dropped, gc
rewrites it without the checkpoints it dropped, and a rebuild from it brings back each
step's newest checkpoint."""

from __future__ import annotations

from pathlib import Path

from mirrorneuron_nb.store import Store
from mirrorneuron_nb.store.manifest import LOG_NAME, read_log
from mirrorneuron_nb.store.rebuild import rebuild_database

from .helpers import new_run, succeed


def test_reset_and_gc_are_reflected_and_a_rebuild_restores_the_newest(tmp_path: Path) -> None:
    store = Store(tmp_path / "nb.mn")
    run = new_run(store)
    succeed(store, run.id, "a", "k1", "x")
    succeed(store, run.id, "a", "k2", "x", "y")  # a's newest
    succeed(store, run.id, "b", "k1", "z")
    succeed(store, run.id, "c", "k1", "w")
    store.reset(["c"])
    log = read_log(store.root)
    assert [(m.step["name"], m.checkpoint["cache_key"]) for m in log.manifests] == [
        ("a", "k1"),
        ("a", "k2"),
        ("b", "k1"),
    ]
    assert log.unreadable == []

    # gc drops a's older checkpoint (no run is kept): the log is rewritten without it.
    store.gc(keep_runs=0)
    lines = (store.root / LOG_NAME).read_text().splitlines()
    assert len(lines) == 2, lines
    store.close()

    # A torn last line (a process killed mid-append) is named, not fatal.
    with open(tmp_path / "nb.mn" / LOG_NAME, "a") as fh:
        fh.write('{"version": 1, "step": {"na')
    log = read_log(tmp_path / "nb.mn")
    assert [u[0] for u in log.unreadable] == ["line 3"]

    db = tmp_path / "nb.mn" / "state.sqlite"
    rebuilt = rebuild_database(db, log.manifests, {"sidecar_id": "abc"})
    assert sorted(rebuilt.steps) == ["a", "b"] and rebuilt.checkpoints == 2
    assert {p.name.split(".damaged-")[0] for p in rebuilt.moved_aside} >= {"state.sqlite"}
    again = Store(tmp_path / "nb.mn")
    try:
        steps = {s.name: s for s in again.steps()}
        assert set(steps) == {"a", "b"}
        assert [v.name for v in again.variables(steps["a"].checkpoint_id or 0)] == ["x", "y"]
        assert again.sidecar_id() == "abc"
    finally:
        again.close()
