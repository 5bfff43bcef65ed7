"""Rebuild a lost or damaged sidecar database from its manifest log (store/manifest.py).

The caller (`mn-nb doctor --rebuild`) decides which manifests to use: only those whose
checkpoint and values verify with this user's key. The new database is built beside the
old one under a temporary name and renamed into place in one step; the old files are
kept aside (`state.sqlite.damaged-TIME`), never deleted.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..models import StepStatus
from .base import event_txn
from .connection import connect, translate_errors, write_txn
from .manifest import Manifest
from .schema import migrate


@dataclass
class Rebuilt:
    steps: list[str] = field(default_factory=list)
    """Steps whose newest checkpoint is current again."""
    checkpoints: int = 0
    moved_aside: list[Path] = field(default_factory=list)
    """The old database files, renamed (never deleted)."""


def rebuild_database(db_path: Path, manifests: Sequence[Manifest], meta: dict[str, Any]) -> Rebuilt:
    """Write a new database at `db_path` holding `manifests` (and the sidecar identity
    `meta`), moving any old database files aside."""
    result = Rebuilt()
    tmp = db_path.with_name(f".{db_path.name}.rebuild-{os.getpid()}")
    for leftover in _files(tmp):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()
    with translate_errors():
        _build(tmp, manifests, meta, result)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for old in _files(db_path):
        if old.exists():
            aside = old.with_name(f"{old.name}.damaged-{stamp}")
            os.replace(old, aside)
            result.moved_aside.append(aside)
    os.replace(tmp, db_path)
    _sync_dir(db_path.parent)
    return result


def _build(tmp: Path, manifests: Sequence[Manifest], meta: dict[str, Any], result: Rebuilt) -> None:
    conn = connect(tmp)
    try:
        migrate(conn, str(tmp))
        with write_txn(conn) as c:
            _fill_txn(c, manifests, meta, result)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=DELETE")  # one self-contained file to rename
    finally:
        conn.close()


def _fill_txn(
    c: sqlite3.Connection, manifests: Sequence[Manifest], meta: dict[str, Any], result: Rebuilt
) -> None:
    if meta and _columns(c, "meta"):
        c.execute("DELETE FROM meta")
        c.executemany("INSERT INTO meta(key, value) VALUES (?,?)", sorted(meta.items()))
    ordered = sorted(manifests, key=lambda m: int(m.checkpoint["id"]))
    newest = {str(m.step["name"]): m for m in ordered}
    now = time.time()
    for name, m in newest.items():  # steps first: checkpoints refer to them
        ckpt = m.checkpoint
        _insert(
            c,
            "steps",
            {
                **m.step,
                "status": StepStatus.succeeded.value,
                "checkpoint_id": ckpt["id"],
                "run_id": ckpt.get("run_id"),
                "ended_at": ckpt.get("created_at"),
                "duration": ckpt.get("duration"),
                "updated_at": now,
            },
        )
        result.steps.append(name)
    for m in ordered:
        _insert(c, "checkpoints", m.checkpoint)
        for row in m.variables:
            _insert(c, "checkpoint_vars", {**row, "checkpoint_id": m.checkpoint["id"]})
        result.checkpoints += 1
    event_txn(c, None, None, "rebuilt", {"steps": result.steps, "checkpoints": result.checkpoints})


def _insert(c: sqlite3.Connection, table: str, row: dict[str, Any]) -> None:
    """Insert the fields of `row` this schema has (a manifest may come from an older one)."""
    known = _columns(c, table)
    cols = [k for k in row if k in known]
    c.execute(
        f"INSERT OR REPLACE INTO {table}({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
        [row[k] for k in cols],
    )


def _columns(c: sqlite3.Connection, table: str) -> set[str]:
    return {str(r[1]) for r in c.execute(f"PRAGMA table_info({table})")}


def _files(db_path: Path) -> list[Path]:
    return [db_path, *(db_path.with_name(db_path.name + s) for s in ("-wal", "-shm"))]


def _sync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
