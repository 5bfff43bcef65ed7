"""SQLite connections shared by kernel, server and CLI processes.

WAL lets readers (server, CLI) proceed while the kernel writes; busy_timeout absorbs
short lock waits; writes take the lock up front (BEGIN IMMEDIATE) so they never fail
half-way on an upgrade from a read lock. A writer's connection carries a guard (guard.py)
that refuses to write once its files are damaged, vanished or replaced.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, TypeVar

from ..errors import SidecarDamaged, SidecarError, SidecarFull, SidecarLocked
from .guard import doctor_hint

BUSY_TIMEOUT_MS = 30_000

C = TypeVar("C")


class Guard(Protocol):
    def before_write(self, conn: sqlite3.Connection) -> None: ...


class GuardedConnection(sqlite3.Connection):
    """A connection that may carry the guard of the files it writes (writers only)."""

    guard: Guard | None = None


def connect(
    path: Path, *, readonly: bool = False, busy_timeout_ms: int = BUSY_TIMEOUT_MS
) -> GuardedConnection:
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
                factory=GuardedConnection,
            )
        else:
            conn = sqlite3.connect(
                path,
                timeout=busy_timeout_ms / 1000,
                isolation_level=None,
                check_same_thread=False,
                factory=GuardedConnection,
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
        raise classify(exc, Path(path).parent, f"cannot open sidecar database {path}") from exc


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


_DAMAGED = ("SQLITE_CORRUPT", "SQLITE_NOTADB", "SQLITE_IOERR")


def classify(exc: sqlite3.Error, root: Path | None, what: str) -> SidecarError:
    """Ours for a sqlite3 error: locked (retry later), full, damaged, or unreadable."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    where = f" {root}" if root is not None else ""
    if is_lock_error(exc):
        return SidecarLocked(f"sidecar is locked by another process: {exc}")
    if name.startswith("SQLITE_FULL"):
        return SidecarFull(
            f"no space left for the sidecar database{where} ({exc}); free some space"
        )
    if name.startswith(_DAMAGED):
        hint = doctor_hint(root) if root is not None else "run `mn-nb doctor NOTEBOOK`"
        return SidecarDamaged(
            f"sidecar database is unreadable: {exc} (the sidecar{where} is damaged: nothing "
            f"is written to it; {hint})"
        )
    return SidecarError(f"{what}: {exc}")


class _Translated:
    """`translate_errors`: a class, not a generator, as it wraps every store call."""

    __slots__ = ("root",)

    def __init__(self, root: Path | None) -> None:
        self.root = root

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if exc is None or isinstance(exc, (SidecarLocked, SidecarDamaged, SidecarFull)):
            return
        if isinstance(exc, SidecarError):
            if isinstance(exc.__cause__, sqlite3.Error):
                raise classify(exc.__cause__, self.root, str(exc).partition(":")[0]) from exc
        elif isinstance(exc, sqlite3.Error):
            raise classify(exc, self.root, "sidecar database is unreadable") from exc


def translate_errors(root: Path | None = None) -> contextlib.AbstractContextManager[None]:
    """sqlite3 errors leave the store as ours: locked (retry later), full, damaged or
    unreadable.

    This is the only place they are translated; nothing outside store/ sees sqlite3."""
    return _Translated(root)


@contextlib.contextmanager
def write_txn(conn: C) -> Iterator[C]:
    """One write transaction: BEGIN IMMEDIATE ... COMMIT, rolled back on any error.

    The connection's guard runs first: nothing is written to a damaged or replaced file.
    A PostgreSQL connection brings its own (`write_transaction`: one writer per notebook)."""
    own = getattr(conn, "write_transaction", None)
    if own is not None:
        with own():
            yield conn
        return
    assert isinstance(conn, sqlite3.Connection)
    guard = getattr(conn, "guard", None)
    if guard is not None:
        guard.before_write(conn)
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if is_lock_error(exc):
            raise SidecarLocked(f"sidecar is locked by another process: {exc}") from exc
        raise
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        # A failed COMMIT (disk full) may leave the transaction open, and SQLite may have
        # rolled back already: either way the connection must be usable for the next one.
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise
