"""Freeze the new blobs of a step's checkpoint before its cell returns (write-behind).

The background writer (writer.py) makes a checkpoint durable while later cells run, yet
what it writes must be each value as the step left it: a later cell may mutate an array
through any alias, which no analysis of names can see. So every new blob is frozen here,
in the cell, and the writer only lands frozen bytes, through the store's own blob
backend (any `Blobs`: the local directory or an fsspec URL):

- immutable bytes (a pickle stream) are kept as they are: nothing to copy;
- other small buffers are copied into memory;
- larger buffers (at least STAGE_FILE_BYTES) are written to a local temp file, not
  fsynced: beside their place for the local store (landing is fsync + rename), in a
  local spool directory for a remote one (landing uploads it). Measured here on 200 MB
  (benchmarks/README.md, issue 13): the page-cache write 80-118 ms, a `bytes` copy
  180-230 ms, a copy into a numpy buffer 40-47 ms. The numpy copy was tried and dropped:
  the writer must then write the bytes itself (durable 5-14x later, so a cell reading
  the value waits longer) and the kernel holds them, while the page cache is not the
  kernel's memory.

A blob already in the store (or in a checkpoint still pending) is not frozen again. For a
remote store "already there" is only what this kernel landed or saw there (asking the
object store would be a round trip in the cell); the writer asks before it uploads.
Past the pending-bytes bound (config.PENDING_BYTES_ENV) a blob is written through: put
now, from the live memory, as before write-behind.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..store.blob_backend import Blobs
from ..store.blobs import Progress

STAGE_FILE_BYTES = 1 << 20
"""Mutable buffers from this size up are frozen in a temp file rather than in memory."""


@dataclass
class Frozen:
    """One new blob of a pending checkpoint, as it is until the writer lands it."""

    key: str
    size: int
    data: bytes | None = None
    """Its bytes, in memory."""
    tmp: str | None = None
    """A local temp file holding its bytes, not yet fsynced (Blobs.stage)."""
    # Neither: written through already.


class StagingBlobs:
    """The store's blob backend, except that `put` freezes a blob for the writer instead
    of writing it (everything else is the backend's own).

    `room(n)`: whether n more bytes may be held by pending writes (it may wait for the
    writer first); False means write this blob through now. `pending(key)`: whether a
    checkpoint ahead in the writer's queue writes that blob already. `landed`: keys of a
    remote store this kernel knows are there."""

    def __init__(
        self,
        inner: Blobs,
        spool: Path,
        room: Callable[[int], bool],
        pending: Callable[[str], bool],
        landed: Collection[str] = (),
    ) -> None:
        self.inner, self._spool = inner, spool
        self._room = room
        self._pending = pending
        self._landed = landed
        self.frozen: list[Frozen] = []
        self.reused: list[tuple[str, int]] = []
        self.held = 0
        """Bytes frozen in memory or temp files (what counts against the bound)."""
        self.through = 0
        """Blobs written through because the bound was reached."""
        self._seen: set[str] = set()

    @property
    def location(self) -> str:
        return self.inner.location

    @property
    def remote(self) -> bool:
        return self.inner.remote

    def put(self, key: str, chunks: Sequence[Any], *, fsync: bool = True) -> bool:
        size = sum(memoryview(c).nbytes for c in chunks)
        if key in self._seen:
            return False
        self._seen.add(key)
        if self._pending(key) or self._there(key, chunks, size):
            self.reused.append((key, size))
            return False
        if not self._room(size):
            self.through += 1
            self.inner.put(key, chunks)
            self.frozen.append(Frozen(key, size))
            return True
        self.held += size
        if len(chunks) == 1 and type(chunks[0]) is bytes:
            self.frozen.append(Frozen(key, size, data=chunks[0]))  # immutable: no copy
        elif size < STAGE_FILE_BYTES:
            self.frozen.append(Frozen(key, size, data=b"".join(bytes(c) for c in chunks)))
        else:
            # Not fsynced here: landing does it (or uploads), in the writer.
            self.frozen.append(Frozen(key, size, tmp=self.inner.stage(key, chunks, self._spool)))
        return True

    def _there(self, key: str, chunks: Sequence[Any], size: int) -> bool:
        if self.inner.remote:
            return key in self._landed
        if not self.inner.exists(key, size):
            return False
        # Written before: put() finds it and only refreshes its mtime, so a concurrent
        # gc's grace period covers it until this checkpoint commits (and were gc to
        # delete it in between, put() writes it again).
        self.inner.put(key, chunks)
        return True

    def discard(self) -> None:
        """Drop what was frozen (the checkpoint will not be queued): temp files go."""
        for frozen in self.frozen:
            if frozen.tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(frozen.tmp)
        self.frozen = []

    # The rest is the backend's own.

    def exists(self, key: str, size: int) -> bool:
        return self.inner.exists(key, size)

    def sync_dirs(self, keys: Sequence[str]) -> None:
        self.inner.sync_dirs(keys)

    def read(self, key: str, size: int, *, verify: bool = True, quarantine: bool = False) -> bytes:
        return self.inner.read(key, size, verify=verify, quarantine=quarantine)

    def map(self, key: str, size: int, *, verify: bool = True, quarantine: bool = False) -> Any:
        return self.inner.map(key, size, verify=verify, quarantine=quarantine)

    def stage(self, key: str, chunks: Sequence[Any], spool: Path) -> str:
        return self.inner.stage(key, chunks, spool)

    def land(self, key: str, tmp: str) -> bool:
        return self.inner.land(key, tmp)

    def collect(
        self,
        referenced: frozenset[str],
        grace_seconds: float = 3600,
        progress: Progress | None = None,
    ) -> tuple[int, int]:
        return self.inner.collect(referenced, grace_seconds, progress)
