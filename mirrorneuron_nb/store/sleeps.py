"""Durable waits (`mn.sleep`, `mn.wait_until`): a step parked `sleeping`, and the events of
a wait. The wake-up time itself is a durable-call journal entry (journal.py); the time a
parked step wakes is the detail of its latest `sleeping` event, so no column is needed."""

from __future__ import annotations

import time

from ..models import SLEEPING, Attempt, StepStatus
from .base import Tables, event_txn
from .connection import write_txn


class SleepsTable(Tables):
    def park_attempt(self, attempt: Attempt, wake_at: float, what: str) -> None:
        """A batch run stops at a wait longer than its --max-sleep: the attempt and the
        step are `sleeping` (not failed, no checkpoint), until the next run re-runs it."""
        now = time.time()
        with write_txn(self.conn) as c:
            c.execute(
                "UPDATE attempts SET status=?, ended_at=? WHERE id=?",
                (StepStatus.sleeping.value, now, attempt.id),
            )
            c.execute(
                "UPDATE steps SET status=?, ended_at=?, duration=?, error=NULL, traceback=NULL,"
                " updated_at=? WHERE name=?",
                (StepStatus.sleeping.value, now, now - attempt.started_at, now, attempt.step),
            )
            event_txn(
                c,
                attempt.run_id,
                attempt.step,
                SLEEPING,
                {"attempt": attempt.number, "wake_at": wake_at, "what": what, "parked": True},
            )

    def record_wait(
        self, run_id: str | None, step: str, kind: str, wake_at: float, what: str
    ) -> None:
        """A wait of a running step started (`sleeping`) or ended (`woke`): one event."""
        with write_txn(self.conn) as c:
            event_txn(c, run_id, step, kind, {"wake_at": wake_at, "what": what, "parked": False})
