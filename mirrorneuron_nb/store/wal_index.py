"""Whether anything committed to a SQLite database since a moment, without a statement.

In WAL mode every commit rewrites the wal-index header at the start of `state.sqlite-shm`
(https://www.sqlite.org/walformat.html): 48 bytes written twice, first copy last, holding
the commit counter, the last valid frame, the log's salts and the last frame's checksum.
SQLite itself decides whether a connection's page cache is still good by comparing these
bytes with the ones it saw: equal bytes, no commit in between. Reading them from a
read-only map of the file is a memory copy: no system call, so the reading thread keeps
the GIL (a statement lets ipykernel's other threads in, ~0.2 ms on a cold cell).

Two rules keep that safe:
- The map and its descriptor are never closed. SQLite's locks on the file are POSIX
  locks, which a process loses when it closes ANY descriptor of the file: closing ours
  would drop the locks of this process's connections (another process then takes itself
  for the only user and truncates the file). So one map per `-shm` file per process,
  kept for the process's life (a kernel maps one).
- It is only read while a connection of this process has the database open: then no
  other process truncates the file (look_cache.py attaches and detaches with stores).
"""

from __future__ import annotations

import mmap
import os
import struct
import threading
from pathlib import Path

HEADER = 48
"""Bytes of one copy of the wal-index header (WalIndexHdr)."""
VERSION = 3007000
"""The header's iVersion since SQLite 3.7.0; another value is a format we do not read."""
_MAPPED = 2 * HEADER


class WalIndex:
    """A read-only map of a database's `-shm` header."""

    def __init__(self, fd: int, mapped: mmap.mmap) -> None:
        self.fd = fd
        self._map = mapped

    def header(self) -> bytes | None:
        """The current header, or None while it is being written or not usable (two copies
        that differ, not initialized, an unknown version): then nothing is known."""
        both = self._map[:_MAPPED]
        first = both[:HEADER]
        if first != both[HEADER:] or first[12] != 1:  # isInit
            return None
        if struct.unpack_from("=I", first)[0] != VERSION:
            return None
        return first


_MAPS: dict[tuple[int, int], WalIndex] = {}
_LOCK = threading.Lock()


def wal_index(db_path: Path) -> WalIndex | None:
    """The map of `db_path`'s wal-index (while this process has the database open in WAL
    mode), or None when there is none to read: then every look asks the database."""
    shm = f"{db_path}-shm"
    try:
        st = os.stat(shm)
    except OSError:
        return None
    if st.st_size < _MAPPED:
        return None
    with _LOCK:
        index = _MAPS.get((st.st_dev, st.st_ino))
        if index is None:
            try:
                fd = os.open(shm, os.O_RDONLY)
            except OSError:
                return None
            try:
                opened = os.fstat(fd)
                mapped = mmap.mmap(fd, _MAPPED, access=mmap.ACCESS_READ)
            except (OSError, ValueError):
                return None  # (the descriptor stays open: see the module's first rule)
            index = WalIndex(fd, mapped)
            _MAPS[(opened.st_dev, opened.st_ino)] = index
            if (opened.st_dev, opened.st_ino) != (st.st_dev, st.st_ino):
                return None  # replaced in between: not the file the connection uses
    return index if index.header() is not None else None
