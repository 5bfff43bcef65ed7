"""Work on the sidecar as a whole: reset, garbage collection, export (re-signing: signed.py)."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Sequence
from typing import Any

from ..errors import SidecarDamaged, UnknownStep
from ..models import GcPlan, StepStatus
from .base import Tables, event_txn
from .connection import write_txn
from .guard import blob_files, doctor_hint
from .journal import delete_open_calls_txn
from .manifest import compact_txn, write_reset_txn

EXPORTED_TABLES = ("runs", "steps", "attempts", "checkpoints", "approvals", "events")


class Maintenance(Tables):
    def reset(self, names: Sequence[str] | None, run_id: str | None = None) -> list[str]:
        """Drop checkpoints so the steps run again. None means every step."""
        with write_txn(self.conn) as c:
            known = [r[0] for r in c.execute("SELECT name FROM steps ORDER BY position")]
            targets = known if names is None else list(names)
            missing = [n for n in targets if n not in known]
            if missing:
                raise UnknownStep(f"unknown step(s): {', '.join(missing)}")
            for name in targets:
                c.execute("DELETE FROM checkpoints WHERE step=?", (name,))
                delete_open_calls_txn(c, name)
                c.execute("UPDATE approvals SET consumed=1 WHERE step=?", (name,))
                c.execute(
                    "UPDATE steps SET status=?, checkpoint_id=NULL, error=NULL, traceback=NULL,"
                    " attempts=0, updated_at=? WHERE name=?",
                    (StepStatus.pending.value, time.time(), name),
                )
                event_txn(c, run_id, name, "reset", {})
            if self.keeps_manifest:
                write_reset_txn(self.root, targets)
            return targets

    def gc(self, keep_runs: int | None = None) -> GcPlan:
        """Drop checkpoints no longer needed; return the blobs nothing references any more.

        Every step's current checkpoint is kept. With `keep_runs`, other checkpoints are
        kept only if one of the newest `keep_runs` runs wrote them. The caller deletes
        the returned blob files (after a grace period; see BlobStore.collect).

        Refused (SidecarDamaged) when the database records no step while blob files exist:
        its records are lost, and every blob would look unused.
        """
        with write_txn(self.conn) as c:
            if c.execute("SELECT COUNT(*) FROM steps").fetchone()[0] == 0:
                files = blob_files(self.root)
                if files:
                    raise SidecarDamaged(
                        f"sidecar {self.root} looks damaged: its database records no step "
                        f"but it holds {len(files)} blob file(s), so gc deletes nothing; "
                        f"{doctor_hint(self.root)}"
                    )
            dropped = 0
            if keep_runs is not None:
                recent = [
                    r[0]
                    for r in c.execute(
                        "SELECT id FROM runs ORDER BY started_at DESC LIMIT ?", (keep_runs,)
                    )
                ]
                # `x NOT IN (NULL)` is never true: with no run kept, every old one goes.
                marks = ",".join("?" * len(recent))
                kept = f"(run_id IS NULL OR run_id NOT IN ({marks}))" if recent else "TRUE"
                cur = c.execute(
                    "DELETE FROM checkpoints WHERE id NOT IN (SELECT checkpoint_id FROM steps"
                    f" WHERE checkpoint_id IS NOT NULL) AND {kept}",
                    recent,
                )
                dropped = cur.rowcount
                if dropped and self.keeps_manifest:
                    compact_txn(c, self.root)
            referenced: set[str] = set()
            for row in c.execute(
                "SELECT stream_blob, buffers FROM checkpoint_vars"
                " UNION ALL SELECT stream_blob, buffers FROM durable_calls"
            ):
                if row["stream_blob"]:
                    referenced.add(row["stream_blob"])
                referenced.update(key for key, _ in json.loads(row["buffers"]))
            rows = c.execute("SELECT hash FROM blobs").fetchall()
            unused = [r["hash"] for r in rows if r["hash"] not in referenced]
            c.executemany("DELETE FROM blobs WHERE hash=?", [(h,) for h in unused])
            event_txn(
                c,
                None,
                None,
                "gc",
                {"checkpoints_dropped": dropped, "blobs_unreferenced": len(unused)},
            )
        return GcPlan(dropped, frozenset(referenced))

    def truncate_wal(self) -> None:
        """Fold the write-ahead log into the database file (after a gc freed space)."""
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def has_table(self, name: str) -> bool:
        """A read-only store may be a sidecar from before a table existed."""
        import sqlite_utils

        assert isinstance(self.conn, sqlite3.Connection)  # PostgreSQL: postgres.py
        return name in sqlite_utils.Database(self.conn).table_names()

    def export(self) -> dict[str, list[dict[str, Any]]]:
        """The sidecar's records (no values): runs, steps, attempts, checkpoints, approvals
        and events, table by table, as plain rows."""
        import sqlite_utils

        assert isinstance(self.conn, sqlite3.Connection)  # PostgreSQL: postgres.py
        db = sqlite_utils.Database(self.conn)
        present = set(db.table_names())
        return {
            name: [_plain(row) for row in db[name].rows]
            for name in EXPORTED_TABLES
            if name in present
        }


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, bytes):
            value = f"<{len(value)} bytes>"
        elif isinstance(value, str) and key in ("parameters", "options", "detail", "inputs"):
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        out[key] = value
    return out
