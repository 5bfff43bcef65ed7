"""The new blobs of a step's checkpoint, held for the background writer (write-behind).

The background writer (writer.py) makes a checkpoint durable while later cells run, yet
what it writes must be each value as the step left it, or nothing. Each new blob is kept
here, in the cell, for the writer to land through the store's own blob backend (any
`Blobs`: the local directory or an fsspec URL):

- immutable bytes (a pickle stream) are kept as they are: nothing to copy;
- other small buffers are copied into memory;
- larger buffers (at least STAGE_FILE_BYTES: arrays' memory) are written by the writer
  from the kernel's live memory, or from a forked snapshot of it (snapshot.py: from 16
  MiB, on Linux), hashed as they are written (direct.py): the blob must
  hash to its key, the digest the step's fingerprint took when its body ended. Until
  then the read barrier holds back every cell that names the value or anything saved
  with it (sharing.py), or that may reach any global through code (writer.py). Memory
  changed meanwhile by code no cell names (a widget callback, a view kept in a module)
  makes the checkpoint fail, reported, and the previous one stays: never a blob that is
  not the step's value. The freeze this replaces, a temp file written in the cell, cost
  the issue-13 workload's load step 48-244 ms for its 200 MB (benchmarks/README.md);
- while a thread the notebook started is alive (it may write at any time), with
  config.FREEZE_ENV set, for a buffer that is not contiguous, or when the disk visibly
  cannot take it (`_fits`), a large buffer is frozen in the cell instead: a local temp
  file, not fsynced, beside its place for the local store (landing is fsync + rename),
  in a local spool directory for a remote one (landing uploads it).

A blob already in the store (or in a checkpoint still pending) is not frozen again. For a
remote store "already there" is only what this kernel landed or saw there (asking the
object store would be a round trip in the cell); the writer asks before it uploads.
Past the pending-bytes bound (config.PENDING_BYTES_ENV) a blob is written through: put
now, from the live memory, as before write-behind.
"""

from __future__ import annotations

import contextlib
import os
import resource
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..store.blob_backend import Blobs
from ..store.blobs import BlobStore, Progress

STAGE_FILE_BYTES = 1 << 20
"""Mutable buffers from this size up are written from live memory (or frozen in a temp
file), not copied into memory."""


@dataclass
class Frozen:
    """One new blob of a pending checkpoint, as it is until the writer lands it."""

    key: str
    size: int
    data: bytes | None = None
    """Its bytes, in memory."""
    tmp: str | None = None
    """A local temp file holding its bytes, not yet fsynced (Blobs.stage)."""
    live: list[memoryview] | None = None
    """The live memory it is written from, by the writer (verified against `key`)."""
    # None of them: written through already.


class StagingBlobs:
    """The store's blob backend, except that `put` keeps a blob for the writer instead
    of writing it (everything else is the backend's own); `live`: big ones as views of
    live memory.

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
        live: Callable[[], bool] | None = None,
    ) -> None:
        self.inner, self._spool = inner, spool
        self._live = live
        """Asked only when a big buffer comes (a trivial step never pays for it)."""
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
        elif (views := self._views(chunks, size)) is not None:
            self.frozen.append(Frozen(key, size, live=views))
        else:
            # Not fsynced here: landing does it (or uploads), in the writer.
            self.frozen.append(Frozen(key, size, tmp=self.inner.stage(key, chunks, self._spool)))
        return True

    @property
    def live(self) -> bool:
        """Some blob is still to be written from live memory."""
        return any(f.live is not None for f in self.frozen)

    def _views(self, chunks: Sequence[Any], size: int) -> list[memoryview] | None:
        """Byte views of the chunks, to write from later; None: freeze them now."""
        if self._live is None or not self._live():
            self._live = None
            return None
        if not self._fits(size):
            return None
        try:
            return [memoryview(c).cast("B") for c in chunks]
        except TypeError:  # not C-contiguous: its bytes are copied out now
            return None

    def _fits(self, size: int) -> bool:
        """Whether the disk visibly takes the blob: else it is frozen now, so that a write
        bound to fail (a full disk, the process's file size limit) fails in the step's
        own cell, which says so, rather than one cell later."""
        soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
        if soft != resource.RLIM_INFINITY and size > soft:
            return False
        where = self.inner.root if isinstance(self.inner, BlobStore) else self._spool
        try:
            found = os.statvfs(where if where.exists() else where.parent)
        except OSError:
            return True  # nothing to see: the writer finds out, and reports it
        return found.f_bavail * found.f_frsize >= self.held  # (held counts this blob)

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
            frozen.live = None
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

    def stage(self, key: str, chunks: Sequence[Any], spool: Path, *, verify: bool = False) -> str:
        return self.inner.stage(key, chunks, spool, verify=verify)

    def land(self, key: str, tmp: str) -> bool:
        return self.inner.land(key, tmp)

    def collect(
        self,
        referenced: frozenset[str],
        grace_seconds: float = 3600,
        progress: Progress | None = None,
    ) -> tuple[int, int]:
        return self.inner.collect(referenced, grace_seconds, progress)
