"""The embedded store: `state.sqlite` plus content-addressed `blobs/` in the sidecar.

`Store` is assembled from one mixin per concern (runs, steps, checkpoints, approvals,
journal, events, maintenance): one public method per transaction, `_x_txn(conn)` helpers
beneath them. Every public method translates sqlite3 errors into ours on the way out.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from ..errors import SidecarDamaged, SidecarError
from .approvals import ApprovalsTable
from .base import translating
from .blob_backend import open_blobs
from .checkpoints import CheckpointsTable
from .connection import BUSY_TIMEOUT_MS, GuardedConnection, connect, translate_errors
from .events import EventsTable
from .guard import BLOB_DIR, DB_NAME, WriteGuard, doctor_hint, empty_database_error
from .history import HistoryTable
from .journal import JournalTable
from .leases import LeasesTable
from .look_cache import attach, detach
from .maintenance import Maintenance
from .runs import RunsTable
from .schema import check_version, migrate
from .sleeps import SleepsTable
from .steps import StepsTable


def database_path(root: Path) -> Path:
    """The database file of a sidecar (readers watch its identity to notice a new one)."""
    return Path(root) / DB_NAME


def sidecar_exists(root: Path) -> bool:
    """Whether a step ever ran with this sidecar (its database file exists)."""
    return database_path(root).is_file()


_translating = translating(lambda store: translate_errors(getattr(store, "root", None)))
"""No sqlite3 error leaves the store untranslated."""


@_translating
class Store(
    RunsTable,
    StepsTable,
    CheckpointsTable,
    ApprovalsTable,
    JournalTable,
    LeasesTable,
    EventsTable,
    HistoryTable,
    SleepsTable,
    Maintenance,
):
    """The sidecar directory: `state.sqlite` plus content-addressed `blobs/`."""

    backend = "sqlite"
    conn: GuardedConnection

    def __init__(
        self,
        root: Path,
        *,
        readonly: bool = False,
        recover: bool = False,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
        verify: bool | None = None,
    ) -> None:
        """`recover`: also record steps that a dead process left `running` as `interrupted`
        (a kernel opening its sidecar does this once). `verify`: quick_check the database
        as it opens (default: writers do; a damaged file is never written to)."""
        self.root = Path(root)
        self.readonly = readonly
        self.db_path = self.root / DB_NAME
        self.blobs = open_blobs(self.root / BLOB_DIR)  # MIRRORNEURON_BLOBS, else beside
        self._busy_timeout_ms = busy_timeout_ms
        with translate_errors(self.root):
            self._open(readonly, busy_timeout_ms, not readonly if verify is None else verify)
        if recover and not readonly:
            self.mark_interrupted(None)

    def _open(self, readonly: bool, busy_timeout_ms: int, verify: bool) -> None:
        if readonly:
            if not self.db_path.exists():
                raise SidecarError(f"no sidecar at {self.root}")
            self.conn = connect(self.db_path, readonly=True, busy_timeout_ms=busy_timeout_ms)
            try:
                if check_version(self.conn, str(self.db_path)) == 0:
                    lost = empty_database_error(self.root)
                    if lost is not None:
                        raise SidecarDamaged(lost)
                    raise SidecarError(f"sidecar {self.root} was never initialized (no steps ran)")
                if verify:
                    _quick_check(self.conn, self.root)
            except BaseException:
                self.conn.close()
                raise
            return
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SidecarError(f"cannot create sidecar {self.root}: {exc}") from exc
        if not self.db_path.exists() or self.db_path.stat().st_size == 0:
            # A used sidecar whose database is gone or empty is damaged, not new: a new
            # database would make its blobs look unused (and gc would delete them).
            lost = empty_database_error(self.root)
            if lost is not None:
                raise SidecarDamaged(lost)
        if self.db_path.exists():
            # Refuse a newer (or foreign, or damaged) file before connect() switches it to WAL.
            probe = connect(self.db_path, readonly=True, busy_timeout_ms=busy_timeout_ms)
            try:
                if check_version(probe, str(self.db_path)) == 0:
                    lost = empty_database_error(self.root)
                    if lost is not None:
                        raise SidecarDamaged(lost)
                if verify:
                    _quick_check(probe, self.root)
            finally:
                probe.close()
        self.conn = self._connect_writer()
        migrate(self.conn, str(self.db_path))

    def _connect_writer(self) -> GuardedConnection:
        conn = connect(self.db_path, busy_timeout_ms=self._busy_timeout_ms)
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # opens the log
        conn.guard = WriteGuard(self.root, self.db_path, self._reopen)
        return conn

    def _reopen(self) -> None:
        """A new connection on the files now on disk (the guard saved the old one's log)."""
        old = self.conn
        self.conn = self._connect_writer()
        if self._looks is not None:
            self._detach_looks()
            self._looks = attach(self.db_path)
        with contextlib.suppress(Exception):
            old.close()

    def check_writable(self) -> None:
        """The guard's look before a write (guard.py), without a write: SidecarDamaged when
        the database file was deleted, replaced or damaged. For a write the writer thread
        makes behind the cell, so the cell refuses a damaged sidecar itself."""
        guard = getattr(self.conn, "guard", None)
        if guard is not None:
            with translate_errors(self.root):
                guard.before_write(self.conn)

    def supports(self, operation: str) -> bool:
        """Whether this backend has `operation` (doctor, rebuild, integrity, vacuum, wal):
        a SQLite sidecar has them all; see postgres.SQLITE_ONLY."""
        return True

    def close(self) -> None:
        self._detach_looks()
        self.conn.close()

    def _detach_looks(self) -> None:
        looks, self._looks = self._looks, None
        if looks is not None:
            detach(looks)

    def keep_looks(self) -> None:
        """Answer looks before steps from what `refresh_looks` read, while nothing has
        committed since (look_cache.py): a kernel's stores, main and writer."""
        if self._looks is None and not self.readonly:
            self._looks = attach(self.db_path)

    def forget_looks(self) -> None:
        """The next look asks the database, until `refresh_looks` reads again."""
        if self._looks is not None:
            self._looks.distrust()

    def refresh_looks(self) -> None:
        """Read again what a look before a step finds (look_cache.py), when anything
        committed since it was read: the kernel's writer thread, behind the cells."""
        if self._looks is not None:
            self._looks.refresh(self.conn)

    def data_version(self) -> int:
        """Changes exactly when another connection commits: a cheap "anything new?"."""
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Store]:
        """One read transaction: every query inside sees the same committed state."""
        with translate_errors():
            self.conn.execute("BEGIN")
        try:
            yield self
        finally:
            with contextlib.suppress(Exception):
                self.conn.execute("ROLLBACK")


def _quick_check(conn: GuardedConnection, root: Path) -> None:
    """Refuse a database whose pages are damaged (a fresh connection reads the disk)."""
    rows = conn.execute("PRAGMA quick_check").fetchall()
    problems = [str(r[0]) for r in rows if r[0] != "ok"]
    if problems:
        lines = [x for p in problems for x in p.splitlines() if not x.startswith("***")]
        raise SidecarDamaged(
            f"sidecar {root}: state.sqlite is damaged ({lines[0] if lines else 'quick_check'}); "
            f"nothing is written to it; {doctor_hint(root)}"
        )
