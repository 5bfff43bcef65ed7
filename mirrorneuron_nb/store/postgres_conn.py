"""PostgreSQL connections for the shared store, shaped like the sqlite3 ones the table
modules use (base.Conn): `?` placeholders, rows answering `row[0]` and `row["name"]`.

Connections come from one psycopg_pool pool per database URL and process (a server
opening a store per request reuses them). Writers of one notebook are serialized exactly
as SQLite's BEGIN IMMEDIATE serializes a sidecar's: every write transaction first takes
the notebook's advisory lock; other notebooks' writers are not blocked. A connection
found broken (the database restarted) is given back and replaced on the next call.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import psycopg
import psycopg_pool
from psycopg import sql as pgsql

from ..errors import SidecarError, StoreUnavailable
from .base import Cursor

CONNECT_TIMEOUT = 10
"""Seconds to wait for a connection (from the pool, or a new one) before giving up."""

_pools: dict[str, psycopg_pool.ConnectionPool[Any]] = {}
_pools_lock = threading.Lock()


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


def pool(url: str) -> psycopg_pool.ConnectionPool[Any]:
    with _pools_lock:
        found = _pools.get(url)
        if found is None:
            found = psycopg_pool.ConnectionPool(
                url,
                min_size=0,
                max_size=8,
                timeout=CONNECT_TIMEOUT,
                kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT},
                check=psycopg_pool.ConnectionPool.check_connection,
                open=True,
                name="mirrorneuron_nb",
            )
            _pools[url] = found
        return found


def close_pools() -> None:
    """Close every pool of this process (tests stopping their database)."""
    with _pools_lock:
        pools = list(_pools.values())
        _pools.clear()
    for p in pools:
        p.close()


def unavailable(exc: BaseException) -> StoreUnavailable:
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return StoreUnavailable(f"store unavailable: {text}")


def classify(exc: BaseException) -> SidecarError:
    """Ours for a psycopg error: the database unreachable (retry later), or refused."""
    if isinstance(exc, (psycopg.OperationalError, psycopg_pool.PoolTimeout)):
        return unavailable(exc)
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return SidecarError(f"shared store error: {text}")


@contextlib.contextmanager
def translate_pg_errors() -> Iterator[None]:
    """psycopg errors leave the store as ours; nothing outside store/ sees psycopg."""
    try:
        yield
    except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
        raise classify(exc) from exc


class PgConnection:
    """One pooled connection bound to a notebook's schema (search_path) and lock key."""

    def __init__(self, url: str, schema: str, lock_key: int, *, readonly: bool) -> None:
        self.url, self.schema, self.lock_key, self.readonly = url, schema, lock_key, readonly
        self._raw: psycopg.Connection[Any] | None = None

    @property
    def raw(self) -> psycopg.Connection[Any]:
        raw = self._raw
        if raw is not None and (raw.closed or raw.broken):
            self._give_back()
            raw = None
        if raw is None:
            raw = pool(self.url).getconn()
            try:
                raw.row_factory = _rows
                raw.execute(
                    pgsql.SQL("SET search_path TO {}").format(pgsql.Identifier(self.schema))
                )
                raw.execute(
                    "SET default_transaction_read_only TO " + ("on" if self.readonly else "off")
                )
            except BaseException:
                pool(self.url).putconn(raw)
                raise
            self._raw = raw
        return raw

    def execute(self, query: str, parameters: Any = (), /) -> Cursor:
        return self.raw.execute(translate(query), tuple(parameters))

    def executemany(self, query: str, seq_of_parameters: Iterable[Any], /) -> Cursor:
        cur = self.raw.cursor()
        cur.executemany(translate(query), [tuple(p) for p in seq_of_parameters])
        return cur

    @contextlib.contextmanager
    def write_transaction(self) -> Iterator[None]:
        """BEGIN; the notebook's advisory lock (released at COMMIT/ROLLBACK); the body."""
        raw = self.raw
        with raw.transaction():
            raw.execute("SELECT pg_advisory_xact_lock(%s)", (self.lock_key,))
            yield

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
                pool(self.url).putconn(raw)

    def close(self) -> None:
        self._give_back()
