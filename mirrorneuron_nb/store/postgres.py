"""The shared store: a notebook's rows in PostgreSQL (its own schema, postgres_schema.py)
and its blobs in a directory outside the notebook's folder (open.py says which).

`PostgresStore` is a `Store` (sqlite.py) with the same table mixins over a PostgreSQL
connection (postgres_conn.py), so callers annotated `Store` take either. What only makes
sense for a SQLite file (quick_check, the WAL, the manifest log, doctor/rebuild) is
answered here or refused by `supports`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import NothingStored
from .base import translating
from .blob_backend import Blobs
from .maintenance import EXPORTED_TABLES, _plain
from .postgres_conn import PgConnection, translate_pg_errors
from .postgres_schema import NotebookKey, check_version, describe, migrate, registered
from .sqlite import Store

_IDENTITIES = (
    ("attempts", "id"),
    ("checkpoints", "id"),
    ("checkpoint_vars", "rowid"),
    ("events", "id"),
    ("durable_calls", "id"),
    ("approvals", "id"),
    ("leases", "id"),
)

SQLITE_ONLY = frozenset({"doctor", "rebuild", "integrity", "vacuum", "wal"})
"""Operations on a sidecar's files that a PostgreSQL store has no equivalent for: use
pg_dump / pg_amcheck on the database instead."""


_pg_translating = translating(lambda store: translate_pg_errors())
"""No psycopg error leaves the store untranslated."""


@_pg_translating
class PostgresStore(Store):
    backend = "postgresql"
    keeps_manifest = False
    conn: PgConnection  # type: ignore[assignment]

    def __init__(
        self,
        url: str,
        key: NotebookKey,
        blobs: Blobs,
        *,
        root: Path | None = None,
        readonly: bool = False,
        recover: bool = False,
    ) -> None:
        """`root`: where the notebook's sidecar would be (named in messages; nothing is
        written there). `recover`: as for `Store`."""
        self.url, self.key, self.readonly = url, key, readonly
        self.root = Path(root) if root is not None else Path(blobs.location)
        self.db_path = self.root / "state.sqlite"  # never used: no file is opened
        self.where = f"{describe(url)} ({key.project}:{key.path})"
        self.blobs = blobs
        self.conn = PgConnection(url, key.schema, key.lock_key, readonly=readonly)
        with translate_pg_errors():
            self._open_pg(readonly)
        if recover and not readonly:
            self.mark_interrupted(None)

    def _open_pg(self, readonly: bool) -> None:
        try:
            with self.conn.session() as raw:
                if readonly:
                    if not registered(raw, self.key):
                        raise NothingStored(
                            f"no steps of this notebook in the shared store {self.where}"
                        )
                    check_version(raw, self.key)
                else:
                    migrate(raw, self.key)
        except BaseException:
            self.conn.close()
            raise

    def after_import_txn(self, c: Any) -> None:
        """Rows copied in with their ids (transfer.py): identities continue after them."""
        for table, column in _IDENTITIES:
            c.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'),"
                f" COALESCE(MAX({column}), 0) + 1, false) FROM {table}"
            )

    def check_writable(self) -> None:
        """No database file of ours to lose: the server refuses what it cannot write."""

    def supports(self, operation: str) -> bool:
        return operation not in SQLITE_ONLY

    def close(self) -> None:
        self.conn.close()

    def keep_looks(self) -> None:
        """No wal-index to read (look_cache.py): every look asks the server."""

    def data_version(self) -> int:
        """Changes when a write commits: every state change appends an event, and a
        heartbeat (the only write without one) changes no state a reader shows."""
        return int(self.conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0])

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Store]:
        with translate_pg_errors(), self.conn.read_transaction():
            yield self

    def truncate_wal(self) -> None:
        """No write-ahead log file to fold: PostgreSQL manages its own."""

    def has_table(self, name: str) -> bool:
        found = self.conn.execute("SELECT to_regclass(?)", (f"{self.key.schema}.{name}",))
        return found.fetchone()[0] is not None

    def export(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for name in EXPORTED_TABLES:
            rows = self.conn.execute(f"SELECT * FROM {name} ORDER BY 1").fetchall()
            out[name] = [_plain(dict(zip(r.keys(), r, strict=True))) for r in rows]
        return out
