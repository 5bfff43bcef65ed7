"""The SQLite sidecar (schema, transitions, events, reset, interrupted runs, concurrency)
and the content-addressed blob store."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from mirrorneuron_nb.errors import CheckpointUnavailable, SchemaTooNew, SidecarError, UnknownStep
from mirrorneuron_nb.models import Attempt, StepStatus
from mirrorneuron_nb.store import Store
from mirrorneuron_nb.store.blobs import BlobStore
from mirrorneuron_nb.store.schema import SCHEMA_VERSION
from mirrorneuron_nb.store.sqlite import DB_NAME
from mirrorneuron_nb.values.digest import digest

from .helpers import ckpt, new_run, start, succeed

# -- helpers -----------------------------------------------------------------------------------


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "nb.mn"


@pytest.fixture
def store(root: Path) -> Store:
    s = Store(root)
    yield s
    s.close()


def kinds(store: Store, step: str) -> list[str]:
    return [e.kind for e in store.events(step)]


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def count(store: Store, table: str) -> int:
    return int(store.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


# -- schema and opening ------------------------------------------------------------------------


def test_fresh_sidecar_is_migrated_and_in_wal_mode(store: Store, root: Path) -> None:
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    tables = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"runs", "steps", "attempts", "checkpoints", "checkpoint_vars", "events"} <= tables
    # An independent connection sees the same, persisted state.
    raw = sqlite3.connect(root / DB_NAME)
    try:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        raw.close()


def test_reopening_keeps_data(root: Path) -> None:
    first = Store(root)
    new_run(first)
    succeed(first, "run1", "a", "key1", "x")
    first.close()
    again = Store(root)
    try:
        assert again.step("a") is not None and again.step("a").status is StepStatus.succeeded
        assert again.find_checkpoint("a", "key1") is not None
    finally:
        again.close()


def _too_new_sidecar(root: Path, version: int) -> Path:
    root.mkdir(parents=True)
    db = root / DB_NAME
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE future(x)")
    conn.execute(f"PRAGMA user_version={version}")
    conn.commit()
    conn.close()
    return db


@pytest.mark.parametrize("readonly", [False, True], ids=["kernel", "readonly"])
def test_newer_schema_is_refused_and_the_file_is_untouched(root: Path, readonly: bool) -> None:
    db = _too_new_sidecar(root, SCHEMA_VERSION + 5)
    before = db.read_bytes()
    files_before = sorted(p.name for p in root.iterdir())
    with pytest.raises(SchemaTooNew) as info:
        Store(root, readonly=readonly)
    message = str(info.value)
    assert f"schema version {SCHEMA_VERSION + 5}" in message
    assert f"supports up to {SCHEMA_VERSION}" in message
    assert info.value.found == SCHEMA_VERSION + 5 and info.value.supported == SCHEMA_VERSION
    # Regression: opening switched the file to WAL (rewriting its header) before the check.
    assert db.read_bytes() == before
    assert sorted(p.name for p in root.iterdir()) == files_before


def test_non_sqlite_file_is_a_sidecar_error(root: Path) -> None:
    root.mkdir(parents=True)
    db = root / DB_NAME
    junk = b"this is not a database\n" * 200
    db.write_bytes(junk)
    with pytest.raises(SidecarError):
        Store(root)
    with pytest.raises(SidecarError):
        Store(root, readonly=True)
    assert db.read_bytes() == junk


def test_readonly_store_on_missing_sidecar(tmp_path: Path) -> None:
    missing = tmp_path / "nothing.mn"
    with pytest.raises(SidecarError, match="no sidecar"):
        Store(missing, readonly=True)
    assert not missing.exists()


def test_readonly_store_reads_what_the_kernel_wrote(store: Store, root: Path) -> None:
    new_run(store)
    succeed(store, "run1", "a", "key1", "x")
    reader = Store(root, readonly=True)
    try:
        assert [s.name for s in reader.steps()] == ["a"]
        assert [v.name for v in reader.current_variables()["a"]] == ["x"]
    finally:
        reader.close()


# -- transitions and events --------------------------------------------------------------------


def test_attempt_lifecycle_and_events(store: Store) -> None:
    new_run(store, "run1")
    first = store.begin_attempt("run1", start("a"))
    assert first.number == 1
    step = store.step("a")
    assert step is not None and step.status is StepStatus.running and step.attempts == 1
    assert step.cell_id == "cell-a" and step.code == "x = 1"

    store.fail_attempt(first, "ValueError: boom", "Traceback ...")
    step = store.step("a")
    assert step.status is StepStatus.failed
    assert step.error == "ValueError: boom" and step.traceback == "Traceback ..."

    second = store.begin_attempt("run1", start("a"))
    assert second.number == 2
    step = store.step("a")
    assert step.status is StepStatus.running and step.attempts == 2 and step.error is None

    checkpoint_id = store.commit_checkpoint(second, ckpt("key1", "x", "y"))
    step = store.step("a")
    assert step.status is StepStatus.succeeded and step.checkpoint_id == checkpoint_id
    assert [a.status for a in store.attempts("a")] == ["failed", "succeeded"]
    assert [a.number for a in store.attempts("a")] == [1, 2]

    events = store.events("a")
    assert [e.kind for e in events] == ["running", "failed", "running", "succeeded"]
    assert events[1].detail["error"] == "ValueError: boom"
    assert events[3].detail["variables"] == ["x", "y"]
    assert events[3].detail["checkpoint"] == checkpoint_id
    assert all(e.run_id == "run1" for e in events)


def test_cached_and_reset_events(store: Store) -> None:
    new_run(store, "run1")
    succeed(store, "run1", "a", "key1", "x")
    new_run(store, "run2")
    found = store.find_checkpoint("a", "key1")
    assert found is not None
    store.record_cache_hit("run2", start("a"), found, ["x"])
    step = store.step("a")
    assert step.status is StepStatus.cached and step.run_id == "run2" and step.attempts == 0
    assert store.events("a")[-1].detail == {"checkpoint": found.id, "restored": ["x"]}

    assert store.reset(["a"], run_id="run2") == ["a"]
    assert store.step("a").status is StepStatus.pending
    assert kinds(store, "a") == ["running", "succeeded", "cached", "reset"]


def test_attempt_numbers_restart_in_a_new_run(store: Store) -> None:
    new_run(store, "run1")
    a1 = store.begin_attempt("run1", start("a"))
    store.fail_attempt(a1, "E", "")
    a2 = store.begin_attempt("run1", start("a"))
    store.fail_attempt(a2, "E", "")
    assert store.step("a").attempts == 2
    new_run(store, "run2")
    b1 = store.begin_attempt("run2", start("a"))
    assert b1.number == 1
    assert store.step("a").attempts == 1
    # Another step in the same run counts on its own.
    assert store.begin_attempt("run2", start("b")).number == 1
    assert [(a.run_id, a.number) for a in store.attempts("a")] == [
        ("run1", 1),
        ("run1", 2),
        ("run2", 1),
    ]


def test_steps_keep_first_seen_order(store: Store) -> None:
    new_run(store)
    for name in ["load", "clean", "fit"]:
        succeed(store, "run1", name)
    succeed(store, "run1", "load", "key2")  # re-running keeps its place
    assert [s.name for s in store.steps()] == ["load", "clean", "fit"]


def test_find_checkpoint_returns_the_newest_for_the_key(store: Store) -> None:
    new_run(store)
    old = succeed(store, "run1", "a", "key1", "x")
    other = succeed(store, "run1", "a", "key2", "x")
    newest = succeed(store, "run1", "a", "key1", "x")  # e.g. --force with the same inputs
    assert len({old, other, newest}) == 3
    found = store.find_checkpoint("a", "key1")
    assert found is not None and found.id == newest
    assert found.outputs[0]["text"] == "hi\n"
    assert store.find_checkpoint("a", "key2").id == other
    assert store.find_checkpoint("a", "key3") is None
    assert store.find_checkpoint("b", "key1") is None


def test_reset_drops_checkpoints_and_their_variables(store: Store) -> None:
    new_run(store)
    succeed(store, "run1", "a", "key1", "x", "y")
    succeed(store, "run1", "a", "key2", "x")
    kept = succeed(store, "run1", "b", "key1", "z")
    assert count(store, "checkpoint_vars") == 4

    store.reset(["a"])
    assert store.find_checkpoint("a", "key1") is None and store.find_checkpoint("a", "key2") is None
    assert store.step("a").checkpoint_id is None and store.step("a").attempts == 0
    assert count(store, "checkpoint_vars") == 1  # ON DELETE CASCADE
    assert [v.name for v in store.variables(kept)] == ["z"]
    assert store.step("b").status is StepStatus.succeeded
    assert set(store.current_variables()) == {"b"}


def test_reset_all(store: Store) -> None:
    new_run(store)
    succeed(store, "run1", "a", "key1", "x")
    succeed(store, "run1", "b", "key1", "y")
    assert store.reset(None) == ["a", "b"]
    assert count(store, "checkpoints") == 0 and count(store, "checkpoint_vars") == 0
    assert {s.status for s in store.steps()} == {StepStatus.pending}


def test_reset_unknown_step_changes_nothing(store: Store) -> None:
    new_run(store)
    succeed(store, "run1", "a", "key1", "x")
    before_events = len(store.events())
    with pytest.raises(UnknownStep, match="nope"):
        store.reset(["a", "nope"])
    assert store.step("a").status is StepStatus.succeeded
    assert store.find_checkpoint("a", "key1") is not None
    assert count(store, "checkpoint_vars") == 1
    assert len(store.events()) == before_events


# -- interrupted runs --------------------------------------------------------------------------


def test_mark_interrupted_only_touches_dead_processes(store: Store) -> None:
    new_run(store, "dead-run", pid=dead_pid())
    new_run(store, "live-run", pid=os.getpid())
    new_run(store, "far-run", pid=dead_pid(), host="some-other-host")
    store.begin_attempt("dead-run", start("a"))
    store.begin_attempt("live-run", start("b"))
    store.begin_attempt("far-run", start("c"))
    succeed(store, "dead-run", "d")  # finished before the process died: untouched

    new_run(store, "now")
    assert store.mark_interrupted("now") == ["a"]

    a = store.step("a")
    assert a.status is StepStatus.interrupted and "stopped" in (a.error or "")
    assert store.attempts("a")[-1].status == "interrupted"
    assert store.step("b").status is StepStatus.running
    assert store.step("c").status is StepStatus.running  # another host cannot be probed
    assert store.step("d").status is StepStatus.succeeded
    runs = {r.id: r for r in store.runs()}
    assert runs["dead-run"].status == "died" and runs["dead-run"].ended_at is not None
    assert runs["live-run"].status == "running"
    event = store.events("a")[-1]
    assert event.kind == "interrupted" and event.run_id == "now"
    assert event.detail == {"previous_run": "dead-run"}
    # Idempotent: nothing is left running by a dead process.
    assert store.mark_interrupted("now") == []


# -- concurrency -------------------------------------------------------------------------------


def test_two_connections_write_concurrently_without_lock_errors(root: Path) -> None:
    Store(root).close()
    stores = [Store(root) for _ in range(2)]
    new_run(stores[0], "run0")
    new_run(stores[1], "run1")
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def writer(i: int) -> None:
        try:
            barrier.wait()
            for n in range(40):
                name = f"s{i}-{n}"
                attempt = stores[i].begin_attempt(f"run{i}", start(name, f"k{n}"))
                stores[i].commit_checkpoint(attempt, ckpt(f"k{n}", "x"))
        except BaseException as exc:
            errors.append(exc)

    def reader() -> None:
        try:
            reader_store = Store(root, readonly=True)
            barrier.wait()
            for _ in range(40):
                reader_store.steps()
                reader_store.events(limit=50)
            reader_store.close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(2)]
    threads.append(threading.Thread(target=reader))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    steps = stores[0].steps()
    assert len(steps) == 80 and {s.status for s in steps} == {StepStatus.succeeded}
    for s in stores:
        s.close()


def test_concurrent_first_open_migrates_once(root: Path) -> None:
    errors: list[BaseException] = []
    opened: list[Store] = []
    barrier = threading.Barrier(4)

    def open_it() -> None:
        try:
            barrier.wait()
            opened.append(Store(root))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert {s.conn.execute("PRAGMA user_version").fetchone()[0] for s in opened} == {SCHEMA_VERSION}
    new_run(opened[0])
    succeed(opened[0], "run1", "a")
    assert opened[-1].step("a") is not None
    for s in opened:
        s.close()


def test_attempt_model_round_trips_from_rows(store: Store) -> None:
    new_run(store)
    attempt = store.begin_attempt("run1", start("a"))
    assert isinstance(attempt, Attempt)
    assert store.attempts("a")[0].id == attempt.id


# -- blobs -------------------------------------------------------------------------------------


@pytest.fixture
def blobs(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs")


def put(blobs: BlobStore, data: bytes) -> str:
    key = digest(data)
    blobs.put(key, [data[: len(data) // 2], memoryview(data)[len(data) // 2 :]])
    return key


def test_put_is_idempotent_and_complete(blobs: BlobStore) -> None:
    data = os.urandom(300_000)
    key = digest(data)
    chunks = [data[:1000], memoryview(data)[1000:]]
    assert blobs.put(key, chunks) is True
    assert blobs.put(key, chunks) is False
    assert blobs.path(key).read_bytes() == data
    assert blobs.exists(key, len(data))
    assert not blobs.exists(key, len(data) + 1)
    leftovers = [p for p in blobs.root.rglob(".tmp-*")]
    assert leftovers == []
    assert blobs.read(key, len(data)) == data


def test_put_repairs_a_truncated_blob(blobs: BlobStore) -> None:
    data = os.urandom(10_000)
    key = put(blobs, data)
    blobs.path(key).write_bytes(data[:100])
    assert blobs.put(key, [data]) is True
    assert blobs.read(key, len(data)) == data


def test_map_is_copy_on_write(blobs: BlobStore) -> None:
    data = os.urandom(2 << 20)
    key = put(blobs, data)
    mapped = blobs.map(key, len(data))
    assert bytes(mapped[:100]) == data[:100]
    mapped[0:4] = b"\x00\x01\x02\x03"
    assert mapped[0:4] == b"\x00\x01\x02\x03"
    assert blobs.path(key).read_bytes() == data
    assert bytes(blobs.map(key, len(data))[:4]) == data[:4]


def test_map_of_empty_blob(blobs: BlobStore) -> None:
    key = put(blobs, b"")
    assert len(blobs.map(key, 0)) == 0
    assert blobs.read(key, 0) == b""


@pytest.mark.parametrize("method", ["read", "map"])
def test_missing_blob_is_unavailable(blobs: BlobStore, method: str) -> None:
    key = digest(b"never written")
    with pytest.raises(CheckpointUnavailable) as info:
        getattr(blobs, method)(key, 13)
    assert info.value.name == key and "missing" in info.value.reason


@pytest.mark.parametrize("method", ["read", "map"])
@pytest.mark.parametrize("keep", [0, 500], ids=["empty", "half"])
def test_truncated_blob_is_unavailable(blobs: BlobStore, method: str, keep: int) -> None:
    data = os.urandom(1000)
    key = put(blobs, data)
    blobs.path(key).write_bytes(data[:keep])
    with pytest.raises(CheckpointUnavailable) as info:
        getattr(blobs, method)(key, len(data))
    assert "truncated" in info.value.reason or "expected 1000" in info.value.reason


@pytest.mark.parametrize("method", ["read", "map"])
def test_corrupted_blob_is_unavailable(blobs: BlobStore, method: str) -> None:
    data = os.urandom(4096)
    key = put(blobs, data)
    flipped = bytearray(data)
    flipped[1234] ^= 0x01
    blobs.path(key).write_bytes(bytes(flipped))
    # verify=False skips only the hash check.
    assert bytes(getattr(blobs, method)(key, len(data), verify=False)) == bytes(flipped)
    with pytest.raises(CheckpointUnavailable) as info:
        getattr(blobs, method)(key, len(data))
    assert "corrupted" in info.value.reason and key in info.value.reason
    # Read for a row nobody verified: nothing is moved.
    assert blobs.path(key).read_bytes() == bytes(flipped)
    with pytest.raises(CheckpointUnavailable):
        getattr(blobs, method)(key, len(data), quarantine=True)
    # Read for a verified row, the damaged file is moved aside, so writing the same
    # content again replaces it instead of reusing it (put() keeps any file of that size).
    assert not blobs.path(key).exists()
    assert blobs.path(key).with_name(f".corrupt-{key[2:]}").read_bytes() == bytes(flipped)
    assert put(blobs, data) == key and blobs.read(key, len(data)) == data
