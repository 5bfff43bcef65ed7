"""A step's look before it runs, answered from what the writer read while nothing has
committed since (store/look_cache.py, store/wal_index.py): never a different answer from
the database's, whoever committed what, and no statement when it can answer."""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

from mirrorneuron_nb.models import Attempt, Run, StepLook, StepStart
from mirrorneuron_nb.store import Store
from mirrorneuron_nb.store.wal_index import wal_index

from .conformance.test_step_statements import claimant, counting
from .helpers import ckpt

NOTHING = StepLook(None, None, None)


def opened(root: Path, *runs: str) -> Store:
    """A store that keeps looks, as a kernel's do."""
    store = Store(root)
    store.keep_looks()
    for run_id in runs:
        store.start_run(Run(id=run_id, kind="kernel", status="running", started_at=time.time()))
    return store


def start(name: str, key: str, position: int | None = None) -> StepStart:
    return StepStart(name, None, "x = 1", "h", key, {}, position)


def claim(store: Store, run_id: str, name: str, key: str) -> Attempt:
    began = store.claim_attempt(run_id, start(name, key, 1), claimant(run_id))
    assert isinstance(began, Attempt), began
    return began


def test_the_header_moves_with_every_commit_and_only_then(tmp_path: Path) -> None:
    own = opened(tmp_path / "nb.mn", "run1")
    other = Store(tmp_path / "nb.mn")
    try:
        index = wal_index(own.db_path)
        assert index is not None
        before = index.header()
        assert before is not None and len(before) == 48
        own.steps()
        other.look_to_run("s", "k", "run1")
        assert index.header() == before  # reads leave it
        other.start_run(Run(id="run2", kind="kernel", status="running", started_at=1.0))
        moved = index.header()
        assert moved is not None and moved != before  # another connection's commit
        script = f"""
            import sqlite3
            c = sqlite3.connect({str(own.db_path)!r}, isolation_level=None)
            c.execute("INSERT INTO meta(key, value) VALUES ('probe', '1')")
        """
        subprocess.run([sys.executable, "-c", textwrap.dedent(script)], check=True)
        assert index.header() not in (moved, None)  # another process's
    finally:
        other.close()
        own.close()


def read_after_one_checkpoint(root: Path) -> Store:
    """A store whose cache has read a sidecar holding one checkpoint: step `done`, `k1`."""
    store = opened(root, "run1")
    store.commit_checkpoint(claim(store, "run1", "done", "k1"), ckpt("k1"))
    store.refresh_looks()
    return store


def test_a_look_sends_no_statement_while_nothing_committed(tmp_path: Path) -> None:
    store = read_after_one_checkpoint(tmp_path / "nb.mn")
    try:
        seen = counting(store)
        assert store.look_to_run("fresh", "k9", "run1", position=4) == NOTHING
        assert store.look_to_run("done", "k2", "run1") == NOTHING  # another key of it
        assert seen == []
        found = store.look_to_run("done", "k1", "run1")  # its key: read, and served
        assert found.checkpoint is not None and len(seen) > 0
        claim(store, "run1", "later", "k3")  # a commit: the next look asks again
        before = len(seen)
        assert store.look_to_run("fresh", "k9", "run1") == NOTHING
        assert len(seen) > before
    finally:
        store.close()


def test_a_forgotten_look_asks_the_database_until_read_again(tmp_path: Path) -> None:
    """What the runner does when a claim finds what its look did not."""
    store = read_after_one_checkpoint(tmp_path / "nb.mn")
    try:
        assert store._looks is not None and store._looks.facts is not None
        keys = store._looks.facts.keys
        store.forget_looks()
        seen = counting(store)
        assert store.look_to_run("fresh", "k9", "run1") == NOTHING
        assert len(seen) == 1
        store.refresh_looks()  # nothing committed since: read on from what is known
        assert store._looks.facts.keys is keys
        assert store.look_to_run("fresh", "k9", "run1") == NOTHING
        assert [q for q in seen if "LEFT JOIN leases" in q] == seen[:1]  # no second look
    finally:
        store.close()


def _universe() -> list[tuple[str, str, int | None]]:
    return [(s, k, p) for s in ("a", "b", "c") for k in ("k1", "k2") for p in (None, 1, 3)]


def test_looks_agree_with_the_database_through_random_changes(tmp_path: Path) -> None:
    """Two stores on one sidecar (as two kernels), in random turns: checkpoints, leases
    taken and given back, rejections, resets, gc. After every change, and after every
    refresh, each look through the store with the cache equals a read-only store's (which
    has none)."""
    root = tmp_path / "nb.mn"
    own, other = opened(root, "run1", "run2"), opened(root)
    truth = Store(root, readonly=True)
    rng = random.Random(20261202)
    held: dict[tuple[Store, str], Attempt] = {}
    answered = 0
    try:
        assert own._looks is not None
        for _ in range(400):
            store, run_id = rng.choice([(own, "run1"), (other, "run2")])
            name, key = rng.choice("abc"), rng.choice(["k1", "k2"])
            op = rng.choice(["claim", "commit", "release", "reject", "reset", "gc", "refresh"])
            attempt = held.get((store, name))
            if op == "claim" and attempt is None:
                began = store.claim_attempt(run_id, start(name, key, 2), claimant(run_id))
                if isinstance(began, Attempt):
                    held[(store, name)] = began
            elif op == "commit" and attempt is not None:
                store.commit_checkpoint(held.pop((store, name)), ckpt(attempt.cache_key))
            elif op == "release" and attempt is not None:
                del held[(store, name)]
                store.release(name, run_id, "failed")
            elif op == "reject":
                gate = start(f"gate-{name}", key, rng.choice([0, 2, 5]))
                store.mark_rejected(run_id, gate, store.request_approval(run_id, gate, "ok?"))
            elif op == "reset" and store.step(name) is not None and attempt is None:
                store.reset([name], run_id)
            elif op == "gc":
                store.gc(keep_runs=rng.choice([0, 1]))
            if op == "refresh" or rng.random() < 0.5:
                own.refresh_looks()
            for step, k, position in _universe():
                fast = own._looks.answer(step, k, position)
                answered += fast is not None
                expected = truth.look_to_run(step, k, "run1", position)
                assert own.look_to_run(step, k, "run1", position) == expected, (op, step, k)
                if fast is not None:
                    assert expected == fast, (op, step, k, position)
        assert answered > 500  # the cache did answer (and agreed)
    finally:
        truth.close()
        other.close()
        own.close()


class CommitsMidway:
    """A connection whose first statement is followed by another store's commit: the
    refresh's snapshot is then older than the header after it."""

    def __init__(self, conn: Any, commit: Any) -> None:
        self.conn, self.commit, self.done = conn, commit, False

    def execute(self, sql: str, *args: Any) -> Any:
        cursor = self.conn.execute(sql, *args)
        if sql.startswith("SELECT") and not self.done:
            self.done = True
            rows = cursor.fetchall()  # the snapshot is taken
            self.commit()
            return _Rows(rows)
        return cursor


class _Rows:
    def __init__(self, rows: list[Any]) -> None:
        self.rows = rows

    def fetchone(self) -> Any:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[Any]:
        return self.rows


def test_a_commit_during_a_refresh_is_not_taken_as_read(tmp_path: Path) -> None:
    root = tmp_path / "nb.mn"
    own, other = opened(root, "run1"), opened(root, "run2")
    try:
        own.refresh_looks()
        assert own._looks is not None and own._looks.facts is not None
        other.start_run(Run(id="run3", kind="kernel", status="running", started_at=1.0))

        def commit() -> None:
            other.commit_checkpoint(claim(other, "run2", "s", "k1"), ckpt("k1"))

        own._looks.refresh(CommitsMidway(own.conn, commit))
        assert own.look_to_run("s", "k1", "run1").checkpoint is not None
        own.refresh_looks()  # read again, whole: now it knows
        assert own._looks.answer("s", "k1", None) is None
        assert own._looks.answer("s", "k2", None) == NOTHING
    finally:
        other.close()
        own.close()


WRITER = """
import sys, time
from mirrorneuron_nb.models import Run, StepStart
from mirrorneuron_nb.store import Store
from tests.store.helpers import ckpt
store = Store(sys.argv[1])
store.start_run(Run(id="w", kind="kernel", status="running", started_at=time.time()))
for i in range(int(sys.argv[2])):
    attempt = store.begin_attempt("w", StepStart("s", None, "x", "h", f"k{i}", {}))
    store.commit_checkpoint(attempt, ckpt(f"k{i}"))
    time.sleep(0.0005 * (i % 7))
store.close()
"""


def test_a_checkpoint_committed_before_a_look_is_never_missed(tmp_path: Path) -> None:
    """Another process commits checkpoints of step `s` (keys k0, k1, ...) while this one
    refreshes the cache in a thread, as the writer does, and looks: every key the database
    held before a look began is found by it."""
    root = tmp_path / "nb.mn"
    own = opened(root, "run1")
    truth = Store(root, readonly=True)
    total = 300
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(root), str(total)],
        cwd=Path(__file__).resolve().parents[2],
    )
    # As in a kernel: the writer thread refreshes through its own store (connection),
    # which shares the cache of the same database.
    behind = Store(root)
    behind.keep_looks()
    stop = threading.Event()
    refresher = threading.Thread(target=_refresh_until, args=(behind, stop))
    refresher.start()
    looks = cached = 0
    try:
        deadline = time.monotonic() + 120
        while writer.poll() is None and time.monotonic() < deadline:
            committed = truth.conn.execute("SELECT COUNT(*) FROM checkpoints").fetchone()[0]
            if committed == 0:
                continue
            key = f"k{committed - 1}"  # the newest one the database had
            assert own.look_to_run("s", key, "run1").checkpoint is not None, key
            cached += own._looks is not None and own._looks.answer("s", "new", None) is not None
            looks += 1
        assert writer.wait(timeout=60) == 0
    finally:
        stop.set()
        refresher.join()
        behind.close()
        truth.close()
        own.close()
    assert looks > 50 and cached > 0, (looks, cached)


def _refresh_until(store: Any, stop: threading.Event) -> None:
    while not stop.is_set():
        store.refresh_looks()
