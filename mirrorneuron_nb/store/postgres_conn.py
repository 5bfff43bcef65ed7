"""PostgreSQL connections for the shared store, shaped like the sqlite3 ones the table
modules use (base.Conn): `?` placeholders, rows answering `row[0]` and `row["name"]`.

One connection per process and database, shared by every store opened on it (a kernel's
session, its writer thread and its heartbeat: 100 kernels need 100 connections, not 300),
one transaction at a time; made when first used. No pool: psycopg_pool retries a lost
database in the background with a growing back-off, which was seen to keep a kernel
failing for 10 s and more after the database was back; a direct connection fails at once
while it is down and works again on the next call. A connection found broken (the
database restarted) is given back and replaced on the next call.

Nothing is kept as session state (search_path, read-only, advisory locks, prepared
statements): every transaction sets what its notebook needs with SET LOCAL, so the store
works through a PgBouncer in transaction mode. Writers of one notebook are serialized
exactly as SQLite's BEGIN IMMEDIATE serializes a sidecar's: every write transaction first
takes the notebook's transaction-scoped advisory lock; other notebooks' writers are not
blocked.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import psycopg
from psycopg import sql as pgsql

from ..errors import SidecarError, StoreUnavailable
from .base import Cursor

_IDLE = psycopg.pq.TransactionStatus.IDLE

CONNECT_TIMEOUT = 10
"""Seconds to wait for a new connection before giving up (a refused one fails at once)."""


class Row(tuple[Any, ...]):
    """A result row: a tuple that also answers column names, like sqlite3.Row."""

    _index: dict[str, int]

    def __new__(cls, values: Iterable[Any], index: dict[str, int]) -> Row:
        row = super().__new__(cls, values)
        row._index = index
        return row

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return super().__getitem__(self._index[key])
        return super().__getitem__(key)

    def keys(self) -> list[str]:
        return list(self._index)


def _rows(cursor: Any) -> Any:
    names = [c.name for c in cursor.description or ()]
    index = {n: i for i, n in enumerate(names)}
    return lambda values: Row(values, index)


@functools.lru_cache(maxsize=512)
def translate(query: str) -> str:
    """`?` placeholders to psycopg's `%s` (our SQL has no literal `?` or `%`)."""
    return query.replace("%", "%%").replace("?", "%s")


def unavailable(exc: BaseException) -> StoreUnavailable:
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return StoreUnavailable(f"store unavailable: {text}")


def classify(exc: BaseException) -> SidecarError:
    """Ours for a psycopg error: the database unreachable (retry later), or refused."""
    if isinstance(exc, psycopg.OperationalError):
        return unavailable(exc)
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return SidecarError(f"shared store error: {text}")


@contextlib.contextmanager
def translate_pg_errors() -> Iterator[None]:
    """psycopg errors leave the store as ours; nothing outside store/ sees psycopg."""
    try:
        yield
    except psycopg.Error as exc:
        raise classify(exc) from exc


class _Piped:
    """A cursor of a pipelined statement: its rows make psycopg wait for them; its rowcount
    is known only once the pipeline is synced, which reading it does."""

    def __init__(self, cursor: psycopg.Cursor[Any], pipeline: psycopg.Pipeline) -> None:
        self._cursor, self._pipeline = cursor, pipeline

    @property
    def rowcount(self) -> int:
        self._pipeline.sync()
        return self._cursor.rowcount

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._cursor)


class _Link:
    """One server connection that every PgConnection of this process to the same database
    shares, one transaction at a time (a kernel's session, writer and heartbeat: one
    connection, not three). Nothing is left on it between transactions (see PgConnection),
    so any notebook's store may use it next."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.lock = threading.Lock()
        self.holder: int | None = None
        """The thread inside a transaction on it now (a nested user goes elsewhere)."""
        self.users = 0
        self._raw: psycopg.Connection[Any] | None = None

    def connection(self) -> psycopg.Connection[Any]:
        """The live connection: made on first use, and again after it broke (the database
        restarted): a direct connection fails at once while the database is down."""
        raw = self._raw
        if raw is not None and (raw.closed or raw.broken):
            self.close()
            raw = None
        if raw is None:
            raw = self._raw = connect(self.url)
        return raw

    def close(self) -> None:
        raw, self._raw = self._raw, None
        if raw is not None:
            with contextlib.suppress(Exception):
                raw.close()


def connect(url: str) -> psycopg.Connection[Any]:
    """A new connection. No prepared statements: behind a transaction-pooling PgBouncer the
    next transaction may run on a server connection that never saw them."""
    raw = psycopg.connect(
        url, autocommit=True, connect_timeout=CONNECT_TIMEOUT, prepare_threshold=None
    )
    raw.row_factory = _rows
    return raw


_links: dict[tuple[int, str], _Link] = {}
_links_lock = threading.Lock()


def _share(url: str) -> _Link:
    # Keyed by process too: a forked child (a Dask worker) must not use its parent's socket.
    with _links_lock:
        link = _links.setdefault((os.getpid(), url), _Link(url))
        link.users += 1
        return link


def _unshare(link: _Link) -> None:
    with _links_lock:
        link.users -= 1
        if link.users > 0:
            return
        if _links.get((os.getpid(), link.url)) is link:
            del _links[(os.getpid(), link.url)]
    with link.lock:
        link.close()


class PgConnection:
    """A notebook's view of the process's connection to the database (`_Link`).

    Every statement runs in a transaction that sets what the notebook needs for itself
    alone: `SET LOCAL search_path` (its schema), READ ONLY for a read-only store, and the
    notebook's transaction-scoped advisory lock for a write. No session state is left
    behind, so a PgBouncer in transaction mode (which hands each transaction to any server
    connection) is safe: a statement alone is sent as `SET LOCAL ...; it` in one message,
    one round trip as before."""

    def __init__(self, url: str, schema: str, lock_key: int, *, readonly: bool) -> None:
        self.url, self.schema, self.lock_key, self.readonly = url, schema, lock_key, readonly
        self._scope = pgsql.SQL("SET LOCAL search_path TO {}").format(pgsql.Identifier(schema))
        self._begin = "BEGIN READ ONLY" if readonly else "BEGIN"
        # A statement alone: the same settings as one text, ahead of it (`execute`). A
        # schema name is ours (mn_<hash>, postgres_schema.py): quoted, never user text.
        if not schema.replace("_", "").isalnum():
            raise SidecarError(f"not a notebook schema name: {schema!r}")
        settings = [f'SET LOCAL search_path TO "{schema}"']
        if readonly:
            settings.append("SET LOCAL transaction_read_only TO on")
        self._prefix = "".join(f"{x}; " for x in settings)
        self._prefixed = len(settings)
        self._link: _Link | None = None
        self._own: _Link | None = None
        """A connection of its own, used only when this thread is already inside another
        store's transaction on the shared one (the two must not mix)."""
        self._raw: psycopg.Connection[Any] | None = None
        self._thread: int | None = None
        """The thread inside one of this store's transactions (on `_raw`)."""
        self._pipeline: psycopg.Pipeline | None = None

    def _inside(self) -> psycopg.Connection[Any] | None:
        """The connection of this thread's open transaction of this store, if any."""
        if self._pipeline is not None and self._thread == threading.get_ident():
            return self._raw
        return None

    @contextlib.contextmanager
    def session(self) -> Iterator[psycopg.Connection[Any]]:
        """The connection, this thread's alone until the block ends (for one transaction).
        Inside one of this store's transactions: that transaction's connection."""
        me = threading.get_ident()
        if self._raw is not None and self._thread == me:
            yield self._raw
            return
        if self._link is None:
            self._link = _share(self.url)
        link = self._link
        if link.holder == me:  # nested in another store's transaction on this thread
            if self._own is None:
                self._own = _Link(self.url)
            link = self._own
        with link.lock:
            link.holder = me
            try:
                self._raw, self._thread = link.connection(), me
                yield self._raw
            finally:
                self._raw, self._thread, link.holder = None, None, None

    def execute(self, query: str, parameters: Any = (), /) -> Cursor:
        raw, pipeline = self._inside(), self._pipeline
        if raw is not None and pipeline is not None:
            return _Piped(raw.execute(translate(query), tuple(parameters)), pipeline)
        with self.session() as raw:
            # One simple-protocol message, parameters bound here: its statements run as one
            # implicit transaction, so SET LOCAL holds for the statement and ends with it:
            # no BEGIN/COMMIT, no pipeline (a quarter of the time of those for a read).
            cur = psycopg.ClientCursor(raw)
            cur.execute(self._prefix + translate(query), tuple(parameters))
            for _ in range(self._prefixed):
                cur.nextset()
            return cur

    def executemany(self, query: str, seq_of_parameters: Iterable[Any], /) -> Cursor:
        rows = [tuple(p) for p in seq_of_parameters]
        raw = self._inside()
        if raw is not None:
            cur = raw.cursor()
            cur.executemany(translate(query), rows)
            return cur
        with self._transaction(self._begin, lock=False) as raw:
            cur = raw.cursor()
            cur.executemany(translate(query), rows)
            return cur

    @contextlib.contextmanager
    def write_transaction(self) -> Iterator[None]:
        """BEGIN; the notebook's schema; its advisory lock (released at COMMIT/ROLLBACK):
        writers of one notebook are serialized, other notebooks' are not blocked."""
        with self._transaction(self._begin, lock=True):
            yield

    @contextlib.contextmanager
    def read_transaction(self) -> Iterator[None]:
        """One snapshot for every query inside (REPEATABLE READ, read only)."""
        with self._transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", lock=False):
            yield

    @contextlib.contextmanager
    def _transaction(self, begin: str, *, lock: bool) -> Iterator[psycopg.Connection[Any]]:
        """`begin`; the schema; the lock if asked; the body — pipelined; then COMMIT.

        Statements go out without waiting for each answer, and the connection waits only
        where a result is read (a fetch, a rowcount), once where the pipeline ends and once
        at COMMIT. BEGIN and COMMIT are our own statements: psycopg's transaction() inside
        a pipeline syncs twice more. An error surfaces at the next wait; then (or on any
        error of the body) the transaction is rolled back.

        The pipeline ends while the transaction is still open, and COMMIT goes alone after
        it: psycopg ends a pipeline with Sync and then a Flush. Were COMMIT inside it, a
        PgBouncer in transaction mode could hand the server connection back at Sync's
        answer and then give it to this client again for the late Flush, which is never
        answered: every other client then waited for the pool (query_wait_timeout)."""
        with self.session() as raw:
            committed = False
            try:
                with raw.pipeline() as pipeline:
                    self._pipeline = pipeline
                    raw.execute(begin)
                    raw.execute(self._scope)
                    if lock:
                        raw.execute("SELECT pg_advisory_xact_lock(%s)", (self.lock_key,))
                    yield raw
                    self._pipeline = None
                raw.execute("COMMIT")
                committed = True
            finally:
                self._pipeline = None
                idle = raw.closed or raw.broken or raw.info.transaction_status == _IDLE
                if not committed and not idle:
                    with contextlib.suppress(psycopg.Error):
                        raw.execute("ROLLBACK")

    def close(self) -> None:
        link, self._link = self._link, None
        if link is not None:
            _unshare(link)
        own, self._own = self._own, None
        if own is not None:
            own.close()
