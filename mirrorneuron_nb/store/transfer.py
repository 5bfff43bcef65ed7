"""Copy a notebook's whole store to another store (`mn-nb push` / `mn-nb pull`): every
record with its ids, the store's id that signatures are bound to, and the blob files, so
whoever opens the copy resumes from it as from the original (with the same signing key).

The blobs are copied (and fsynced) before the rows that point at them commit, like a
checkpoint. Leases and waiters are not copied: they belong to processes of the source.
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidInput
from .base import Conn, Tables
from .connection import write_txn
from .manifest import write_manifest_txn

# Parents before children (foreign keys); deleted in the reverse order.
TABLES = (
    "meta",
    "runs",
    "steps",
    "attempts",
    "checkpoints",
    "checkpoint_vars",
    "blobs",
    "events",
    "durable_calls",
    "approvals",
)


def copy_store(source: Tables, target: Tables, *, replace: bool) -> dict[str, int]:
    """Make `target` hold what `source` holds; returns rows copied per table (and "blob
    files"). Refused when `target` already records steps, unless `replace`."""
    held = int(target.conn.execute("SELECT COUNT(*) FROM steps").fetchone()[0])
    if held and not replace:
        raise InvalidInput(
            f"the destination already records {held} step(s) of this notebook: "
            "pass --replace to overwrite them"
        )
    rows = {t: _rows(source.conn, t) for t in TABLES}
    files = 0
    for r in rows["blobs"]:
        key, size = str(r["hash"]), int(r["size"])
        if target.blobs.exists(key, size) or not source.blobs.exists(key, size):
            continue  # already there; or lost at the source (its values say so on load)
        target.blobs.put(key, [source.blobs.read(key, size)])  # read checks its hash
        files += 1
    target.blobs.sync_dirs([str(r["hash"]) for r in rows["blobs"]])
    columns = {t: _columns(target.conn, t) for t in TABLES}
    with write_txn(target.conn) as c:
        for table in ("leases", "lease_waiters", *reversed(TABLES)):
            c.execute(f"DELETE FROM {table}")
        for table in TABLES:
            _insert(c, table, rows[table], columns[table])
        after = getattr(target, "after_import_txn", None)
        if after is not None:
            after(c)
        if target.keeps_manifest:
            for r in rows["checkpoints"]:
                write_manifest_txn(c, target.root, int(r["id"]))
    target._sidecar_id, target._meta = "", None  # the copy brought the source's id
    counts = {t: len(rows[t]) for t in TABLES}
    counts["blob files"] = files
    return counts


def _rows(c: Conn, table: str) -> list[dict[str, Any]]:
    cur = c.execute(f"SELECT * FROM {table}")
    return [dict(zip(r.keys(), r, strict=True)) for r in cur.fetchall()]


def _columns(c: Conn, table: str) -> list[str]:
    cur = c.execute(f"SELECT * FROM {table} LIMIT 0")
    description = getattr(cur, "description", None) or ()
    return [d[0] for d in description]


def _insert(c: Conn, table: str, rows: list[dict[str, Any]], columns: list[str]) -> None:
    if not rows:
        return
    # Only the columns both sides have (PostgreSQL's checkpoint_vars has a rowid column).
    names = [n for n in columns if n in rows[0] and n != "rowid"]
    marks = ",".join("?" * len(names))
    c.executemany(
        f"INSERT INTO {table}({', '.join(names)}) VALUES ({marks})",
        [tuple(r[n] for n in names) for r in rows],
    )
