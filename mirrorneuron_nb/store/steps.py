"""Steps and their attempts: the intent to run, failures, retries, cache hits.

Every state a step reaches goes through one upsert of its row (`_upsert_step_txn`), so
its identity (position, cell, code, options, run) is recorded the same way each time.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence

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
from .base import Conn, Tables, event_txn
from .connection import write_txn
from .leases import claim_txn

INVALID = "invalid"
"""An attempt whose body ran but whose result its step's options refuse; also the event."""


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
        row = self.conn.execute(
            "SELECT name FROM steps WHERE status=? AND position < ? ORDER BY position LIMIT 1",
            (StepStatus.rejected.value, position),
        ).fetchone()
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
        now = time.time()
        with write_txn(self.conn) as c:
            if claimant is not None:
                denied = claim_txn(c, claimant, start, now)
                if denied is not None:
                    return denied
            previous = c.execute(
                "SELECT run_id, status, attempts FROM steps WHERE name=?", (start.name,)
            ).fetchone()
            _upsert_step_txn(c, run_id, start, StepStatus.running, now)
            # Retries within one run count up; anything else starts again at 1.
            retried = (
                previous is not None
                and previous["run_id"] == run_id
                and previous["status"] in (StepStatus.failed.value, StepStatus.retrying.value)
            )
            c.execute(
                "UPDATE steps SET attempts=?, started_at=?, ended_at=NULL, duration=NULL,"
                " traceback=NULL WHERE name=?",
                (previous["attempts"] + 1 if retried else 1, now, start.name),
            )
            number = (
                c.execute(
                    "SELECT COUNT(*) FROM attempts WHERE step=? AND run_id=?", (start.name, run_id)
                ).fetchone()[0]
                + 1
            )
            cur = c.execute(
                "INSERT INTO attempts(run_id, step, number, cache_key, status, started_at)"
                " VALUES (?,?,?,?,?,?) RETURNING id",
                (run_id, start.name, number, start.cache_key, StepStatus.running.value, now),
            )
            attempt_id = int(cur.fetchall()[0][0])
            event_txn(
                c, run_id, start.name, "running", {"attempt": number, "cache_key": start.cache_key}
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


def _upsert_step_txn(
    c: Conn, run_id: str, start: StepStart, status: StepStatus, now: float
) -> None:
    """The one way a step's row is written: its identity and new status, error cleared.

    Position: the notebook's, if known; else the one the step had; else after the last."""
    position = start.position
    if position is None:
        found = c.execute("SELECT position FROM steps WHERE name=?", (start.name,)).fetchone()
        if found is not None and found[0] is not None:
            position = int(found[0])
        else:
            top = c.execute("SELECT MAX(position) FROM steps").fetchone()[0]
            position = 0 if top is None else int(top) + 1
    c.execute(
        "INSERT INTO steps(name, position, cell_id, code, code_hash, status, options, run_id,"
        " attempts, updated_at) VALUES (?,?,?,?,?,?,?,?,0,?)"
        " ON CONFLICT(name) DO UPDATE SET status=excluded.status,"
        " position=excluded.position,"
        " cell_id=COALESCE(excluded.cell_id, steps.cell_id), code=excluded.code,"
        " code_hash=excluded.code_hash, options=excluded.options, run_id=excluded.run_id,"
        " error=NULL, updated_at=excluded.updated_at",
        (
            start.name,
            position,
            start.cell_id,
            start.code,
            start.code_hash,
            status.value,
            json.dumps(start.options),
            run_id,
            now,
        ),
    )


def _step(row: sqlite3.Row) -> Step:
    return Step(**{**dict(row), "options": json.loads(row["options"])})
