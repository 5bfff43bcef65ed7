"""Approval gates: a step parks at its gate; a human decides once; a success uses it up."""

from __future__ import annotations

import time

from ..errors import NotAwaitingApproval, UnknownStep
from ..models import Approval, ApprovalStatus, StepStart, StepStatus
from .base import Conn, Tables, event_txn
from .connection import write_txn
from .steps import _upsert_step_txn

_OPEN_REQUEST = (
    "SELECT * FROM approvals WHERE step=? AND consumed=0 AND status=? ORDER BY id DESC LIMIT 1"
)


class ApprovalsTable(Tables):
    def approval(self, step: str) -> Approval | None:
        """The step's latest approval not yet used up by a successful run."""
        row = self.conn.execute(
            "SELECT * FROM approvals WHERE step=? AND consumed=0 ORDER BY id DESC LIMIT 1",
            (step,),
        ).fetchone()
        return Approval(**dict(row)) if row else None

    def request_approval(self, run_id: str, start: StepStart, question: str) -> Approval:
        """Park the step at its gate (once: asking again keeps the pending request)."""
        now = time.time()
        with write_txn(self.conn) as c:
            _upsert_step_txn(c, run_id, start, StepStatus.awaiting_approval, now)
            row = c.execute(_OPEN_REQUEST, (start.name, ApprovalStatus.pending.value)).fetchone()
            if row is None:
                cur = c.execute(
                    "INSERT INTO approvals(step, question, status, requested_at, run_id)"
                    " VALUES (?,?,?,?,?) RETURNING *",
                    (start.name, question, ApprovalStatus.pending.value, now, run_id),
                )
                row = cur.fetchall()[0]
                event_txn(c, run_id, start.name, "awaiting_approval", {"question": question})
            return Approval(**dict(row))

    def decide(
        self, step: str, approve: bool, by: str, note: str | None, run_id: str | None = None
    ) -> Approval:
        """Approve or reject the step's pending request: the one implementation of a
        decision, for the cell's buttons, the panel and `mn-nb approve` alike.

        Raises UnknownStep for a step the sidecar does not know, NotAwaitingApproval (with
        why) for one that is not waiting at its gate."""
        now = time.time()
        note = (note or "").strip() or None
        status = ApprovalStatus.approved if approve else ApprovalStatus.rejected
        with write_txn(self.conn) as c:
            row = c.execute(_OPEN_REQUEST, (step, ApprovalStatus.pending.value)).fetchone()
            if row is None:
                raise _not_waiting(c, step)
            c.execute(
                "UPDATE approvals SET status=?, decided_at=?, decided_by=?, note=? WHERE id=?",
                (status.value, now, by, note, row["id"]),
            )
            if not approve:
                c.execute(
                    "UPDATE steps SET status=?, error=?, updated_at=? WHERE name=?",
                    (StepStatus.rejected.value, rejection(by, note), now, step),
                )
            event_txn(c, run_id, step, status.value, {"by": by, "note": note})
            found = c.execute("SELECT * FROM approvals WHERE id=?", (row["id"],)).fetchone()
            return Approval(**dict(found))

    def mark_rejected(self, run_id: str, start: StepStart, approval: Approval) -> None:
        with write_txn(self.conn) as c:
            _upsert_step_txn(c, run_id, start, StepStatus.rejected, time.time())
            c.execute(
                "UPDATE steps SET error=? WHERE name=?",
                (rejection(approval.decided_by, approval.note), start.name),
            )


def rejection(by: str | None, note: str | None) -> str:
    return f"rejected by {by}" + (f": {note}" if note else "")


def _not_waiting(c: Conn, step: str) -> Exception:
    """Why a decision cannot be taken: an unknown step, decided already, or not at its gate."""
    found = c.execute("SELECT status FROM steps WHERE name=?", (step,)).fetchone()
    if found is None:
        return UnknownStep(f"unknown step {step!r}")
    prefix = f"step {step!r} is not awaiting approval"
    latest = c.execute(
        "SELECT status, decided_by, decided_at FROM approvals WHERE step=? AND consumed=0"
        " ORDER BY id DESC LIMIT 1",
        (step,),
    ).fetchone()
    if latest is not None and latest["decided_at"] is not None:
        return NotAwaitingApproval(
            f"{prefix}: it was already {latest['status']} by {latest['decided_by']}"
        )
    return NotAwaitingApproval(f"{prefix} (it is {found['status']})")
