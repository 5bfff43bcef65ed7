"""Is a sidecar's database intact, and what do its rows say is stored? The inventory
`mn-nb doctor` reports (batch/doctor.py checks the blobs against it).

It reads through a fresh read-only connection: one that has been open for a while may
answer from its page cache, not from what is on disk now.
"""

from __future__ import annotations

import json
import sqlite3
import struct
from dataclasses import dataclass, field
from pathlib import Path

from .guard import DB_NAME, readonly_connection
from .schema import SCHEMA_VERSION

_WAL_MAGIC = (0x377F0682, 0x377F0683)


# -- the doctor's inventory --------------------------------------------------------------------


@dataclass
class DatabaseHealth:
    exists: bool
    size: int
    integrity: list[str]
    """Problems PRAGMA integrity_check found (empty when intact)."""
    schema_version: int | None
    wal: str | None
    """Why the write-ahead log is not this database's, or None when fine (or absent)."""
    readable: bool
    """Whether the rows could be read (the inventory below is complete)."""

    @property
    def healthy(self) -> bool:
        return (
            self.exists
            and self.readable
            and not self.integrity
            and self.wal is None
            and self.schema_version is not None
            and 0 < self.schema_version <= SCHEMA_VERSION
        )


@dataclass
class BlobUse:
    """A blob some row needs: which value of which step, and how many bytes it must hold."""

    key: str
    size: int
    step: str
    label: str
    current: bool
    """Part of a step's current checkpoint (what %mn_resume restores)."""


@dataclass
class Inventory:
    """What the database's rows say is stored."""

    steps: list[str] = field(default_factory=list)
    checkpointed: set[str] = field(default_factory=set)
    """Steps that have a current checkpoint."""
    uses: list[BlobUse] = field(default_factory=list)
    indexed: dict[str, int] = field(default_factory=dict)
    """The blobs table: key -> size."""


def check_database(root: Path) -> tuple[DatabaseHealth, Inventory]:
    """PRAGMA integrity_check, the schema version, the log's header, and the rows."""
    db = root / DB_NAME
    inventory = Inventory()
    if not db.is_file():
        return DatabaseHealth(False, 0, [], None, None, False), inventory
    size = db.stat().st_size
    if size == 0:
        return DatabaseHealth(True, 0, ["the file is empty"], 0, None, False), inventory
    problems: list[str] = []
    version: int | None = None
    readable = False
    try:
        conn = readonly_connection(db)
    except sqlite3.Error as exc:
        return DatabaseHealth(True, size, [str(exc)], None, None, False), inventory
    try:
        try:
            rows = conn.execute("PRAGMA integrity_check").fetchall()
            problems = [line for r in rows if r[0] != "ok" for line in str(r[0]).splitlines()]
        except sqlite3.Error as exc:
            problems = [str(exc)]
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
        except sqlite3.Error as exc:
            problems.append(str(exc))
            page_size = 0
        try:
            inventory = _inventory(conn)
            readable = True
        except (sqlite3.Error, ValueError) as exc:
            problems.append(f"rows cannot be read: {exc}")
    finally:
        conn.close()
    problems = [p for p in problems if not p.startswith("***")]
    wal = _wal_problem(root / f"{DB_NAME}-wal", page_size)
    return DatabaseHealth(True, size, problems, version, wal, readable), inventory


def _wal_problem(path: Path, page_size: int) -> str | None:
    """A log whose header is not a SQLite log of this page size is not this database's."""
    try:
        with open(path, "rb") as fh:
            header = fh.read(32)
    except FileNotFoundError:
        return None
    if not header:
        return None  # an empty log: nothing to apply
    if len(header) < 32:
        return "state.sqlite-wal is truncated (shorter than its header)"
    magic, _version, wal_page_size = struct.unpack(">III", header[:12])
    if magic not in _WAL_MAGIC:
        return "state.sqlite-wal is not a SQLite write-ahead log"
    if page_size and wal_page_size != page_size:
        return f"state.sqlite-wal has pages of {wal_page_size} bytes, the database {page_size}"
    return None


def _inventory(conn: sqlite3.Connection) -> Inventory:
    conn.row_factory = sqlite3.Row
    out = Inventory()
    rows = conn.execute("SELECT name, checkpoint_id FROM steps ORDER BY position").fetchall()
    out.steps = [str(r[0]) for r in rows]
    out.checkpointed = {str(r[0]) for r in rows if r[1] is not None}
    out.indexed = {str(r[0]): int(r[1]) for r in conn.execute("SELECT hash, size FROM blobs")}
    values = conn.execute(
        "SELECT c.step, c.id, v.name, v.size, v.stream_blob, v.buffers, v.stream_size,"
        " (s.checkpoint_id = c.id) AS current FROM checkpoint_vars v"
        " JOIN checkpoints c ON c.id = v.checkpoint_id LEFT JOIN steps s ON s.name = c.step"
        " WHERE v.error IS NULL ORDER BY c.id, v.name"
    ).fetchall()
    for r in values:
        label = f"{r['name']} (checkpoint {r['id']})"
        _add_uses(out, r, str(r["step"]), label, bool(r["current"]))
    calls = conn.execute(
        "SELECT id, step, function AS name, size, stream_blob, buffers, NULL AS stream_size"
        " FROM durable_calls WHERE serializer IS NOT NULL"
    ).fetchall()
    for r in calls:
        _add_uses(out, r, str(r["step"]), f"durable call {r['id']} ({r['name']})", False)
    return out
    manifests = conn.execute(
        "SELECT c.step, c.id, c.manifest, b.size FROM checkpoints c"
        " LEFT JOIN blobs b ON b.hash = c.manifest WHERE c.manifest IS NOT NULL"
    ).fetchall()
    for r in manifests:
        label = f"manifest of checkpoint {r['id']}"
        out.uses.append(
            BlobUse(str(r["manifest"]), int(r["size"] or 0), str(r["step"]), label, False)
        )
    return out


def _add_uses(out: Inventory, row: sqlite3.Row, step: str, label: str, current: bool) -> None:
    buffers = [(str(k), int(n)) for k, n in json.loads(row["buffers"])]
    if row["stream_blob"]:
        stream = row["stream_size"]
        if stream is None:
            stream = int(row["size"]) - sum(n for _, n in buffers)
        out.uses.append(BlobUse(str(row["stream_blob"]), int(stream), step, label, current))
    for key, n in buffers:
        out.uses.append(BlobUse(key, n, step, label, current))
