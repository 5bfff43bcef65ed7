"""The durable-call journal in the sidecar: records, lookups, lifetime, counts."""

from __future__ import annotations

import time

from mirrorneuron_nb.models import (
    Attempt,
    CallCounts,
    CallRecord,
    CallStatus,
    NewCheckpoint,
    StepStart,
    VarEntry,
)
from mirrorneuron_nb.status import status_table, step_views
from mirrorneuron_nb.store import Store

SUCCEEDED, FAILED, UNSAVED = CallStatus.succeeded, CallStatus.failed, CallStatus.unsaved


def attempt(store: Store, step: str = "s") -> Attempt:
    start = StepStart(name=step, cell_id=None, code="x", code_hash="h", cache_key="k", options={})
    return store.begin_attempt("run1", start)


def commit(store: Store, a: Attempt) -> int:
    return store.commit_checkpoint(
        a,
        NewCheckpoint(
            cache_key="k",
            code_hash="h",
            duration=0.1,
            inputs={},
            outputs=[],
            variables=[],
            new_blobs=[],
        ),
    )


def result(payload: bytes = b"abc") -> VarEntry:
    return VarEntry(
        name="mod.f",
        type_name="int",
        serializer="pickle",
        size=len(payload),
        header=payload,
        signature="sig",
    )


def call(
    a: Attempt,
    key: str = "k1",
    occurrence: int = 0,
    status: CallStatus = SUCCEEDED,
    payload: bytes = b"r",
) -> CallRecord:
    return CallRecord(
        step=a.step,
        function="mod.f",
        call_key=key,
        occurrence=occurrence,
        status=status,
        run_id=a.run_id,
        attempt_id=a.id,
        started_at=time.time(),
        duration=0.01,
        result=result(payload) if status == SUCCEEDED else None,
        error="ValueError: no" if status != SUCCEEDED else None,
    )


def test_a_recorded_result_is_found_by_step_key_and_occurrence(store: Store) -> None:
    a = attempt(store)
    store.record_call(call(a, "k1", 0, payload=b"first"))
    store.record_call(call(a, "k1", 1, payload=b"second"))
    found = store.find_call("s", "k1", 1)
    assert found is not None
    assert (found.header, found.serializer, found.signature, found.name) == (
        b"second",
        "pickle",
        "sig",
        "mod.f",
    )
    assert store.find_call("s", "k1", 2) is None
    assert store.find_call("other", "k1", 0) is None
    assert store.find_call("s", "k2", 0) is None


def test_failed_and_unsaved_calls_are_recorded_but_never_found(store: Store) -> None:
    a = attempt(store)
    store.record_call(call(a, "k1", 0, status=FAILED))
    store.record_call(call(a, "k2", 0, status=UNSAVED))
    assert store.find_call("s", "k1", 0) is None
    assert store.find_call("s", "k2", 0) is None
    assert store.open_call_counts("s") == CallCounts(succeeded=0, failed=1, unsaved=1)
    row = store.conn.execute("SELECT error FROM durable_calls WHERE call_key='k1'").fetchone()
    assert row[0] == "ValueError: no"


def test_recording_the_same_call_again_replaces_the_unusable_record(store: Store) -> None:
    a = attempt(store)
    store.record_call(call(a, "k1", 0, payload=b"old"))
    store.record_call(call(a, "k1", 0, payload=b"new"))  # would violate the unique index
    found = store.find_call("s", "k1", 0)
    assert found is not None and found.header == b"new"
    assert store.open_call_counts("s").succeeded == 1


def test_commit_closes_the_journal_in_the_same_transaction(store: Store) -> None:
    a = attempt(store)
    store.record_call(call(a, "k1", 0))
    store.record_call(call(a, "k2", 0, status=FAILED))
    other = attempt(store, "other")
    store.record_call(call(other, "k1", 0))
    checkpoint = commit(store, a)
    assert store.find_call("s", "k1", 0) is None  # never replayed again
    assert store.open_call_counts("s") == CallCounts()
    # Kept for the record, and counted as the execution that made the checkpoint.
    assert store.execution_call_counts("s", checkpoint) == CallCounts(succeeded=1, failed=1)
    assert store.find_call("other", "k1", 0) is not None  # other steps keep theirs


def test_execution_counts_cover_every_attempt_since_the_previous_success(store: Store) -> None:
    first = attempt(store)
    store.record_call(call(first, "k0", 0))
    commit(store, first)
    failing = attempt(store)
    store.record_call(call(failing, "k1", 0))
    store.record_call(call(failing, "k2", 0, status=FAILED))
    store.fail_attempt(failing, "boom", "")
    assert store.execution_call_counts("s", None) == CallCounts(succeeded=1, failed=1)
    retry = attempt(store)
    store.record_call(call(retry, "k2", 0))
    second = commit(store, retry)
    assert store.execution_call_counts("s", second) == CallCounts(succeeded=2, failed=1)


def test_reset_forgets_the_open_journal(store: Store) -> None:
    a = attempt(store)
    store.record_call(call(a, "k1", 0))
    store.fail_attempt(a, "boom", "")
    store.reset(["s"])
    assert store.find_call("s", "k1", 0) is None
    assert store.conn.execute("SELECT COUNT(*) FROM durable_calls").fetchone()[0] == 0


def test_status_shows_the_counts(store: Store) -> None:
    a = attempt(store)
    for i in range(3):
        store.record_call(call(a, f"k{i}", 0))
    store.record_call(call(a, "k9", 0, status=FAILED))
    store.fail_attempt(a, "RuntimeError: boom", "")
    view = next(v for v in step_views(store) if v.name == "s")
    assert (view.durable_recorded, view.durable_failed, view.durable_unsaved) == (3, 1, 0)
    table = status_table([view])
    assert "RuntimeError: boom; durable calls: 3 recorded, 1 failed" in table, table

    retry = attempt(store)
    store.record_call(call(retry, "k9", 0))
    commit(store, retry)
    view = next(v for v in step_views(store) if v.name == "s")
    assert (view.durable_recorded, view.durable_failed) == (4, 1)
    assert "durable calls: 4 recorded, 1 failed" in status_table([view])

    plain = attempt(store, "plain")
    commit(store, plain)
    view = next(v for v in step_views(store) if v.name == "plain")
    assert "durable" not in status_table([view])


def test_a_sidecar_without_the_journal_table_still_shows_status(store: Store) -> None:
    commit(store, attempt(store))
    store.conn.execute("DROP TABLE durable_calls")  # as in a sidecar of schema version 1
    assert [v.durable_recorded for v in step_views(store)] == [0]
