"""Steps and their attempts: the intent to run, failures, retries, cache hits.

Every state a step reaches goes through one upsert of its row (`_upsert_step_txn`), so
its identity (position, cell, code, options, run) is recorded the same way each time.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from typing import Any

from ..models import (
    INPUTS_MISSING,
    Attempt,
    Checkpoint,
    Claimant,
    InputOrigin,
    LeaseDenied,
    Step,
    StepStart,
    StepStatus,
)
from .base import Conn, Cursor, EventRow, Tables, event_txn, events_txn
from .connection import write_txn
from .leases import claim_txn, leases_cursor

INVALID = "invalid"
"""An attempt whose body ran but whose result its step's options refuse; also the event."""


NEWEST_CHECKPOINT = (
    "SELECT id FROM checkpoints WHERE step=? AND cache_key=? ORDER BY id DESC LIMIT 1"
)
"""The id of a step's newest checkpoint with a cache key (params: step, key)."""
REJECTED_BEFORE = "SELECT name FROM steps WHERE status=? AND position < ? ORDER BY position LIMIT 1"
"""The first rejected step before a position (params: the rejected status, the position):
an index search (schema 6). Also part of `look_to_run`."""


class StepsTable(Tables):
    def step(self, name: str) -> Step | None:
        row = self.conn.execute("SELECT * FROM steps WHERE name=?", (name,)).fetchone()
        return _step(row) if row else None

    def steps(self) -> list[Step]:
        rows = self.conn.execute(
            "SELECT * FROM steps ORDER BY position IS NULL, position, started_at"
        ).fetchall()
        return [_step(r) for r in rows]

    def rejected_before(self, position: int) -> str | None:
        """The first rejected step earlier in notebook order, if any (one indexed query: it
        runs before every step)."""
        row = self.conn.execute(REJECTED_BEFORE, (StepStatus.rejected.value, position)).fetchone()
        return str(row[0]) if row else None

    def attempts(self, step: str) -> list[Attempt]:
        rows = self.conn.execute(
            "SELECT * FROM attempts WHERE step=? ORDER BY id", (step,)
        ).fetchall()
        return [Attempt(**dict(r)) for r in rows]

    def begin_attempt(self, run_id: str, start: StepStart) -> Attempt:
        """Record the intent to run before the body runs (so a crash shows `interrupted`)."""
        began = self._begin(run_id, start, None)
        assert isinstance(began, Attempt)
        return began

    def claim_attempt(
        self, run_id: str, start: StepStart, claimant: Claimant
    ) -> Attempt | LeaseDenied:
        """`begin_attempt` that, in the same transaction, first takes the step's lease
        (leases.py): when another live process holds it, or the step was done meanwhile,
        nothing is written and the answer says why."""
        return self._begin(run_id, start, claimant)

    def _begin(
        self, run_id: str, start: StepStart, claimant: Claimant | None
    ) -> Attempt | LeaseDenied:
        events: list[EventRow] = []
        with write_txn(self.conn) as c:
            began = begin_txn(c, run_id, start, claimant, time.time(), events)
            if isinstance(began, Attempt):
                events_txn(c, events)
        return began

    def mark_checkpointing(self, attempt: Attempt, variables: Sequence[str]) -> None:
        """The attempt's body succeeded and its checkpoint is being written behind the cell
        (kernel/writer.py): `checkpointing` until `commit_checkpoint` lands, which only
        then makes it `succeeded` (a reader never sees a checkpoint before that)."""
        now = time.time()
        with write_txn(self.conn) as c:
            c.execute(
                "UPDATE attempts SET status=? WHERE id=?",
                (StepStatus.checkpointing.value, attempt.id),
            )
            c.execute(
                "UPDATE steps SET status=?, updated_at=? WHERE name=?",
                (StepStatus.checkpointing.value, now, attempt.step),
            )
            event_txn(
                c,
                attempt.run_id,
                attempt.step,
                StepStatus.checkpointing.value,
                {"attempt": attempt.number, "variables": list(variables)},
            )

    def fail_attempt(self, attempt: Attempt, error: str, traceback: str) -> None:
        now = time.time()
        with write_txn(self.conn) as c:
            c.execute(
                "UPDATE attempts SET status=?, ended_at=?, error=?, traceback=? WHERE id=?",
                (StepStatus.failed.value, now, error, traceback, attempt.id),
            )
            c.execute(
                "UPDATE steps SET status=?, ended_at=?, duration=?, error=?, traceback=?,"
                " updated_at=? WHERE name=?",
                (
                    StepStatus.failed.value,
                    now,
                    now - attempt.started_at,
                    error,
                    traceback,
                    now,
                    attempt.step,
                ),
            )
            event_txn(
                c,
                attempt.run_id,
                attempt.step,
                "failed",
                {"attempt": attempt.number, "error": error},
            )

    def abandon_attempt(self, attempt: Attempt, previous: Step | None, reason: str) -> None:
        """End an attempt whose body ran but whose result the step's own options refuse
        (--outputs not bound): the attempt is `invalid`, and the step row is put back as it
        was before this execution (`pending` if it had never run), so the step is neither
        failed nor given a checkpoint."""
        now = time.time()
        with write_txn(self.conn) as c:
            c.execute(
                "UPDATE attempts SET status=?, ended_at=?, error=? WHERE id=?",
                (INVALID, now, reason, attempt.id),
            )
            if previous is None:
                c.execute(
                    "UPDATE steps SET status=?, ended_at=?, updated_at=? WHERE name=?",
                    (StepStatus.pending.value, now, now, attempt.step),
                )
            else:
                c.execute(
                    "UPDATE steps SET position=?, cell_id=?, code=?, code_hash=?, status=?,"
                    " options=?, run_id=?, attempts=?, started_at=?, ended_at=?, duration=?,"
                    " error=?, traceback=?, updated_at=? WHERE name=?",
                    (
                        previous.position,
                        previous.cell_id,
                        previous.code,
                        previous.code_hash,
                        previous.status.value,
                        json.dumps(previous.options),
                        previous.run_id,
                        previous.attempts,
                        previous.started_at,
                        previous.ended_at,
                        previous.duration,
                        previous.error,
                        previous.traceback,
                        now,
                        attempt.step,
                    ),
                )
            event_txn(
                c,
                attempt.run_id,
                attempt.step,
                INVALID,
                {"attempt": attempt.number, "error": reason},
            )

    def mark_retrying(self, attempt: Attempt, delay: float, total: int) -> None:
        with write_txn(self.conn) as c:
            c.execute(
                "UPDATE steps SET status=?, updated_at=? WHERE name=?",
                (StepStatus.retrying.value, time.time(), attempt.step),
            )
            event_txn(
                c,
                attempt.run_id,
                attempt.step,
                "retrying",
                {
                    "attempt": attempt.number,
                    "next": attempt.number + 1,
                    "of": total,
                    "delay": delay,
                },
            )

    def record_cache_hit(
        self, run_id: str, start: StepStart, checkpoint: Checkpoint, restored: list[str]
    ) -> None:
        now = time.time()
        with write_txn(self.conn) as c:
            _upsert_step_txn(c, run_id, start, StepStatus.cached, now)
            c.execute(
                "UPDATE steps SET checkpoint_id=?, attempts=0, started_at=?, ended_at=?,"
                " duration=?, traceback=NULL WHERE name=?",
                (checkpoint.id, now, now, checkpoint.duration, start.name),
            )
            event_txn(
                c,
                run_id,
                start.name,
                "cached",
                {"checkpoint": checkpoint.id, "restored": list(restored)},
            )

    def record_inputs_missing(
        self, run_id: str | None, step: str, origins: Sequence[InputOrigin]
    ) -> None:
        """A good step stopped before its body: inputs from cells nobody checkpointed are
        not in the kernel. Only an event: the step keeps its status and checkpoint, and the
        next thing that happens to it (a run, a cache hit, a reset) supersedes it."""
        with write_txn(self.conn) as c:
            event_txn(
                c,
                run_id,
                step,
                INPUTS_MISSING,
                {
                    "missing": [o.name for o in origins],
                    "origins": [o.model_dump() for o in origins],
                },
            )


def begin_txn(
    c: Conn,
    run_id: str,
    start: StepStart,
    claimant: Claimant | None,
    now: float,
    events: list[EventRow],
    *,
    keep: bool = True,
) -> Attempt | LeaseDenied:
    """Inside the caller's transaction: take the lease (`claimant`; `keep`: see claim_txn),
    mark the step running and insert its attempt; the events go to `events`, which the
    caller writes."""
    # Six statements; PostgreSQL's pipeline waits for three answers.
    # Both reads are sent before either is waited for (one round trip on PostgreSQL).
    looked = look_cursor(c, start)
    held = leases_cursor(c, start.name) if claimant is not None else None
    here = looked.fetchone()
    if claimant is not None and held is not None:
        denied = claim_txn(c, claimant, start, now, here, held.fetchall(), events, keep=keep)
        if denied is not None:
            return denied
    # Retries within one run count up; anything else starts again at 1.
    retried = here["run_id"] == run_id and here["status"] in (
        StepStatus.failed.value,
        StepStatus.retrying.value,
    )
    _upsert_step_txn(
        c,
        run_id,
        start,
        StepStatus.running,
        now,
        position=_position(start, here),
        attempts=int(here["attempts"]) + 1 if retried else 1,
    )
    # The attempt's number counts this step's attempts in this run, in the INSERT.
    row = c.execute(
        "INSERT INTO attempts(run_id, step, number, cache_key, status, started_at)"
        " SELECT ?, ?, COUNT(*) + 1, ?, ?, ? FROM attempts WHERE step=? AND run_id=?"
        " RETURNING id, number",
        (
            run_id,
            start.name,
            start.cache_key,
            StepStatus.running.value,
            now,
            start.name,
            run_id,
        ),
    ).fetchall()[0]
    attempt_id, number = int(row[0]), int(row[1])
    events.append(
        (run_id, start.name, "running", {"attempt": number, "cache_key": start.cache_key})
    )
    return Attempt(
        id=attempt_id,
        run_id=run_id,
        step=start.name,
        number=number,
        cache_key=start.cache_key,
        status=StepStatus.running.value,
        started_at=now,
    )


def look_txn(c: Conn, start: StepStart) -> Any:
    return look_cursor(c, start).fetchone()


def look_cursor(c: Conn, start: StepStart) -> Cursor:
    """One row, in one statement: the step's row as it is (NULLs when it has none), the
    highest position of any step, and the id of the newest checkpoint with its key."""
    return c.execute(
        "SELECT s.run_id, s.status, s.attempts, s.position, s.checkpoint_id,"
        " (SELECT MAX(position) FROM steps) AS top,"
        f" ({NEWEST_CHECKPOINT}) AS newest"
        " FROM (SELECT 1 AS one) AS here LEFT JOIN steps s ON s.name=?",
        (start.name, start.cache_key, start.name),
    )


def _position(start: StepStart, here: Any) -> int:
    """The notebook's position, if known; else the one the step had; else after the last."""
    if start.position is not None:
        return start.position
    if here["position"] is not None:
        return int(here["position"])
    return 0 if here["top"] is None else int(here["top"]) + 1


def _upsert_step_txn(
    c: Conn,
    run_id: str,
    start: StepStart,
    status: StepStatus,
    now: float,
    *,
    position: int | None = None,
    attempts: int | None = None,
) -> None:
    """The one way a step's row is written: its identity and new status, error cleared.

    Position: the notebook's, if known; else the one the step had; else after the last
    (`position`: already found so). `attempts`: an attempt begins: its count, and the
    times, duration and traceback of the previous one are cleared."""
    if position is None:
        position = _position(start, look_txn(c, start))
    begins = attempts is not None
    c.execute(
        "INSERT INTO steps(name, position, cell_id, code, code_hash, status, options, run_id,"
        " attempts, started_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
        " ON CONFLICT(name) DO UPDATE SET status=excluded.status,"
        " position=excluded.position,"
        " cell_id=COALESCE(excluded.cell_id, steps.cell_id), code=excluded.code,"
        " code_hash=excluded.code_hash, options=excluded.options, run_id=excluded.run_id,"
        " error=NULL, updated_at=excluded.updated_at"
        + (
            ", attempts=excluded.attempts, started_at=excluded.started_at, ended_at=NULL,"
            " duration=NULL, traceback=NULL"
            if begins
            else ""
        ),
        (
            start.name,
            position,
            start.cell_id,
            start.code,
            start.code_hash,
            status.value,
            json.dumps(start.options),
            run_id,
            attempts if begins else 0,
            now if begins else None,
            now,
        ),
    )


def _step(row: sqlite3.Row) -> Step:
    return Step(**{**dict(row), "options": json.loads(row["options"])})
