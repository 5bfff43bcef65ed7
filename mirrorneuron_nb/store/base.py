"""What every table module of the store shares: the connection and the blob files.

The table modules speak the SQL both backends accept (SQLite >= 3.35 and PostgreSQL):
`?` placeholders (the PostgreSQL adapter translates them), `ON CONFLICT`, `RETURNING`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

from .blob_backend import Blobs
from .look_cache import LookCache

# Events about who holds a step (store/leases.py), not about the step's own state.
LEASE_EVENTS = ("claimed", "released", "waiting", "stopped_waiting", "taken_over")


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Conn(Protocol):
    """What the table modules use of a connection: sqlite3's, or the PostgreSQL adapter
    (postgres_conn.py). Rows answer both `row[0]` and `row["name"]`."""

    def execute(self, sql: str, parameters: Any = (), /) -> Cursor: ...
    def executemany(self, sql: str, seq_of_parameters: Iterable[Any], /) -> Cursor: ...


class Tables:
    """Base of the table mixins that make up `Store` (one module per concern)."""

    root: Path
    conn: Conn
    blobs: Blobs
    # The manifest log beside state.sqlite, for `mn-nb doctor --rebuild` (SQLite only: a
    # shared database has its own backups).
    keeps_manifest: bool = True
    # The store's id once read (checkpoints.sidecar_id), "" until then; and its meta
    # table as the manifest log copies it. Neither changes under an open store, except
    # by copy_store (transfer.py), which forgets them.
    _sidecar_id: str = ""
    # What looks before steps find, known between commits (look_cache.py; SQLite writers).
    _looks: LookCache | None = None
    _meta: dict[str, Any] | None = None


def event_txn(
    c: Conn, run_id: str | None, step: str | None, kind: str, detail: dict[str, Any]
) -> None:
    """Append to the event log inside the caller's transaction: every state change is one."""
    c.execute(
        "INSERT INTO events(ts, run_id, step, kind, detail) VALUES (?,?,?,?,?)",
        (time.time(), run_id, step, kind, json.dumps(detail, default=repr)),
    )


EventRow = tuple[str | None, str | None, str, dict[str, Any]]
"""(run_id, step, kind, detail): an event that `events_txn` appends."""


def events_txn(c: Conn, rows: Sequence[EventRow]) -> None:
    """Append several events in one statement (ids in the order given): a step's hot
    path logs two per transaction, and on PostgreSQL each statement is a round trip."""
    if not rows:
        return
    now = time.time()
    marks = ",".join(["(?,?,?,?,?)"] * len(rows))
    c.execute(
        f"INSERT INTO events(ts, run_id, step, kind, detail) VALUES {marks}",
        [
            x
            for run_id, step, kind, detail in rows
            for x in (now, run_id, step, kind, json.dumps(detail, default=repr))
        ],
    )


ROW_VALUES = 999
"""Placeholders per multi-row INSERT (SQLite's most conservative limit)."""


def insert_rows(c: Conn, head: str, rows: Sequence[Sequence[Any]], tail: str = "") -> None:
    """`head VALUES (...),(...) tail`: many rows in few statements (on PostgreSQL an
    executemany inside a pipelined transaction waits for the server twice more)."""
    if not rows:
        return
    width = len(rows[0])
    mark = "(" + ",".join("?" * width) + ")"
    per = max(1, ROW_VALUES // width)
    for i in range(0, len(rows), per):
        chunk = rows[i : i + per]
        c.execute(
            f"{head} VALUES {','.join([mark] * len(chunk))}{tail}", [x for r in chunk for x in r]
        )


C = TypeVar("C", bound=type)


def translating(
    errors: Callable[[Any], contextlib.AbstractContextManager[None]],
) -> Callable[[C], C]:
    """A class decorator wrapping every public method in `errors(self)`, so no driver
    error (sqlite3's, psycopg's) leaves a store untranslated."""

    def decorate(cls: C) -> C:
        for name in dir(cls):
            if name.startswith("_"):
                continue
            method = getattr(cls, name)
            if not callable(method) or isinstance(method, type):
                continue

            def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
                @functools.wraps(fn)
                def translated(*args: Any, **kwargs: Any) -> Any:
                    with errors(args[0] if args else None):
                        return fn(*args, **kwargs)

                return translated

            setattr(cls, name, wrap(method))
        return cls

    return decorate
