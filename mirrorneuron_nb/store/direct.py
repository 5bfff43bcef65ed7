"""Big blobs written through the page cache or around it (O_DIRECT), chosen as they go.

A buffered write of a 200 MB array is a memory copy into 200 MB of new page cache; the
writer's fsync writes it out later, and a cell reading the value waits for that fsync.
The copy's cost varies: on a VM whose host takes freed guest memory back, every first
touch of a page faults on the host too. Measured on the 2 vCPU Firecracker VM (issue 13,
benchmarks/README.md "Big blobs around the page cache"), 200 MB in 16 MiB chunks:

- through the page cache, warm pages: 3.5 ms a chunk (40-50 ms), then a 65-80 ms fsync;
- through the page cache, cold pages: ~40 ms a chunk (9.5 us a page), 330-450 ms, and
  a run can start warm and turn cold after a few chunks (8, 21, 41, 44, ... ms);
- O_DIRECT through a few reused page-aligned buffers: 8-15 ms a chunk (100-190 ms)
  whatever the page state, no page cache growth, and the fsync after it ~0.4 ms.

So neither way wins: warm pages make the page cache ~3x faster than the disk, cold
pages ~3x slower. Write + fsync, medians of 5 (bench_direct.py), page cache / O_DIRECT /
this choice: 200 MB warm 46+74 / 149+0 / 46+64 ms, after 3 s idle 495+81 / 153+0 /
154+10 ms; 1 GB warm 236+361 / 815+1 / 214+310 ms, after 3 s idle 2249+420 / 672+0 /
630+64 ms. `write_chunks` decides per 16 MiB chunk, by timing: it starts through
the page cache, and a chunk slower than this disk writes one directly switches the same
descriptor to O_DIRECT (fcntl; every chunk boundary is block aligned) for the next. The
disk's time is learned from the direct chunks (per device, starting from 1 GB/s); when
it is slower than the last page-cache chunk, the next goes through the page cache again,
so a slow disk costs about one chunk before the page cache wins. Only the write is
compared, not the fsync after it: the cell waits for the write, and with warm pages the
page cache wins even counting the fsync (above), with cold ones the disk wins anyway.
A filesystem or device that refuses O_DIRECT (EINVAL at fcntl or at a write) is
remembered and written through the page cache.

Direct blocks are copied and written by a small pool of `mn-` threads (kernel/known.py
does not count them as the notebook's): the copy holds the GIL, the write does not.

With a `hasher`, every byte goes through this thread's buffer in file order instead, and
is hashed there: the hash covers exactly the bytes written, even when the memory they
come from changes meanwhile (kernel/staging.py writes arrays from live memory). Such a
write is behind the cell, and a reader of the value waits for it and its fsync, so a chunk
written through the page cache has its writeback started at once: 200 MB, warm pages,
write + fsync 164 -> 122 ms (7 runs each, side by side). Direct blocks are written in
turn with their copy and hash: overlapping the two was tried and measured no faster
(182 vs 192 ms): copying and hashing 200 MB takes 13 ms, the disk the rest.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import errno
import fcntl
import mmap
import os
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

Mode = Literal["adaptive", "buffered", "direct"]

CHUNK = 16 << 20
"""The unit of decision: each chunk is timed, and the next one's way chosen from it."""
BLOCK = 4 << 20
"""One O_DIRECT write, from one reused buffer."""
WORKERS = 3
ALIGN = 4096
"""What O_DIRECT needs of offsets, lengths and buffer addresses on any common device."""
PRIOR_SECONDS_PER_BYTE = 1e-9
"""A disk not yet written directly is assumed to take 1 GB/s (this VM: 1.1-2 GB/s)."""
_LEARN = 0.25
"""Weight of each new direct chunk in the disk's running time per byte."""

_O_DIRECT: int = getattr(os, "O_DIRECT", 0)


@dataclass
class _Disk:
    """What this process has learned of one device (st_dev)."""

    direct_ok: bool = True
    seconds_per_byte: float = PRIOR_SECONDS_PER_BYTE
    measured: bool = False

    def learn(self, seconds: float, size: int) -> None:
        rate = seconds / size
        if self.measured:
            rate = (1 - _LEARN) * self.seconds_per_byte + _LEARN * rate
        self.seconds_per_byte, self.measured = rate, True


_disks: dict[int, _Disk] = {}
_lock = threading.Lock()
_pool: tuple[int, concurrent.futures.ThreadPoolExecutor] | None = None
_buffers = threading.local()


def _renew_lock() -> None:
    """In a forked child (kernel/snapshot.py), which writes through this module: another
    thread of the parent may have held the lock at the fork, and no thread will free it."""
    global _lock
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_renew_lock)


def write_chunks(
    fd: int, chunks: Sequence[Any], mode: Mode = "adaptive", hasher: Any = None
) -> None:
    """Write the chunks, one after another, from offset 0 of `fd` (a new, empty regular
    file opened without O_DIRECT). `mode` forces one way (benchmarks, tests). A chunk
    that is not C-contiguous goes to a plain buffered writer, as before this module
    (which refuses it with BufferError: the blob's bytes would be ambiguous). `hasher`
    (`update(bytes)`): fed exactly the bytes written, in order."""
    try:
        views = [memoryview(c).cast("B") for c in chunks]
    except TypeError:  # not C-contiguous: written as the buffered writer always did
        if hasher is not None:
            raise ValueError("a hashed write needs C-contiguous chunks") from None
        with os.fdopen(os.dup(fd), "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
        return
    disk = _disk(fd) if _O_DIRECT else _Disk(direct_ok=False)
    _Writer(fd, views, disk, mode, hasher).run()


class _Writer:
    def __init__(
        self, fd: int, views: list[memoryview], disk: _Disk, mode: Mode, hasher: Any = None
    ) -> None:
        self.fd, self.views, self.disk, self.mode = fd, views, disk, mode
        self.hasher = hasher
        self.starts = []
        at = 0
        for view in views:
            self.starts.append(at)
            at += view.nbytes
        self.total = at
        self.direct = False
        self.last_buffered = 0.0
        """Seconds per byte of the last chunk written through the page cache."""

    def run(self) -> None:
        if self.mode == "direct":
            self._set_direct(True)
        for offset in range(0, self.total, CHUNK):
            size = min(CHUNK, self.total - offset)
            began = time.perf_counter()
            if self.hasher is not None:
                self._hashed_chunk(offset, size)
            elif self.direct:
                self._direct_chunk(offset, size)
            else:
                self._buffered_chunk(offset, size)
            self._decide(time.perf_counter() - began, size)
            if self.hasher is not None and not self.direct:
                _start_writeback(self.fd, offset, size)

    def _decide(self, seconds: float, size: int) -> None:
        if size < CHUNK:  # the last, short chunk: nothing follows, and its time is noise
            return
        if self.direct:
            self.disk.learn(seconds, size)
            if self.mode == "adaptive" and self.disk.seconds_per_byte > self.last_buffered:
                self._set_direct(False)
        else:
            self.last_buffered = seconds / size
            if self.mode == "adaptive" and self.last_buffered > self.disk.seconds_per_byte:
                self._set_direct(True)

    def _set_direct(self, on: bool) -> None:
        if on and not self.disk.direct_ok:
            return
        flags = fcntl.fcntl(self.fd, fcntl.F_GETFL)
        try:
            fcntl.fcntl(self.fd, fcntl.F_SETFL, flags | _O_DIRECT if on else flags & ~_O_DIRECT)
        except OSError as exc:
            if exc.errno != errno.EINVAL or not on:
                raise
            self.disk.direct_ok = False  # this filesystem refuses it: never ask again
            return
        self.direct = on

    def _buffered_chunk(self, offset: int, size: int) -> None:
        for piece, at in self._pieces(offset, size):
            _pwrite_all(self.fd, piece, at)

    def _direct_chunk(self, offset: int, size: int) -> None:
        aligned = size - size % ALIGN
        blocks = [
            (o, min(BLOCK, offset + aligned - o)) for o in range(offset, offset + aligned, BLOCK)
        ]
        try:
            _run_all([(self._direct_block, o, n) for o, n in blocks])
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
            # Accepted at fcntl, refused at the write (alignment, some network or FUSE
            # filesystems): this chunk again, and everything after, through the page cache.
            self.disk.direct_ok = False
            self._set_direct(False)
            self._buffered_chunk(offset, size)
            return
        if aligned < size:  # the unaligned tail (the file's end) through the page cache
            self._set_direct(False)
            self._buffered_chunk(offset + aligned, size - aligned)

    def _hashed_chunk(self, offset: int, size: int) -> None:
        """Block by block through this thread's buffer: copied, hashed, written from it
        (directly while the file is direct, but for an unaligned tail)."""
        end = offset + size
        with memoryview(_buffer()) as into:
            while offset < end:
                n = min(BLOCK, end - offset)
                if self.direct and n % ALIGN:
                    n -= n % ALIGN
                    if not n:  # the unaligned tail (the file's end) through the page cache
                        self._set_direct(False)
                        continue
                self._gather(into, offset, n)
                self.hasher.update(into[:n])
                try:
                    _pwrite_all(self.fd, into[:n], offset)
                except OSError as exc:
                    if not self.direct or exc.errno != errno.EINVAL:
                        raise
                    self.disk.direct_ok = False  # refused at the write: as _direct_chunk
                    self._set_direct(False)
                    _pwrite_all(self.fd, into[:n], offset)
                offset += n

    def _direct_block(self, offset: int, size: int) -> None:
        with memoryview(_buffer()) as into:
            self._gather(into, offset, size)
            _pwrite_all(self.fd, into[:size], offset)

    def _gather(self, into: memoryview, offset: int, size: int) -> None:
        """Copy file bytes [offset, offset + size) from the views to the start of `into`."""
        filled = 0
        for piece, _ in self._pieces(offset, size):
            _copy(into, filled, piece)
            filled += piece.nbytes

    def _pieces(self, offset: int, size: int) -> list[tuple[memoryview, int]]:
        """Slices of the views covering file bytes [offset, offset + size), with offsets."""
        out = []
        end = offset + size
        for view, start in zip(self.views, self.starts, strict=True):
            stop = start + view.nbytes
            if stop <= offset or start >= end or view.nbytes == 0:
                continue
            lo, hi = max(offset, start), min(end, stop)
            out.append((view[lo - start : hi - start], lo))
        return out


def _copy(into: memoryview, at: int, piece: memoryview) -> None:
    """`into[at:at + len(piece)] = piece`, through numpy when it is loaded: numpy copies
    without the GIL, a memoryview holds it (a copy of 4 MiB blocks in a loop made a
    pure-Python loop on the main thread 1.7x slower; numpy's, not at all)."""
    numpy = sys.modules.get("numpy")
    if numpy is None:
        into[at : at + piece.nbytes] = piece
        return
    target = numpy.frombuffer(into, numpy.uint8, piece.nbytes, at)
    try:
        numpy.copyto(target, numpy.frombuffer(piece, numpy.uint8))
    finally:
        del target  # (a traceback keeping it would stop the caller releasing `into`)


def _pwrite_all(fd: int, data: memoryview, offset: int) -> None:
    done = 0
    while done < data.nbytes:  # a short write is possible in principle: finish it
        done += os.pwrite(fd, data[done:], offset + done)


def _run_all(calls: list[tuple[Any, int, int]]) -> None:
    """Run the calls in the pool and return only when none is running any more, even on
    an error or an interrupt: a block still being written after the caller closed the
    descriptor could land in whatever file reuses its number."""
    futures = [_executor().submit(f, a, b) for f, a, b in calls]
    try:
        for future in futures:
            future.result()
    finally:
        for future in futures:
            future.cancel()
        concurrent.futures.wait(futures)


def _disk(fd: int) -> _Disk:
    dev = os.fstat(fd).st_dev
    with _lock:
        return _disks.setdefault(dev, _Disk())


def _buffer() -> mmap.mmap:
    """This thread's page-aligned block buffer, made once and reused (its pages stay warm)."""
    buf: mmap.mmap | None = getattr(_buffers, "buf", None)
    if buf is None or len(buf) != BLOCK:  # (BLOCK differs only when a test sets it)
        buf = _buffers.buf = mmap.mmap(-1, BLOCK)
    return buf


def _start_writeback(fd: int, offset: int, size: int) -> None:
    """Have the kernel start writing a range out now rather than at the fsync (Linux's
    POSIX_FADV_DONTNEED starts writeback of dirty pages and drops only clean ones): the
    disk works while the next chunk is copied, so the fsync waits for less."""
    advise = getattr(os, "posix_fadvise", None)
    if advise is not None:
        with contextlib.suppress(OSError):
            advise(fd, offset, size, os.POSIX_FADV_DONTNEED)


def _executor() -> concurrent.futures.ThreadPoolExecutor:
    """The pool, made again in a forked child (whose copy has no threads behind it)."""
    global _pool
    with _lock:
        if _pool is None or _pool[0] != os.getpid():
            made = concurrent.futures.ThreadPoolExecutor(WORKERS, thread_name_prefix="mn-direct")
            _pool = (os.getpid(), made)
        return _pool[1]
