"""PostgreSQL connections for the shared store, shaped like the sqlite3 ones the table
modules use (base.Conn): `?` placeholders, rows answering `row[0]` and `row["name"]`.

Each store holds one connection of its own, made when first used (a kernel keeps its store
for its life). No pool: psycopg_pool retries a lost database in the background with a
growing back-off, which was seen to keep a kernel failing for 10 s and more after the
database was back; a direct connection fails at once while it is down and works again on
the next call. Writers of one notebook are serialized exactly
as SQLite's BEGIN IMMEDIATE serializes a sidecar's: every write transaction first takes
the notebook's advisory lock; other notebooks' writers are not blocked. A connection
found broken (the database restarted) is given back and replaced on the next call.
"""

from __future__ import annotations

import contextlib
import functools
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


class PgConnection:
    """One connection bound to a notebook's schema (search_path) and lock key."""

    def __init__(self, url: str, schema: str, lock_key: int, *, readonly: bool) -> None:
        self.url, self.schema, self.lock_key, self.readonly = url, schema, lock_key, readonly
        self._raw: psycopg.Connection[Any] | None = None
        self._pipeline: psycopg.Pipeline | None = None

    @property
    def raw(self) -> psycopg.Connection[Any]:
        raw = self._raw
        if raw is not None and (raw.closed or raw.broken):
            self._give_back()
            raw = None
        if raw is None:
            raw = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT)
            try:
                raw.row_factory = _rows
                raw.execute(
                    pgsql.SQL("SET search_path TO {}").format(pgsql.Identifier(self.schema))
                )
                raw.execute(
                    "SET default_transaction_read_only TO " + ("on" if self.readonly else "off")
                )
            except BaseException:
                raw.close()
                raise
            self._raw = raw
        return raw

    def execute(self, query: str, parameters: Any = (), /) -> Cursor:
        cur = self.raw.execute(translate(query), tuple(parameters))
        return cur if self._pipeline is None else _Piped(cur, self._pipeline)

    def executemany(self, query: str, seq_of_parameters: Iterable[Any], /) -> Cursor:
        cur = self.raw.cursor()
        cur.executemany(translate(query), [tuple(p) for p in seq_of_parameters])
        return cur

    @contextlib.contextmanager
    def write_transaction(self) -> Iterator[None]:
        """BEGIN; the notebook's advisory lock (released at COMMIT/ROLLBACK); the body.

        In pipeline mode: statements go out without waiting for each answer, and the
        connection waits only where a result is read (a fetch, a rowcount) and once at
        COMMIT. BEGIN and COMMIT are our own statements: psycopg's transaction() inside
        a pipeline syncs twice more. An error surfaces at the next wait; then (or on any
        error of the body) the transaction is rolled back."""
        raw = self.raw
        committed = False
        try:
            with raw.pipeline() as pipeline:
                self._pipeline = pipeline
                raw.execute("BEGIN")
                raw.execute("SELECT pg_advisory_xact_lock(%s)", (self.lock_key,))
                yield
                raw.execute("COMMIT")
            committed = True  # the pipeline's last sync returned: COMMIT succeeded
        finally:
            self._pipeline = None
            idle = raw.closed or raw.broken or raw.info.transaction_status == _IDLE
            if not committed and not idle:
                raw.execute("ROLLBACK")

    @contextlib.contextmanager
    def read_transaction(self) -> Iterator[None]:
        """One snapshot for every query inside (REPEATABLE READ, read only)."""
        raw = self.raw
        with raw.transaction():
            raw.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield

    def _give_back(self) -> None:
        raw, self._raw = self._raw, None
        if raw is not None:
            with contextlib.suppress(Exception):
                raw.close()

    def close(self) -> None:
        self._give_back()
