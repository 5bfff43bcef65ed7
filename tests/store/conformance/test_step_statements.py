"""A trivial step's store work (issues 13 and 15): how many statements it sends, counted
on the connection on both backends (never timed), and that the folded statements still
record what the separate ones did: attempt numbers, positions, events in order."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import Any

import pytest

from mirrorneuron_nb.models import (
    Attempt,
    Claimant,
    LeaseDenied,
    NewCheckpoint,
    StepLook,
    StepStart,
    StepStatus,
)
from mirrorneuron_nb.store import Store

from ..helpers import new_run
from .conftest import Opener
from .test_tables import commit, var

STATEMENTS = 14
"""Statements of one claimed attempt plus its commit, BEGIN/COMMIT not counted (the SQLite
sidecar adds one: the manifest log's read of the variable rows). Before: 25 and more."""


def claimant(run_id: str = "run1", serve_newer_than: int | None = 0) -> Claimant:
    return Claimant(run_id, "kernel", socket.gethostname(), os.getpid(), False, serve_newer_than)


def begin(st: Store, name: str, position: int | None = None, newer_than: int | None = 0) -> Attempt:
    start = StepStart(name, None, "x = 1", "h-" + name, "k-" + name, {}, position)
    began = st.claim_attempt("run1", start, claimant("run1", newer_than))
    assert isinstance(began, Attempt)
    return began


def counting(st: Store) -> list[str]:
    """Every statement the store's connection runs from now on (not BEGIN/COMMIT)."""
    seen: list[str] = []
    conn: Any = st.conn

    def wrap(method: Callable[..., Any]) -> Callable[..., Any]:
        def counted(sql: str, *args: Any) -> Any:
            if sql.split()[0].upper() not in ("BEGIN", "COMMIT", "ROLLBACK"):
                seen.append(sql)
            return method(sql, *args)

        return counted

    conn.execute = wrap(conn.execute)
    conn.executemany = wrap(conn.executemany)
    return seen


def trivial(st: Store, attempt: Attempt) -> int:
    """`x = 1`: one variable inline in its row, no new blob."""
    new = NewCheckpoint("k-" + attempt.step, "h", 0.001, {}, [], [var("x")], [], "sig")
    return st.commit_checkpoint(attempt, new)


def test_a_trivial_step_sends_a_fixed_small_number_of_statements(st: Store) -> None:
    trivial(st, begin(st, "warm"))  # the first step creates the manifest log, etc.
    seen = counting(st)
    trivial(st, begin(st, "t1"))
    limit = STATEMENTS + (1 if st.keeps_manifest else 0)
    assert len(seen) <= limit, "\n".join(seen)


def test_folded_claim_numbers_attempts_and_places_new_steps_last(st: Store) -> None:
    first = begin(st, "a", position=3)
    st.fail_attempt(first, "boom", "")
    second = begin(st, "a", position=3)  # a retry in the same run counts up
    assert (first.number, second.number) == (1, 2)
    step = st.step("a")
    assert step is not None and step.attempts == 2 and step.status is StepStatus.running
    assert step.ended_at is None and step.traceback is None
    commit(st, second, key="k-a")
    fresh = begin(st, "b")  # no position known: after the last step
    # Its checkpoint serves it now: a claim that may be served is denied ...
    denied = st.claim_attempt("run1", StepStart("a", None, "x = 1", "h-a", "k-a", {}), claimant())
    assert isinstance(denied, LeaseDenied) and denied.owner is None
    kept = begin(st, "a", newer_than=None)  # ... a forced one starts again at 1
    b, a = st.step("b"), st.step("a")
    assert b is not None and b.position == 4
    assert a is not None and a.position == 3 and a.attempts == 1
    assert fresh.number == 1 and kept.number == 3  # numbers count the run's attempts
    kinds = [e.kind for e in st.events("b")]
    assert kinds == ["claimed", "running"]  # in the order they happened, one INSERT
    kinds = [e.kind for e in st.events("a")]
    assert kinds[-4:] == ["succeeded", "released", "claimed", "running"]


def test_a_copy_brings_its_sidecar_id_to_an_open_store(opener: Opener, tmp_path: Any) -> None:
    from mirrorneuron_nb.store.sqlite import Store as SqliteStore
    from mirrorneuron_nb.store.transfer import copy_store

    target = opener()
    before = target.sidecar_id()  # read (and kept) before the copy
    source = SqliteStore(tmp_path / "other.mn")
    try:
        copy_store(source, target, replace=True)
        assert target.sidecar_id() == source.sidecar_id() != before
    finally:
        source.close()


def test_a_failed_write_transaction_leaves_nothing_and_the_store_goes_on(st: Store) -> None:
    """On PostgreSQL the statements are pipelined: an error surfaces later than the
    statement that made it, and everything before it is rolled back all the same."""
    from mirrorneuron_nb.store.connection import write_txn

    event = "INSERT INTO events(ts, run_id, step, kind, detail) VALUES (?,?,?,?,?)"
    with pytest.raises(Exception, match="no_such_table"), write_txn(st.conn) as c:
        c.execute(event, (0.0, None, "lost", "x", "{}"))
        c.execute("INSERT INTO no_such_table VALUES (1)")
        c.execute(event, (0.0, None, "lost", "y", "{}"))
    with pytest.raises(RuntimeError), write_txn(st.conn) as c:
        c.execute(event, (0.0, None, "lost", "z", "{}"))
        raise RuntimeError("the body failed")
    assert st.events("lost") == []
    trivial(st, begin(st, "after"))
    assert [e.kind for e in st.events("after")][-2:] == ["succeeded", "released"]


def transactions(st: Store) -> list[str]:
    """Every write transaction the store begins from now on."""
    begun: list[str] = []
    conn: Any = st.conn
    own = getattr(conn, "write_transaction", None)
    if own is not None:  # PostgreSQL: BEGIN is sent by the connection's own method

        def counted_txn() -> Any:
            begun.append("BEGIN")
            return own()

        conn.write_transaction = counted_txn
        return begun
    execute = conn.execute

    def counted(sql: str, *args: Any) -> Any:
        if sql.split()[0].upper() == "BEGIN":
            begun.append(sql)
        return execute(sql, *args)

    conn.execute = counted
    return begun


def inert_start(name: str) -> StepStart:
    return StepStart(name, None, "x = 1", "h-" + name, "k-" + name, {}, None)


def inert_checkpoint(name: str) -> NewCheckpoint:
    return NewCheckpoint("k-" + name, "h", 0.001, {}, [], [var("x")], [], "sig")


def test_an_inert_step_is_claimed_and_committed_in_one_transaction(st: Store) -> None:
    """Issue 13: a body that binds constants (kernel/inert.py) runs before its step is
    claimed; then lease, attempt and checkpoint land in ONE transaction, with the rows and
    events the two transactions of claim_attempt + commit_checkpoint write."""
    trivial(st, begin(st, "warm"))
    begun = transactions(st)
    seen = counting(st)
    done = st.claim_and_commit("run1", inert_start("t1"), claimant(), inert_checkpoint("t1"))
    assert not isinstance(done, LeaseDenied)
    attempt, checkpoint_id = done
    assert len(begun) == 1, begun
    # No lease row is written and deleted again: released in the transaction that took it.
    assert not [s for s in seen if s.startswith(("INSERT INTO leases", "DELETE FROM leases"))]
    assert len(seen) <= STATEMENTS - 2 + (1 if st.keeps_manifest else 0), "\n".join(seen)
    step = st.step("t1")
    assert step is not None and step.status is StepStatus.succeeded
    assert step.checkpoint_id == checkpoint_id and step.attempts == 1
    assert [(a.id, a.number, a.status) for a in st.attempts("t1")] == [
        (attempt.id, 1, StepStatus.succeeded.value)
    ]
    kinds = [e.kind for e in st.events("t1")]
    assert kinds == ["claimed", "running", "succeeded", "released"]
    assert "t1" not in st.leases()


def test_one_transaction_writes_nothing_of_a_step_held_elsewhere(st: Store) -> None:
    new_run(st, "run2")
    other = st.claim_attempt("run2", inert_start("t1"), claimant("run2"))
    assert isinstance(other, Attempt)
    done = st.claim_and_commit("run1", inert_start("t1"), claimant(), inert_checkpoint("t1"))
    assert isinstance(done, LeaseDenied) and done.owner is not None
    assert done.owner.run_id == "run2"
    step = st.step("t1")
    assert step is not None and step.status is StepStatus.running and step.run_id == "run2"
    assert [a.run_id for a in st.attempts("t1")] == ["run2"]
    assert st.find_checkpoint("t1", "k-t1") is None
    assert [e.kind for e in st.events("t1")] == ["claimed", "running"]


def test_the_look_before_a_step_runs_is_one_statement(st: Store) -> None:
    """Issue 13: what a step about to run reads is one statement: the newest checkpoint
    with its key, a live owner elsewhere (none for one's own), the first rejected step
    before it in notebook order."""
    assert st.look_to_run("t1", "k-t1", "run1") == StepLook(None, None, None)
    new_run(st, "run2")
    other = st.claim_attempt("run2", inert_start("t1"), claimant("run2"))
    assert isinstance(other, Attempt)
    seen = counting(st)
    look = st.look_to_run("t1", "k-t1", "run1", position=5)
    assert len(seen) == 1, seen
    assert look.checkpoint is None and look.holder is not None and look.rejected is None
    assert look.holder.run_id == "run2"
    assert st.look_to_run("t1", "k-t1", "run2").holder is None  # its own lease
    assert st.look_to_run("t1", "other-key", "run1").holder is None  # another key
    st.commit_checkpoint(other, inert_checkpoint("t1"))
    look = st.look_to_run("t1", "k-t1", "run1")
    assert look.checkpoint is not None and look.checkpoint == st.find_checkpoint("t1", "k-t1")
    assert look.holder is None


def test_the_look_finds_a_rejected_step_before_the_position(st: Store) -> None:
    rejected = StepStart("gate", None, "x = 1", "h-gate", "k-gate", {}, 2)
    approval = st.request_approval("run1", rejected, "ok?")
    st.mark_rejected("run1", rejected, approval)
    assert st.look_to_run("t1", "k-t1", "run1", position=3).rejected == "gate"
    assert st.look_to_run("t1", "k-t1", "run1", position=2).rejected is None
    assert st.look_to_run("t1", "k-t1", "run1").rejected is None  # position unknown
    assert st.rejected_before(3) == "gate"
