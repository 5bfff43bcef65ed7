"""The append-only event log: every state transition, who and when (see base.event_txn)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ..models import Event
from .base import LEASE_EVENTS, Tables, event_txn
from .connection import write_txn

_NOT_LEASE = f"kind NOT IN ({','.join('?' * len(LEASE_EVENTS))})"
"""Events that happened to a step, not to who held it (params: *LEASE_EVENTS)."""


class EventsTable(Tables):
    def events(self, step: str | None = None, after: int = 0, limit: int = 1000) -> list[Event]:
        if step is None:
            rows = self.conn.execute(
                "SELECT * FROM events WHERE id>? ORDER BY id LIMIT ?", (after, limit)
            ).fetchall()
        else:
            rows = self.conn.execute(
                "SELECT * FROM events WHERE step=? AND id>? ORDER BY id LIMIT ?",
                (step, after, limit),
            ).fetchall()
        return [_event(r) for r in rows]

    def run_step_event(self, run_id: str, step: str) -> Event | None:
        """What one run last did to a step: its newest event for it that is not about the
        lease. Unlike the step's row, which every run sharing the sidecar updates, only
        that run writes these (a batch driver reads back its own run's outcome)."""
        row = self.conn.execute(
            f"SELECT * FROM events WHERE step=? AND run_id=? AND {_NOT_LEASE}"
            " ORDER BY id DESC LIMIT 1",
            (step, run_id, *LEASE_EVENTS),
        ).fetchone()
        return _event(row) if row else None

    def latest_events(self, kind: str) -> dict[str, Event]:
        """For each step (of the steps table) whose latest event is of `kind`, that event:
        a state the step stays in until anything else happens to it (its inputs missing, a
        sleep). Who held the step (lease events) is not something that happened to it."""
        # One index lookup per known step (events_step), whatever the log's length.
        rows = self.conn.execute(
            "SELECT e.* FROM steps s JOIN events e ON e.id = (SELECT id FROM events"
            f" WHERE step = s.name AND {_NOT_LEASE} ORDER BY id DESC LIMIT 1)"
            " WHERE e.kind=? ORDER BY e.id",
            (*LEASE_EVENTS, kind),
        ).fetchall()
        return {r["step"]: _event(r) for r in rows}

    def record_value_corrupt(
        self, run_id: str | None, step: str, name: str, blob: str, reason: str
    ) -> None:
        """A restored value's blob failed its hash check after it was bound (kernel/lazy.py):
        only an event; the blob was moved aside, so the step's next load misses it."""
        with write_txn(self.conn) as c:
            event_txn(
                c, run_id, step, "value_corrupt", {"name": name, "blob": blob, "reason": reason}
            )


def _event(row: sqlite3.Row) -> Event:
    return Event(**{**dict(row), "detail": _detail(row["detail"])})


def _detail(text: str) -> dict[str, Any]:
    """An event's detail; a damaged one reads as empty rather than failing every reader."""
    try:
        found = json.loads(text)
    except (TypeError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}
