"""The embedded store: `state.sqlite` plus content-addressed `blobs/` in the sidecar.

`Store` is assembled from one mixin per concern (runs, steps, checkpoints, approvals,
journal, events, maintenance): one public method per transaction, `_x_txn(conn)` helpers
beneath them. Every public method translates sqlite3 errors into ours on the way out.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from ..errors import SidecarError
from .approvals import ApprovalsTable
from .blobs import BlobStore
from .checkpoints import CheckpointsTable
from .connection import BUSY_TIMEOUT_MS, connect, translate_errors
from .events import EventsTable
from .journal import JournalTable
from .maintenance import Maintenance
from .runs import RunsTable
from .schema import check_version, migrate
from .steps import StepsTable

DB_NAME = "state.sqlite"
BLOB_DIR = "blobs"

C = TypeVar("C", bound=type)


def database_path(root: Path) -> Path:
    """The database file of a sidecar (readers watch its identity to notice a new one)."""
    return Path(root) / DB_NAME


def sidecar_exists(root: Path) -> bool:
    """Whether a step ever ran with this sidecar (its database file exists)."""
    return database_path(root).is_file()


def _translating(cls: C) -> C:
    """Wrap every public method so no sqlite3 error leaves the store untranslated."""
    for name in dir(cls):
        if name.startswith("_"):
            continue
        method = getattr(cls, name)
        if not callable(method) or isinstance(method, type):
            continue

        def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(fn)
            def translated(*args: Any, **kwargs: Any) -> Any:
                with translate_errors():
                    return fn(*args, **kwargs)

            return translated

        setattr(cls, name, wrap(method))
    return cls


@_translating
class Store(
    RunsTable,
    StepsTable,
    CheckpointsTable,
    ApprovalsTable,
    JournalTable,
    EventsTable,
    Maintenance,
):
    """The sidecar directory: `state.sqlite` plus content-addressed `blobs/`."""

    def __init__(
        self,
        root: Path,
        *,
        readonly: bool = False,
        recover: bool = False,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
    ) -> None:
        """`recover`: also record steps that a dead process left `running` as `interrupted`
        (a kernel opening its sidecar does this once)."""
        self.root = Path(root)
        self.readonly = readonly
        self.db_path = self.root / DB_NAME
        self.blobs = BlobStore(self.root / BLOB_DIR)
        with translate_errors():
            self._open(readonly, busy_timeout_ms)
        if recover and not readonly:
            self.mark_interrupted(None)

    def _open(self, readonly: bool, busy_timeout_ms: int) -> None:
        if readonly:
            if not self.db_path.exists():
                raise SidecarError(f"no sidecar at {self.root}")
            self.conn = connect(self.db_path, readonly=True, busy_timeout_ms=busy_timeout_ms)
            if check_version(self.conn, str(self.db_path)) == 0:
                self.conn.close()
                raise SidecarError(f"sidecar {self.root} was never initialized (no steps ran)")
            return
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SidecarError(f"cannot create sidecar {self.root}: {exc}") from exc
        if self.db_path.exists():
            # Refuse a newer (or foreign) file before connect() switches it to WAL.
            probe = connect(self.db_path, readonly=True, busy_timeout_ms=busy_timeout_ms)
            try:
                check_version(probe, str(self.db_path))
            finally:
                probe.close()
        self.conn = connect(self.db_path, busy_timeout_ms=busy_timeout_ms)
        migrate(self.conn, str(self.db_path))

    def close(self) -> None:
        self.conn.close()

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
