"""SQLite connections shared by kernel, server and CLI processes.

WAL lets readers (server, CLI) proceed while the kernel writes; busy_timeout absorbs
short lock waits; writes take the lock up front (BEGIN IMMEDIATE) so they never fail
half-way on an upgrade from a read lock.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from ..errors import SidecarError, SidecarLocked

BUSY_TIMEOUT_MS = 30_000


def connect(
    path: Path, *, readonly: bool = False, busy_timeout_ms: int = BUSY_TIMEOUT_MS
) -> sqlite3.Connection:
    """busy_timeout_ms: how long a statement waits for another process's lock before failing
    (a server answering requests waits less than a kernel recording a step)."""
    try:
        if readonly:
            conn = sqlite3.connect(
                f"file:{path}?mode=ro",
                uri=True,
                timeout=busy_timeout_ms / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
        else:
            conn = sqlite3.connect(
                path,
                timeout=busy_timeout_ms / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
            # WAL + NORMAL: a killed process never corrupts the file or loses a commit;
            # only an OS crash may drop the last commits, which stay consistent.
            _enable_wal(conn, busy_timeout_ms)
            conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.row_factory = sqlite3.Row
        return conn
    except sqlite3.DatabaseError as exc:
        raise SidecarError(f"cannot open sidecar database {path}: {exc}") from exc


def _enable_wal(conn: sqlite3.Connection, busy_timeout_ms: int) -> None:
    """Switch to WAL, retrying while another process holds the lock: SQLite does not call
    the busy handler for this pragma, so two kernels creating one sidecar at the same
    instant would otherwise see 'database is locked'."""
    deadline = time.monotonic() + busy_timeout_ms / 1000
    delay = 0.005
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)


def is_lock_error(exc: BaseException | None) -> bool:
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


@contextlib.contextmanager
def translate_errors() -> Iterator[None]:
    """sqlite3 errors leave the store as ours: locked (retry later) or unreadable.

    This is the only place they are translated; nothing outside store/ sees sqlite3."""
    try:
        yield
    except SidecarLocked:
        raise
    except SidecarError as exc:
        if is_lock_error(exc.__cause__):
            raise SidecarLocked(f"sidecar is locked by another process: {exc.__cause__}") from exc
        raise
    except sqlite3.Error as exc:
        if is_lock_error(exc):
            raise SidecarLocked(f"sidecar is locked by another process: {exc}") from exc
        raise SidecarError(f"sidecar database is unreadable: {exc}") from exc


@contextlib.contextmanager
def write_txn(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction: BEGIN IMMEDIATE ... COMMIT, rolled back on any error."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        raise SidecarLocked(f"sidecar is locked by another process: {exc}") from exc
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")
