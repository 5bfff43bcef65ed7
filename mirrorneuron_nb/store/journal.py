"""The durable-call journal: one row per call a step made through `mn.durable`.

A row is *open* (open=1) while it belongs to the step's current execution, the one
retries and resumes replay from. When the step's checkpoint commits, its open rows are
closed in the same transaction (`close_txn`), so the next forced or changed run starts
an empty journal; `Store.reset` deletes them (`delete_open_txn`).

Every recorded call is its own small write transaction: a kernel killed right after a
call returned keeps that call's result. WAL with synchronous=NORMAL makes the commit
survive a killed process without an fsync per call; large results are blobs that
persist.save has already fsynced before the row commits.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..models import VarEntry
from .connection import write_txn

SUCCEEDED = "succeeded"
FAILED = "failed"
UNSAVED = "unsaved"
"""The call returned, but its result could not be serialized: it runs again on replay."""


@dataclass(frozen=True)
class CallRecord:
    """One finished call, ready to be written."""

    step: str
    function: str
    call_key: str
    occurrence: int
    status: str
    run_id: str | None
    attempt_id: int | None
    started_at: float
    duration: float
    result: VarEntry | None = None
    """How to load the result (succeeded calls only)."""
    error: str | None = None
    """The exception (failed) or why the result could not be saved (unsaved)."""
    blobs: Sequence[tuple[str, int]] = ()
    """Blob files the result uses, already written and fsynced."""


@dataclass(frozen=True)
class CallCounts:
    succeeded: int = 0
    failed: int = 0
    unsaved: int = 0

    @property
    def total(self) -> int:
        return self.succeeded + self.failed + self.unsaved


# -- reads -------------------------------------------------------------------------------------


def find(conn: sqlite3.Connection, step: str, call_key: str, occurrence: int) -> VarEntry | None:
    """The recorded result of a completed call of the open journal, or None."""
    # The WHERE clause repeats the partial unique index's condition so SQLite uses it:
    # a lookup costs the same with 1,000 or 100,000 rows in the table.
    row = conn.execute(
        "SELECT function, type_name, serializer, size, header, stream_blob, buffers, signature"
        " FROM durable_calls WHERE step=? AND call_key=? AND occurrence=?"
        " AND open=1 AND status='succeeded'",
        (step, call_key, occurrence),
    ).fetchone()
    if row is None:
        return None
    return VarEntry(
        name=row[0],
        type_name=row[1] or "-",
        serializer=row[2],
        size=row[3],
        header=row[4],
        stream_blob=row[5],
        buffers=[(k, int(n)) for k, n in json.loads(row[6])],
        signature=row[7],
    )


def open_counts(conn: sqlite3.Connection, step: str) -> CallCounts:
    """Calls recorded by the step's current (not yet successful) execution."""
    rows = conn.execute(
        "SELECT status, COUNT(*) FROM durable_calls WHERE step=? AND open=1 GROUP BY status",
        (step,),
    ).fetchall()
    return _counts(rows)


def execution_counts(conn: sqlite3.Connection, step: str, checkpoint_id: int | None) -> CallCounts:
    """Calls of the execution that produced `checkpoint_id`; the open journal if None.

    That execution is every attempt of the step after its previous successful attempt, up
    to the one that wrote the checkpoint: the journal the commit closed.
    """
    if checkpoint_id is None:
        return open_counts(conn, step)
    found = conn.execute(
        "SELECT attempt_id FROM checkpoints WHERE id=?", (checkpoint_id,)
    ).fetchone()
    if found is None or found[0] is None:
        return CallCounts()
    last = int(found[0])
    before = conn.execute(
        "SELECT MAX(id) FROM attempts WHERE step=? AND status='succeeded' AND id<?", (step, last)
    ).fetchone()[0]
    rows = conn.execute(
        "SELECT status, COUNT(*) FROM durable_calls WHERE step=? AND open=0"
        " AND attempt_id>? AND attempt_id<=? GROUP BY status",
        (step, int(before or 0), last),
    ).fetchall()
    return _counts(rows)


def _counts(rows: list[Any]) -> CallCounts:
    by_status = {str(r[0]): int(r[1]) for r in rows}
    return CallCounts(
        succeeded=by_status.get(SUCCEEDED, 0),
        failed=by_status.get(FAILED, 0),
        unsaved=by_status.get(UNSAVED, 0),
    )


# -- writes ------------------------------------------------------------------------------------


def record(conn: sqlite3.Connection, call: CallRecord) -> None:
    with write_txn(conn) as c:
        record_txn(c, call)


def record_txn(c: sqlite3.Connection, call: CallRecord) -> None:
    if call.blobs:
        c.executemany(
            "INSERT OR IGNORE INTO blobs(hash, size, created_at) VALUES (?,?,?)",
            [(key, n, call.started_at) for key, n in call.blobs],
        )
    result = call.result
    if call.status == SUCCEEDED:
        # A completed call recorded before under this key that could not be used (signed
        # with another user's key, a blob gone) gives way to the result of running it again.
        c.execute(
            "DELETE FROM durable_calls WHERE step=? AND call_key=? AND occurrence=?"
            " AND open=1 AND status='succeeded'",
            (call.step, call.call_key, call.occurrence),
        )
    c.execute(
        "INSERT INTO durable_calls(step, open, function, call_key, occurrence, status, run_id,"
        " attempt_id, started_at, duration, type_name, serializer, size, header, stream_blob,"
        " buffers, signature, error) VALUES (?,1,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            call.step,
            call.function,
            call.call_key,
            call.occurrence,
            call.status,
            call.run_id,
            call.attempt_id,
            call.started_at,
            call.duration,
            result.type_name if result else None,
            result.serializer if result else None,
            result.size if result else 0,
            result.header if result else None,
            result.stream_blob if result else None,
            json.dumps(result.buffers) if result else "[]",
            result.signature if result else None,
            call.error,
        ),
    )


def close_txn(c: sqlite3.Connection, step: str) -> int:
    """The step succeeded: its journal stays for the record but is never replayed again."""
    return c.execute("UPDATE durable_calls SET open=0 WHERE step=? AND open=1", (step,)).rowcount


def delete_open_txn(c: sqlite3.Connection, step: str) -> int:
    """The step was reset: forget what its unfinished execution recorded."""
    return c.execute("DELETE FROM durable_calls WHERE step=? AND open=1", (step,)).rowcount
