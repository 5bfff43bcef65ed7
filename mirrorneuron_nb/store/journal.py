"""The durable-call journal: one row per call a step made through `mn.durable`.

A row is *open* (open=1) while it belongs to the step's current execution, the one
retries and resumes replay from. When the step's checkpoint commits, its open rows are
closed in the same transaction (`close_journal_txn`), so the next forced or changed run
starts an empty journal; a reset deletes them (`delete_open_calls_txn`).

Every recorded call is its own small write transaction: a kernel killed right after a
call returned keeps that call's result. WAL with synchronous=NORMAL makes the commit
survive a killed process without an fsync per call; large results are blobs that
the codec has already fsynced before the row commits.
"""

from __future__ import annotations

import json
from typing import Any

from ..models import CallCounts, CallRecord, CallStatus, StepStatus, VarEntry
from .base import Conn, Tables
from .connection import write_txn

# The WHERE clause repeats the partial unique index's condition so SQLite uses it:
# a lookup costs the same with 1,000 or 100,000 rows in the table.
_OPEN_RESULT = "step=? AND call_key=? AND occurrence=? AND open=1 AND status='succeeded'"


class JournalTable(Tables):
    def find_call(self, step: str, call_key: str, occurrence: int) -> VarEntry | None:
        """The recorded result of a completed call of the open journal, or None."""
        row = self.conn.execute(
            "SELECT function, type_name, serializer, size, header, stream_blob, buffers,"
            f" signature, stream_hash FROM durable_calls WHERE {_OPEN_RESULT}",
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
            stream_hash=row[8],
        )

    def open_call_counts(self, step: str) -> CallCounts:
        """Calls recorded by the step's current (not yet successful) execution."""
        rows = self.conn.execute(
            "SELECT status, COUNT(*) FROM durable_calls WHERE step=? AND open=1 GROUP BY status",
            (step,),
        ).fetchall()
        return _counts(rows)

    def execution_call_counts(self, step: str, checkpoint_id: int | None) -> CallCounts:
        """Calls of the execution that produced `checkpoint_id`; the open journal if None.

        That execution is every attempt of the step after its previous successful attempt,
        up to the one that wrote the checkpoint: the journal the commit closed.
        """
        if checkpoint_id is None:
            return self.open_call_counts(step)
        found = self.conn.execute(
            "SELECT attempt_id FROM checkpoints WHERE id=?", (checkpoint_id,)
        ).fetchone()
        if found is None or found[0] is None:
            return CallCounts()
        last = int(found[0])
        before = self.conn.execute(
            "SELECT MAX(id) FROM attempts WHERE step=? AND status=? AND id<?",
            (step, StepStatus.succeeded.value, last),
        ).fetchone()[0]
        rows = self.conn.execute(
            "SELECT status, COUNT(*) FROM durable_calls WHERE step=? AND open=0"
            " AND attempt_id>? AND attempt_id<=? GROUP BY status",
            (step, int(before or 0), last),
        ).fetchall()
        return _counts(rows)

    def record_call(self, call: CallRecord) -> None:
        with write_txn(self.conn) as c:
            if call.blobs:
                c.executemany(
                    "INSERT INTO blobs(hash, size, created_at) VALUES (?,?,?)"
                    " ON CONFLICT DO NOTHING",
                    [(key, n, call.started_at) for key, n in call.blobs],
                )
            result = call.result
            if call.status is CallStatus.succeeded:
                # A completed call recorded before under this key that could not be used
                # (signed with another user's key, a blob gone) gives way to this result.
                c.execute(
                    f"DELETE FROM durable_calls WHERE {_OPEN_RESULT}",
                    (call.step, call.call_key, call.occurrence),
                )
            c.execute(
                "INSERT INTO durable_calls(step, open, function, call_key, occurrence, status,"
                " run_id, attempt_id, started_at, duration, type_name, serializer, size, header,"
                " stream_blob, buffers, signature, error, stream_hash)"
                " VALUES (?,1,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    call.step,
                    call.function,
                    call.call_key,
                    call.occurrence,
                    call.status.value,
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
                    result.stream_hash if result else None,
                ),
            )


def close_journal_txn(c: Conn, step: str) -> None:
    """The step succeeded: its journal stays for the record but is never replayed again.
    (No count asked: on PostgreSQL that would wait for the answer.)"""
    c.execute("UPDATE durable_calls SET open=0 WHERE step=? AND open=1", (step,))


def delete_open_calls_txn(c: Conn, step: str) -> int:
    """The step was reset: forget what its unfinished execution recorded."""
    return c.execute("DELETE FROM durable_calls WHERE step=? AND open=1", (step,)).rowcount


def _counts(rows: list[Any]) -> CallCounts:
    by_status = {str(r[0]): int(r[1]) for r in rows}
    return CallCounts(
        succeeded=by_status.get(CallStatus.succeeded.value, 0),
        failed=by_status.get(CallStatus.failed.value, 0),
        unsaved=by_status.get(CallStatus.unsaved.value, 0),
    )
