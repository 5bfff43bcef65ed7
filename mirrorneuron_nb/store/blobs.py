"""Content-addressed blob files: written and fsynced before any row points at them.

Blob keys come from database rows, which anyone who can write the sidecar can edit: a key
is only ever used as a path when it is a well-formed digest, and a blob is only ever
opened as a regular file inside its directory (no symlink, FIFO or device), so a row can
neither name a file outside the sidecar nor hang a reader.
"""

from __future__ import annotations

import contextlib
import errno
import mmap
import os
import re
import stat
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeGuard

from ..errors import BlobChanged, CheckpointUnavailable
from ..values.digest import digest, digest_parts, hasher
from .direct import write_chunks

# values/digest.py: xxh3-128, lowercase hex.
KEY_RE = re.compile(r"[0-9a-f]{32}")
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


Progress = Callable[[int, int], None]
"""A per-item hook: (items done, items in all); the CLI draws a bar with it."""


def is_key(key: object) -> TypeGuard[str]:
    return isinstance(key, str) and KEY_RE.fullmatch(key) is not None


def check_key(key: object) -> str:
    """`key` if it is a well-formed blob key; else CheckpointUnavailable (never a path)."""
    if not is_key(key):
        raise CheckpointUnavailable("blob", "a blob key is not a digest (sidecar altered?)")
    return key


class BlobStore:
    """The local blob store: files under `root` (the sidecar's `blobs/` directory)."""

    remote = False

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def location(self) -> str:
        return str(self.root)

    def path(self, key: str) -> Path:
        key = check_key(key)
        return self.root / key[:2] / key[2:]

    def exists(self, key: str, size: int) -> bool:
        """A regular file of that size is there (a symlink or FIFO is not a blob)."""
        try:
            st = os.lstat(self.path(key))
        except FileNotFoundError:
            return False
        return stat.S_ISREG(st.st_mode) and st.st_size == size

    def put(self, key: str, chunks: Sequence[Any], *, fsync: bool = True) -> bool:
        """Write a blob atomically (tmp, fsync, rename). Returns False if it was there.
        `fsync=False`: atomic against a killed process only, like the database's own
        commits (synchronous=NORMAL); an OS crash may leave the file empty."""
        target = self.path(key)
        size = sum(memoryview(c).nbytes for c in chunks)
        if self.exists(key, size):
            # Reused: refresh its mtime so a concurrent gc's grace period protects it
            # until the checkpoint that now references it commits.
            with contextlib.suppress(OSError):
                os.utime(target, follow_symlinks=False)
            return False
        tmp = self._write_temp(target, chunks, fsync=fsync)
        try:
            os.replace(tmp, target)  # replaces a symlink or FIFO itself, never its target
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return True

    @staticmethod
    def _write_temp(
        target: Path, chunks: Sequence[Any], *, fsync: bool, expect: str | None = None
    ) -> str:
        """The chunks in a new temp file beside `target` (removed again on any error)."""
        return write_temp(target.parent, chunks, fsync=fsync, expect=expect)

    def stage(self, key: str, chunks: Sequence[Any], spool: Path, *, verify: bool = False) -> str:
        """The chunks in a temp file beside the blob's place, not fsynced, for `land`
        (a rename, later; `spool` is for remote stores). `verify`: the bytes written must
        hash to `key` (else BlobChanged)."""
        expect = key if verify else None
        return self._write_temp(self.path(key), chunks, fsync=False, expect=expect)

    def land(self, key: str, tmp: str) -> bool:
        """Make a file `stage` wrote the blob: fsynced, then renamed into place (its
        directory is fsynced by sync_dirs). The caller removes `tmp` if this fails."""
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path(key))
        return True

    def sync_dirs(self, keys: Sequence[str]) -> None:
        """fsync the directories of new blobs so their renames survive a crash."""
        for parent in {self.path(k).parent for k in keys}:
            fd = os.open(parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def read(self, key: str, size: int, *, verify: bool = True, quarantine: bool = False) -> bytes:
        """The blob's bytes, checked against its size (and its key when `verify`).

        `quarantine`: move it aside when it does not match its key. Only for a key from a
        row whose signature was verified: an unverified row must not make us move files."""
        with self.opened(key) as (fd, identity), os.fdopen(os.dup(fd), "rb") as fh:
            data = fh.read()
        self._check(key, size, data, verify, identity if quarantine else None)
        return data

    def map(self, key: str, size: int, *, verify: bool = True, quarantine: bool = False) -> Any:
        """A private copy-on-write mapping: pages load lazily, writes never reach the file."""
        if size == 0:
            check_key(key)
            return bytearray()
        with self.opened(key) as (fd, identity):
            try:
                mapped = mmap.mmap(fd, 0, access=mmap.ACCESS_COPY)
            except ValueError:  # empty file
                raise CheckpointUnavailable(key, f"blob {key} is truncated") from None
        self._check(key, size, mapped, verify, identity if quarantine else None)
        return mapped

    def map_unverified(self, key: str, size: int) -> tuple[Any, BlobCheck]:
        """A copy-on-write mapping (as `map`) whose content is not hashed yet, and the check
        that hashes it later: through a read-only mapping of the same file, so writes to
        the copy never reach what is checked and a blob renamed in since is not the one
        checked. Only for a key from a verified row (the check quarantines a bad blob)."""
        with self.opened(key) as (fd, identity):
            try:
                mapped = mmap.mmap(fd, 0, access=mmap.ACCESS_COPY)
                original = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
            except ValueError:  # empty file
                raise CheckpointUnavailable(key, f"blob {key} is truncated") from None
        self._check(key, size, mapped, False, None)
        return mapped, BlobCheck(self, key, original, identity)

    @contextlib.contextmanager
    def opened(self, key: str) -> Iterator[tuple[int, tuple[int, int]]]:
        """An open descriptor of the blob, a regular file in its directory, and its identity:
        never through a symlink, never blocking on a FIFO (CheckpointUnavailable otherwise)."""
        key = check_key(key)
        try:
            dir_fd = os.open(self.root / key[:2], _DIR_FLAGS)
        except FileNotFoundError:
            raise CheckpointUnavailable(key, f"blob {key} is missing") from None
        except OSError:
            raise _not_regular(key) from None
        try:
            try:
                fd = os.open(key[2:], _OPEN_FLAGS, dir_fd=dir_fd)
            except FileNotFoundError:
                raise CheckpointUnavailable(key, f"blob {key} is missing") from None
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENXIO, errno.EISDIR, errno.ENOTDIR):
                    raise _not_regular(key) from None
                raise CheckpointUnavailable(key, f"blob {key} cannot be read: {exc}") from None
        finally:
            os.close(dir_fd)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise _not_regular(key)
            yield fd, (st.st_dev, st.st_ino)
        finally:
            os.close(fd)

    def _check(
        self, key: str, size: int, data: Any, verify: bool, identity: tuple[int, int] | None
    ) -> None:
        if len(data) != size:
            raise CheckpointUnavailable(key, f"blob {key} has {len(data)} bytes, expected {size}")
        if verify and digest(data) != key:
            if identity is not None:
                self._quarantine(key, identity)
            raise CheckpointUnavailable(key, f"blob {key} does not match its hash (corrupted)")

    def _quarantine(self, key: str, identity: tuple[int, int]) -> None:
        """Move a corrupted blob aside (gc deletes it later). put() reuses any file of the
        right size, so left in place it would go into the checkpoint of the re-run step
        too. Only the file that was read moves, not one a writer has renamed in since, and
        only inside its own directory (opened without following a symlink)."""
        with contextlib.suppress(OSError):
            dir_fd = os.open(self.root / key[:2], _DIR_FLAGS)
            try:
                st = os.stat(key[2:], dir_fd=dir_fd, follow_symlinks=False)
                if (st.st_dev, st.st_ino) == identity:
                    os.replace(key[2:], f".corrupt-{key[2:]}", src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            finally:
                os.close(dir_fd)

    def collect(
        self,
        referenced: frozenset[str],
        grace_seconds: float = 3600,
        progress: Progress | None = None,
    ) -> tuple[int, int]:
        """Delete blob files nothing references (and stale temp files) older than the grace
        period: a kernel writes blobs before it commits the rows that reference them.
        Returns (files deleted, bytes freed). Never follows a symlink: a link is removed
        itself, what it points at is never touched. `progress(done, total)` is called after
        each file is looked at."""
        cutoff = time.time() - grace_seconds
        files = freed = 0
        # Listed first, so progress knows the total.
        found = list(self.entries())
        for done, (path, st) in enumerate(found, 1):
            if progress is not None:
                progress(done, len(found))
            key = path.parent.name + path.name
            if key in referenced and not path.name.startswith(".tmp-"):
                continue
            if st.st_mtime > cutoff:
                continue
            try:
                path.unlink()
            except OSError:
                continue
            files += 1
            freed += st.st_size if stat.S_ISREG(st.st_mode) else 0
        return files, freed

    def total_size(self) -> int:
        return sum(st.st_size for _, st in self.entries() if stat.S_ISREG(st.st_mode))

    def entries(self) -> Iterator[tuple[Path, os.stat_result]]:
        """Every entry two levels down (`ab/cdef...`), lstat-ed, in real subdirectories
        only (a symlinked subdirectory is skipped, not entered)."""
        try:
            tops = list(os.scandir(self.root))
        except OSError:
            return
        for top in tops:
            if not top.is_dir(follow_symlinks=False):
                continue
            try:
                inner = list(os.scandir(top.path))
            except OSError:
                continue
            for entry in inner:
                with contextlib.suppress(OSError):
                    yield Path(entry.path), entry.stat(follow_symlinks=False)


class BlobCheck:
    """Hashes one mapped blob once, in whichever thread gets to it first."""

    # Hashed in slices so another thread gets the GIL in between.
    CHUNK = 16 << 20

    def __init__(self, blobs: BlobStore, key: str, original: mmap.mmap, identity: tuple[int, int]):
        self.blobs, self.key, self._original, self._identity = blobs, key, original, identity

    def run(self) -> CheckpointUnavailable | None:
        """None when the blob matches its key; else it is quarantined and this says why."""
        try:
            found = digest_parts(self._slices())
        finally:
            self._original.close()
        if found == self.key:
            return None
        self.blobs._quarantine(self.key, self._identity)
        return CheckpointUnavailable(
            self.key, f"blob {self.key} does not match its hash (corrupted)"
        )

    def close(self) -> None:
        self._original.close()

    def _slices(self) -> Iterator[memoryview]:
        with memoryview(self._original) as whole:
            for start in range(0, len(whole), self.CHUNK):
                with whole[start : start + self.CHUNK] as part:
                    size = part.nbytes
                    yield part
                # Hashed: drop these pages from this mapping, so the check does not leave
                # the whole blob counted in the kernel's RSS (the page cache keeps them).
                with contextlib.suppress(OSError, ValueError):
                    self._original.madvise(mmap.MADV_DONTNEED, start, size)


def write_temp(
    directory: Path, chunks: Sequence[Any], *, fsync: bool, expect: str | None = None
) -> str:
    """The chunks in a new temp file in `directory` (made if missing; the file is removed
    again on any error). Big blobs go through the page cache or around it, whichever is
    faster at the time (direct.py). `expect`: the digest the bytes written must have;
    else BlobChanged (memory written from changed meanwhile)."""
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    except FileNotFoundError:  # the first blob of its directory
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        try:
            fill(fd, chunks, expect)
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return tmp


def fill(fd: int, chunks: Sequence[Any], expect: str | None = None) -> None:
    """Write the chunks into `fd`, a new empty file (direct.py). `expect`: the digest the
    bytes written must have, hashed as they are written; else BlobChanged (the memory
    they came from changed meanwhile)."""
    hashed = None if expect is None else hasher()
    write_chunks(fd, chunks, hasher=hashed)
    if hashed is not None and hashed.hexdigest() != expect:
        raise BlobChanged(
            "its value was changed while being written behind the cell, by "
            "code no cell named it in (a widget callback, a reference kept "
            "elsewhere)"
        )


def _not_regular(key: str) -> CheckpointUnavailable:
    return CheckpointUnavailable(key, f"blob {key} is not a regular file (sidecar altered?)")
