"""What every table module of the SQLite store shares: the connection and the blob files."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from .blob_backend import Blobs

# Events about who holds a step (store/leases.py), not about the step's own state.
LEASE_EVENTS = ("claimed", "released", "waiting", "stopped_waiting", "taken_over")


class Tables:
    """Base of the table mixins that make up `Store` (one module per concern)."""

    root: Path
    conn: sqlite3.Connection
    blobs: Blobs


def event_txn(
    c: sqlite3.Connection, run_id: str | None, step: str | None, kind: str, detail: dict[str, Any]
) -> None:
    """Append to the event log inside the caller's transaction: every state change is one."""
    c.execute(
        "INSERT INTO events(ts, run_id, step, kind, detail) VALUES (?,?,?,?,?)",
        (time.time(), run_id, step, kind, json.dumps(detail, default=repr)),
    )
