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

Temp files are written by one `mn-stage` thread while the cell goes on with the other
values (the write releases the GIL: fingerprinting or marshalling the next value runs
meanwhile); `finish` waits for them before the checkpoint is queued, so the cell still
returns only once every blob is frozen. A big array whose digest the step's fingerprint
took is staged as soon as that is known (`prestage`), before the other values are even
fingerprinted: on issue 13's workload, the 200 MB array of `mutate` is written while its
300k dicts are fingerprinted and marshalled.

A blob already in the store (or in a checkpoint still pending) is not frozen again. For a
remote store "already there" is only what this kernel landed or saw there (asking the
object store would be a round trip in the cell); the writer asks before it uploads.
Past the pending-bytes bound (config.PENDING_BYTES_ENV) a blob is written through: put
now, from the live memory, as before write-behind.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import config
from ..store.blob_backend import Blobs
from ..store.blobs import Progress
from ..values.canonical import BufferDigests
from ..values.codec import too_large

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
        self._staging: list[concurrent.futures.Future[None]] = []

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
            frozen = Frozen(key, size)
            self.frozen.append(frozen)
            delay = config.stage_delay()
            self._staging.append(_stager().submit(self._stage, frozen, chunks, delay))
        return True

    def _stage(self, frozen: Frozen, chunks: Sequence[Any], delay: float) -> None:
        if delay:
            time.sleep(delay)
        frozen.tmp = self.inner.stage(frozen.key, chunks, self._spool)

    def prestage(self, value: Any, digests: BufferDigests) -> None:
        """Start freezing a value that will be saved, when it is a big C-contiguous numpy
        array whose bytes its fingerprint digested whole: its blob key is that digest, and
        the storage pickler hands over the same memory (serializers.buffer_keys), whose
        put then finds it frozen already."""
        if not big_array(value):
            return
        found = digests.get((value.__array_interface__["data"][0], value.nbytes))
        if found is not None and value.flags.c_contiguous and too_large(value.nbytes) is None:
            self.put(found[0], [memoryview(value).cast("B")])

    def finish(self) -> None:
        """Wait until every blob is frozen (its temp file written); raise the first error."""
        try:
            for future in self._staging:
                future.result()
        finally:
            _settle(self._staging)

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
        _settle(self._staging)
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


def big_array(value: Any) -> bool:
    """An exact numpy array big enough to be frozen in a temp file."""
    numpy = sys.modules.get("numpy")
    return numpy is not None and type(value) is numpy.ndarray and value.nbytes >= STAGE_FILE_BYTES


_pool: tuple[int, concurrent.futures.ThreadPoolExecutor] | None = None
_lock = threading.Lock()


def _stager() -> concurrent.futures.ThreadPoolExecutor:
    """The one staging thread (made again in a forked child, whose copy has none). Named
    `mn-` so known.py does not take it for a thread of the notebook's."""
    global _pool
    with _lock:
        if _pool is None or _pool[0] != os.getpid():
            _pool = (os.getpid(), concurrent.futures.ThreadPoolExecutor(1, "mn-stage"))
        return _pool[1]


def _settle(futures: list[concurrent.futures.Future[None]]) -> None:
    """Return only when no staging is running any more, even after an error or an
    interrupt: a temp file still being written from the live values could otherwise
    freeze what the user's next cell changes."""
    for future in futures:
        future.cancel()
    concurrent.futures.wait(futures)
