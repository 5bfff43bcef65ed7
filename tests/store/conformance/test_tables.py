"""The store interface, table by table: the same assertions on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from mirrorneuron_nb.errors import NotAwaitingApproval, UnknownStep
from mirrorneuron_nb.models import (
    ApprovalStatus,
    Attempt,
    CallRecord,
    CallStatus,
    Claimant,
    LeaseDenied,
    NewCheckpoint,
    Resigned,
    StepStart,
    StepStatus,
    VarEntry,
)
from mirrorneuron_nb.store import Store

from ..helpers import new_run
from .conftest import Opener


def start(name: str = "a", key: str = "k1", position: int | None = 0) -> StepStart:
    return StepStart(
        name, "cell-" + name, f"x = {name!r}", "h-" + name, key, {"retry": 1}, position
    )


def var(name: str, blob: str | None = None) -> VarEntry:
    return VarEntry(
        name=name,
        type_name="int",
        fingerprint="fp-" + name,
        serializer="pickle",
        size=3,
        header=b"\x00\x01head",
        stream_blob=blob,
        buffers=[("b" * 64, 7)] if blob else [],
        signature="sig-" + name,
        stream_hash="sh-" + name,
    )


def commit(st: Store, attempt: Attempt, key: str = "k1", names: tuple[str, ...] = ("x",)) -> int:
    new = NewCheckpoint(
        key,
        "h-" + attempt.step,
        1.5,
        {"y": "fp-y"},
        [{"output_type": "stream"}],
        [var(n, "a" * 64) for n in names],
        [("a" * 64, 3), ("b" * 64, 7)],
        "ck-sig",
    )
    return st.commit_checkpoint(attempt, new)


def test_runs_steps_attempts(st: Store) -> None:
    first = st.begin_attempt("run1", start())
    assert (first.number, first.status) == (1, "running")
    st.fail_attempt(first, "ValueError: no", "tb")
    st.mark_retrying(first, 0.1, 3)
    second = st.begin_attempt("run1", start())
    assert second.number == 2 and second.id > first.id
    step = st.step("a")
    assert step is not None
    assert (step.status, step.attempts, step.options, step.cell_id) == (
        StepStatus.running,
        2,
        {"retry": 1},
        "cell-a",
    )
    assert [a.status for a in st.attempts("a")] == ["failed", "running"]
    st.begin_attempt("run1", start("b", position=None))
    assert [s.name for s in st.steps()] == ["a", "b"]
    assert st.steps()[1].position == 1
    st.end_run("run1", "done")
    (run,) = st.runs()
    assert (run.status, run.parameters) == ("done", {})
    assert st.step("nope") is None


def test_checkpoints_and_variables(st: Store) -> None:
    attempt = st.begin_attempt("run1", start())
    cid = commit(st, attempt, names=("x", "__state__", "z"))
    found = st.find_checkpoint("a", "k1")
    assert found is not None and found.id == cid
    assert (found.inputs, found.outputs, found.signature) == (
        {"y": "fp-y"},
        [{"output_type": "stream"}],
        "ck-sig",
    )
    assert st.find_checkpoint("a", "other") is None
    names = [v.name for v in st.variables(cid)]
    assert "x" in names and "z" in names
    x = next(v for v in st.variables(cid) if v.name == "x")
    assert x.header == b"\x00\x01head" and x.buffers == [("b" * 64, 7)]
    step = st.step("a")
    assert step is not None and step.status is StepStatus.succeeded and step.checkpoint_id == cid
    assert set(st.current_variables()) == {"a"}
    assert st.sidecar_id() and st.sidecar_id() == st.sidecar_id()
    # A cache hit elsewhere records the step `cached` with the same checkpoint.
    checkpoint = st.checkpoint(cid)
    assert checkpoint is not None
    st.record_cache_hit("run1", start(), checkpoint, ["x"])
    cached = st.step("a")
    assert cached is not None and cached.status is StepStatus.cached


def test_approvals(st: Store) -> None:
    asked = st.request_approval("run1", start(), "ship it?")
    again = st.request_approval("run1", start(), "ship it?")
    assert asked.id == again.id and asked.status == ApprovalStatus.pending.value
    decided = st.decide("a", True, "ann", " ok ")
    assert (decided.status, decided.decided_by, decided.note) == ("approved", "ann", "ok")
    with pytest.raises(NotAwaitingApproval, match="already approved by ann"):
        st.decide("a", False, "bob", None)
    with pytest.raises(UnknownStep):
        st.decide("ghost", True, "ann", None)
    commit(st, st.begin_attempt("run1", start()))
    assert st.approval("a") is None  # used up by the success


def test_journal(st: Store) -> None:
    attempt = st.begin_attempt("run1", start())
    result = VarEntry(name="f", type_name="int", serializer="pickle", size=2, header=b"\x01")
    for n, status in enumerate([CallStatus.succeeded, CallStatus.failed]):
        st.record_call(
            CallRecord(
                "a",
                "f",
                "key",
                n,
                status,
                "run1",
                attempt.id,
                1.0,
                0.1,
                result,
                None if n == 0 else "boom",
                [("c" * 64, 2)],
            )
        )
    found = st.find_call("a", "key", 0)
    assert found is not None and found.header == b"\x01"
    assert st.find_call("a", "key", 1) is None
    counts = st.open_call_counts("a")
    assert (counts.succeeded, counts.failed) == (1, 1)
    cid = commit(st, attempt)
    assert st.open_call_counts("a").succeeded == 0
    assert st.execution_call_counts("a", cid).succeeded == 1
    assert st.find_call("a", "key", 0) is None  # closed: never replayed again


def test_events_reset_gc(st: Store, opener: Opener) -> None:
    reader = opener()  # data_version tells a reader that another connection committed
    version = reader.data_version()
    cid = commit(st, st.begin_attempt("run1", start()))
    kinds = [e.kind for e in st.events("a")]
    assert kinds == ["claimed", "running", "succeeded"] or kinds == ["running", "succeeded"]
    ids = [e.id for e in st.events()]
    assert ids == sorted(ids) and len(st.events(after=ids[-2])) == 1
    st.record_inputs_missing("run1", "a", [])
    assert set(st.latest_events("inputs_missing")) == {"a"}
    assert st.reset(["a"]) == ["a"]
    assert st.checkpoint(cid) is None
    with pytest.raises(UnknownStep):
        st.reset(["ghost"])
    plan = st.gc()
    assert plan.referenced == frozenset()
    assert reader.data_version() != version
    exported = st.export()
    assert [r["name"] for r in exported["steps"]] == ["a"]
    assert exported["runs"][0]["parameters"] == {}


def test_signed_rows_resign(st: Store) -> None:
    attempt = st.begin_attempt("run1", start())
    cid = commit(st, attempt)
    st.record_call(
        CallRecord(
            "a", "f", "key", 0, CallStatus.succeeded, "run1", None, 1.0, 0.1, var("r"), None, []
        )
    )
    values = st.signed_values(skip="none")
    assert {v.table for v in values} == {"checkpoint_vars", "durable_calls"}
    st.resign(
        [Resigned(v.table, v.rowid, "new-" + v.table, "hash") for v in values],
        [(cid, "new-ck")],
        {"by": "test"},
    )
    again = {v.table: v.entry.signature for v in st.signed_values(skip="none")}
    assert again == {"checkpoint_vars": "new-checkpoint_vars", "durable_calls": "new-durable_calls"}
    ((checkpoint, rows),) = st.all_checkpoints()
    assert checkpoint.signature == "new-ck" and rows[0].name == "x"


def test_interrupted_by_dead_run(opener: Opener) -> None:
    st = opener()
    dead = subprocess_pid()
    new_run(st, "gone", pid=dead)
    st.begin_attempt("gone", start())
    other = opener(recover=True)  # a kernel opening the store finds the dead run's step
    step = other.step("a")
    assert step is not None and step.status is StepStatus.interrupted
    assert other.runs()[0].status == "died"


def subprocess_pid() -> int:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_leases(opener: Opener) -> None:
    one, two = opener(), opener()
    new_run(one, "r1")
    new_run(two, "r2")
    me = Claimant("r1", "kernel", socket.gethostname(), os.getpid())
    other = Claimant("r2", "batch", socket.gethostname(), os.getpid())
    got = one.claim_attempt("r1", start(), me)
    assert isinstance(got, Attempt)
    denied = two.claim_attempt("r2", start(), other)
    assert isinstance(denied, LeaseDenied) and denied.owner is not None
    assert denied.owner.run_id == "r1"
    # Another cache key of the same step is not excluded (a sweep).
    assert isinstance(two.claim_attempt("r2", start(key="k2"), other), Attempt)
    assert two.lease_holder("a", "k1", "r2") is not None
    two.start_waiting(other, "a", denied.owner)
    two.start_waiting(other, "a", denied.owner)  # again: one row
    assert [w.run_id for w in one.lease_waiters()["a"]] == ["r2"]
    assert one.heartbeat("r1") == 1
    commit(one, got)  # releases
    assert two.lease_holder("a", "k1", "r2") is None
    two.stop_waiting("r2", "a", "served")
    assert two.lease_waiters() == {}


def test_nothing_beside_the_notebook(backend: str, opener: Opener, tmp_path: Path) -> None:
    st = opener()
    new_run(st)
    commit(st, st.begin_attempt("run1", start()))
    beside = sorted(p.name for p in (tmp_path / "project").iterdir())
    assert beside == ([] if backend == "postgresql" else ["nb.mn"])
    assert st.supports("doctor") is (backend == "sqlite")


def test_history_resume_checkpointing_and_corrupt_values(st: Store) -> None:
    """What this session's features store (timeline, resume event, write-behind, lazy
    resume's corrupt-blob event) reads and writes the same on both backends."""
    attempt = st.begin_attempt("run1", start())
    st.mark_checkpointing(attempt, ["x"])
    step = st.step("a")
    assert step is not None and step.status is StepStatus.checkpointing
    cid = commit(st, attempt)
    st.record_resume("run1", {"a": cid}, 1, [])
    st.record_value_corrupt("run1", "a", "x", "c" * 32, "does not match its hash")
    history = st.run_history(3)
    assert [r.id for r in history.runs] == ["run1"]
    assert [a.status for a in history.attempts] == ["succeeded"]
    kinds = [e.kind for e in history.events]
    assert "resumed" in kinds, kinds
    assert history.durations == {cid: 1.5}
    corrupt = [e for e in st.events() if e.kind == "value_corrupt"]
    assert corrupt and corrupt[0].detail["name"] == "x"
