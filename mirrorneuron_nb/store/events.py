"""The append-only event log: every state transition, who and when (see base.event_txn)."""

from __future__ import annotations

import json

from ..models import Event
from .base import Tables


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
        return [Event(**{**dict(r), "detail": json.loads(r["detail"])}) for r in rows]
