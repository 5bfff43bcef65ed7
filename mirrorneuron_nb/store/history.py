"""What the last runs did, read in one go for the timeline (mirrorneuron_nb/timeline.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ..models import Approval, Attempt, Event, Run
from .base import Tables, event_txn
from .connection import write_txn
from .events import _event

# The events a timeline draws from: restored steps, lease waits, durable waits, resumes.
TIMELINE_EVENTS = (
    "cached",
    "resumed",
    "waiting",
    "stopped_waiting",
    "claimed",
    "sleeping",
    "woke",
)


@dataclass(frozen=True)
class RunHistory:
    """The newest runs (newest first) and what happened in them, oldest first."""

    runs: list[Run] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    approvals: list[Approval] = field(default_factory=list)
    durations: dict[int, float] = field(default_factory=dict)
    """Checkpoint id -> how long the step ran when it made that checkpoint."""


class HistoryTable(Tables):
    def record_resume(
        self, run_id: str, checkpoints: dict[str, int], restored: int, missing: list[str]
    ) -> None:
        """A `%mn_resume` (typed, or sent by the panel) brought back these steps' values:
        one `resumed` event, which the log and the timeline show."""
        with write_txn(self.conn) as c:
            event_txn(
                c,
                run_id,
                None,
                "resumed",
                {
                    "steps": list(checkpoints),
                    "checkpoints": checkpoints,
                    "variables": restored,
                    "missing": missing,
                },
            )

    def run_history(self, limit: int) -> RunHistory:
        rows = self.conn.execute(
            "SELECT * FROM runs ORDER BY started_at DESC, id DESC LIMIT ?", (limit,)
        ).fetchall()
        runs = [Run(**{**dict(r), "parameters": json.loads(r["parameters"])}) for r in rows]
        if not runs:
            return RunHistory()
        ids = [r.id for r in runs]
        marks = ",".join("?" * len(ids))
        attempts = [
            Attempt(**dict(r))
            for r in self.conn.execute(
                f"SELECT * FROM attempts WHERE run_id IN ({marks}) ORDER BY id", ids
            )
        ]
        kinds = ",".join("?" * len(TIMELINE_EVENTS))
        events = [
            _event(r)
            for r in self.conn.execute(
                f"SELECT * FROM events WHERE run_id IN ({marks}) AND kind IN ({kinds}) ORDER BY id",
                (*ids, *TIMELINE_EVENTS),
            )
        ]
        approvals = [
            Approval(**dict(r))
            for r in self.conn.execute(
                f"SELECT * FROM approvals WHERE run_id IN ({marks}) ORDER BY id", ids
            )
        ]
        wanted = sorted({c for e in events for c in _checkpoint_ids(e)})
        durations: dict[int, float] = {}
        if wanted:
            found = self.conn.execute(
                f"SELECT id, duration FROM checkpoints WHERE id IN ({','.join('?' * len(wanted))})",
                wanted,
            )
            durations = {int(r["id"]): float(r["duration"]) for r in found}
        return RunHistory(runs, attempts, events, approvals, durations)


def _checkpoint_ids(event: Event) -> list[int]:
    """The checkpoints a `cached` or `resumed` event restored from (detail is untrusted)."""
    if event.kind == "cached":
        found = [event.detail.get("checkpoint")]
    elif event.kind == "resumed":
        checkpoints = event.detail.get("checkpoints")
        found = list(checkpoints.values()) if isinstance(checkpoints, dict) else []
    else:
        return []
    return [c for c in found if isinstance(c, int) and not isinstance(c, bool)]
