"""What a step's look before it runs (`look_to_run`) finds, known without a statement
while nothing has committed since.

Most steps find nothing: no checkpoint with their key, no lease on them, no rejected step
before them. A kernel's writer thread reads, behind the cells, what answers that for any
step: every (step, cache key) that has a checkpoint (kept as hashes), the steps that have
a lease row, the lowest position of a rejected step. It reads them in one snapshot and
keeps them with the wal-index header of that snapshot (wal_index.py). A step's look then
compares the header now with that one: equal, nothing committed since, by any process,
so the facts are the database's; it answers "nothing found" from them when they say so.
Any other case (a key with a checkpoint, a lease row, a rejected step before it, a
header that moved) asks the database, as every look did before.

The hashes are a superset: a checkpoint deleted since (reset, gc) stays in until they are
read again in full, and then only costs a look in the database.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..models import StepLook, StepStatus
from .wal_index import WalIndex, wal_index

KEYS_MAX = 200_000
"""Past this many checkpoints the hashes are not kept: every look asks the database."""
NOTHING = StepLook(None, None, None)
_DELETING = ("reset", "gc")
"""Events of the only transactions that delete checkpoints (maintenance.py): after one,
the hashes are read in full (a deleted newest row's id is given again)."""


@dataclass(frozen=True)
class Facts:
    """What held when the wal-index header was `header`."""

    header: bytes
    keys: set[int]  # hash((step, cache_key)) of every checkpoint; only ever grows
    top: tuple[int, int]  # the newest checkpoint's (id, hash) as read; (0, 0): none
    last_event: int
    leased: frozenset[str]
    first_rejected: int | None  # the lowest position of a rejected step


class LookCache:
    """The facts of one database, shared by the stores a process has open on it."""

    def __init__(self, index: WalIndex) -> None:
        self.index = index
        self.facts: Facts | None = None
        self.users = 0
        self.off = False  # too many checkpoints to keep

    def answer(self, step: str, cache_key: str, position: int | None) -> StepLook | None:
        """NOTHING when the facts say the look finds nothing, else None (ask the database)."""
        facts = self.facts
        if facts is None or facts.header != self.index.header():
            return None
        if step in facts.leased or hash((step, cache_key)) in facts.keys:
            return None
        first = facts.first_rejected
        if first is not None and position is not None and first < position:
            return None
        return NOTHING

    def distrust(self) -> None:
        """Ask the database at every look until the next refresh (which reads on from
        what is known)."""
        facts = self.facts
        if facts is not None:
            self.facts = replace(facts, header=b"")

    def refresh(self, conn: Any) -> None:
        """Read the facts again in one snapshot, unless they are current (writer thread;
        `conn` in autocommit, outside any transaction)."""
        before = self.index.header()
        facts = self.facts
        if self.off or before is None or (facts is not None and facts.header == before):
            return
        conn.execute("BEGIN")
        try:
            read = self._read(conn, facts)
            # The snapshot began between the two reads of the header: equal, it is that
            # header's state (the header never returns to an earlier value).
            after = self.index.header()
        finally:
            conn.execute("ROLLBACK")
        if read is not None and after == before:
            self.facts = Facts(before, *read)

    def _read(
        self, conn: Any, facts: Facts | None
    ) -> tuple[set[int], tuple[int, int], int, frozenset[str], int | None] | None:
        last = int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0])
        keys, top = (set(), (0, 0)) if facts is None else (facts.keys, facts.top)
        if facts is not None and (last < facts.last_event or _deleted(conn, facts.last_event)):
            keys, top = set(), (0, 0)
        rows = conn.execute(
            "SELECT id, step, cache_key FROM checkpoints WHERE id >= ? ORDER BY id", (top[0],)
        ).fetchall()
        if top[0] and (not rows or (int(rows[0][0]), hash((rows[0][1], rows[0][2]))) != top):
            # The newest row seen is gone: its id may be given again, so read them all.
            keys, top = set(), (0, 0)
            rows = conn.execute("SELECT id, step, cache_key FROM checkpoints").fetchall()
        if len(keys) + len(rows) > KEYS_MAX:
            self.off, self.facts = True, None
            return None
        for row in rows:
            keys.add(hash((row[1], row[2])))
        if rows:
            newest = max(rows, key=lambda r: int(r[0]))
            top = (int(newest[0]), hash((newest[1], newest[2])))
        leased = frozenset(r[0] for r in conn.execute("SELECT DISTINCT step FROM leases"))
        first = conn.execute(
            "SELECT MIN(position) FROM steps WHERE status=?", (StepStatus.rejected.value,)
        ).fetchone()[0]
        return keys, top, last, leased, None if first is None else int(first)


def _deleted(conn: Any, since: int) -> bool:
    marks = ",".join("?" * len(_DELETING))
    found = conn.execute(
        f"SELECT 1 FROM events WHERE id > ? AND kind IN ({marks}) LIMIT 1", (since, *_DELETING)
    ).fetchone()
    return found is not None


# -- one cache per database file in a process ------------------------------------------------

_CACHES: dict[tuple[int, int], LookCache] = {}
_LOCK = threading.Lock()


def attach(db_path: Path) -> LookCache | None:
    """The cache of the database at `db_path` (its connection open in WAL mode), or None
    when its wal-index cannot be read. Each attach is matched by one `detach`."""
    try:
        st = os.stat(db_path)
    except OSError:
        return None
    identity = (st.st_dev, st.st_ino)
    with _LOCK:
        cache = _CACHES.get(identity)
        if cache is None:
            index = wal_index(db_path)
            if index is None:
                return None
            cache = _CACHES[identity] = LookCache(index)
        cache.users += 1
        return cache


def detach(cache: LookCache) -> None:
    """One store is done with `cache` (before its connection closes). After the last one
    the wal-index is not read again: with no connection of ours open, another process may
    truncate the file under the map."""
    with _LOCK:
        cache.users -= 1
        if cache.users:
            return
        for identity, found in list(_CACHES.items()):
            if found is cache:
                del _CACHES[identity]
        cache.facts = None
