"""Freeze the new blobs of a step's checkpoint before its cell returns (write-behind).

The background writer (writer.py) makes a checkpoint durable while later cells run, yet
what it writes must be each value as the step left it: a later cell may mutate an array
through any alias, which no analysis of names can see. So every new blob is frozen here,
in the cell, and the writer only makes frozen bytes durable:

- immutable bytes (a pickle stream) are kept as they are: nothing to copy;
- other small buffers are copied into memory;
- larger buffers (at least STAGE_FILE_BYTES) are written to a temp file in their blob's
  directory, not fsynced. Measured here on 200 MB: a write to the page cache took ~85 ms,
  a copy into fresh memory ~210 ms, a write with fsync ~440 ms; and the page cache is
  not the kernel's memory. The writer fsyncs the file and renames it into place.

A blob already in the sidecar (or in a checkpoint still pending) is not written again.
Past the pending-bytes bound (config.PENDING_BYTES_ENV) a blob is written through: fsynced
in place now, from the live memory, as before write-behind.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..store.blobs import BlobStore

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
    """A temp file in the blob's directory holding its bytes, not yet fsynced."""
    # Neither: written through already (fsynced and renamed into place).


class StagingBlobs(BlobStore):
    """A BlobStore whose `put` freezes a blob for the writer instead of writing it.

    `room(n)`: whether n more bytes may be held by pending writes (it may wait for the
    writer first); False means write this blob through now. `pending(key)`: whether a
    checkpoint ahead in the writer's queue writes that blob already."""

    def __init__(
        self, root: Path, room: Callable[[int], bool], pending: Callable[[str], bool]
    ) -> None:
        super().__init__(root)
        self._room = room
        self._pending = pending
        self.frozen: list[Frozen] = []
        self.reused: list[tuple[str, int]] = []
        self.held = 0
        """Bytes frozen in memory or temp files (what counts against the bound)."""
        self.through = 0
        """Blobs written through because the bound was reached."""
        self._seen: set[str] = set()

    def put(self, key: str, chunks: Sequence[Any], *, fsync: bool = True) -> bool:
        size = sum(memoryview(c).nbytes for c in chunks)
        if key in self._seen:
            return False
        self._seen.add(key)
        if self._pending(key) or self.exists(key, size):
            # Written before (or about to be): refresh its mtime, as put() does, so a
            # concurrent gc's grace period covers it until this checkpoint commits.
            with contextlib.suppress(OSError):
                os.utime(self.path(key), follow_symlinks=False)
            self.reused.append((key, size))
            return False
        if not self._room(size):
            self.through += 1
            super().put(key, chunks)
            self.frozen.append(Frozen(key, size))
            return True
        self.held += size
        if len(chunks) == 1 and type(chunks[0]) is bytes:
            self.frozen.append(Frozen(key, size, data=chunks[0]))  # immutable: no copy
        elif size < STAGE_FILE_BYTES:
            self.frozen.append(Frozen(key, size, data=b"".join(bytes(c) for c in chunks)))
        else:
            self.frozen.append(Frozen(key, size, tmp=self._stage(key, chunks)))
        return True

    def _stage(self, key: str, chunks: Sequence[Any]) -> str:
        # Not fsynced here: the writer fsyncs it before the rename (writer.py).
        return self._write_temp(self.path(key), chunks, fsync=False)

    def discard(self) -> None:
        """Drop what was frozen (the checkpoint will not be queued): temp files go."""
        for frozen in self.frozen:
            if frozen.tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(frozen.tmp)
        self.frozen = []
