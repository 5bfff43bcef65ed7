"""Content-addressed blob files: written and fsynced before any row points at them."""

from __future__ import annotations

import contextlib
import mmap
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import CheckpointUnavailable
from ..values.digest import digest


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        return self.root / key[:2] / key[2:]

    def exists(self, key: str, size: int) -> bool:
        try:
            return self.path(key).stat().st_size == size
        except FileNotFoundError:
            return False

    def put(self, key: str, chunks: Sequence[Any]) -> bool:
        """Write a blob atomically (tmp, fsync, rename). Returns False if it was there."""
        target = self.path(key)
        size = sum(memoryview(c).nbytes for c in chunks)
        if self.exists(key, size):
            # Reused: refresh its mtime so a concurrent gc's grace period protects it
            # until the checkpoint that now references it commits.
            with contextlib.suppress(OSError):
                os.utime(target)
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                for chunk in chunks:
                    fh.write(chunk)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return True

    def sync_dirs(self, keys: Sequence[str]) -> None:
        """fsync the directories of new blobs so their renames survive a crash."""
        for parent in {self.path(k).parent for k in keys}:
            fd = os.open(parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def read(self, key: str, size: int, *, verify: bool = True) -> bytes:
        try:
            with open(self.path(key), "rb") as fh:
                data = fh.read()
                identity = _identity(fh)
        except FileNotFoundError:
            raise CheckpointUnavailable(key, f"blob {key} is missing") from None
        self._check(key, size, data, verify, identity)
        return data

    def map(self, key: str, size: int, *, verify: bool = True) -> Any:
        """A private copy-on-write mapping: pages load lazily, writes never reach the file."""
        if size == 0:
            return bytearray()
        try:
            with open(self.path(key), "rb") as fh:
                mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_COPY)
                identity = _identity(fh)
        except FileNotFoundError:
            raise CheckpointUnavailable(key, f"blob {key} is missing") from None
        except ValueError:  # empty or truncated file
            raise CheckpointUnavailable(key, f"blob {key} is truncated") from None
        self._check(key, size, mapped, verify, identity)
        return mapped

    def _check(
        self, key: str, size: int, data: Any, verify: bool, identity: tuple[int, int]
    ) -> None:
        if len(data) != size:
            raise CheckpointUnavailable(key, f"blob {key} has {len(data)} bytes, expected {size}")
        if verify and digest(data) != key:
            self._quarantine(key, identity)
            raise CheckpointUnavailable(key, f"blob {key} does not match its hash (corrupted)")

    def _quarantine(self, key: str, identity: tuple[int, int]) -> None:
        """Move a corrupted blob aside (gc deletes it later). put() reuses any file of the
        right size, so left in place it would go into the checkpoint of the re-run step
        too. Only the file that was read moves, not one a writer has renamed in since."""
        path = self.path(key)
        with contextlib.suppress(OSError):
            if _identity(path) == identity:
                os.replace(path, path.with_name(f".corrupt-{path.name}"))

    def collect(self, referenced: frozenset[str], grace_seconds: float = 3600) -> tuple[int, int]:
        """Delete blob files nothing references (and stale temp files) older than the grace
        period: a kernel writes blobs before it commits the rows that reference them.
        Returns (files deleted, bytes freed)."""
        if not self.root.exists():
            return 0, 0
        cutoff = time.time() - grace_seconds
        files = freed = 0
        for path in self.root.glob("*/*"):
            key = path.parent.name + path.name
            if key in referenced and not path.name.startswith(".tmp-"):
                continue
            try:
                stat = path.stat()
                if stat.st_mtime > cutoff:
                    continue
                path.unlink()
            except OSError:
                continue
            files += 1
            freed += stat.st_size
        return files, freed

    def total_size(self) -> int:
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())


def _identity(file: Any) -> tuple[int, int]:
    stat = os.fstat(file.fileno()) if hasattr(file, "fileno") else os.stat(file)
    return stat.st_dev, stat.st_ino
