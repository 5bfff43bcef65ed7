"""A step's big buffers written from a copy-on-write snapshot of the kernel (writer.py).

Written from live memory behind the cell (staging.py), a big array holds back every later
cell that touches it until its bytes are out: on the 2-vCPU VM 136-250 ms for 200 MB,
most of the last 10 % between a notebook as steps and the same notebook plain (issue 13).
Instead, as the step's cell ends, the kernel forks. The child sees the kernel's memory
exactly as the step left it (the OS shares the pages copy-on-write) and writes those
buffers to their temp files, hashed as written (landing.stage), while the kernel goes on
at once: a later cell may read the values or change them, a page it writes is copied
for it, never seen by the child. The writer thread takes the child's temp files and
lands them like any other. A fork costs 1-7 ms from 0.2 to 10 GB of arrays on that VM;
a page the kernel writes while the child runs costs a copy (200 MB: 111-125 ms where
`arr *= 2` alone took 12-18 ms), which a reader of live memory waited out instead.

Only where it is safe and pays:
- Linux (a threaded process forked elsewhere, macOS's system frameworks, is not safe);
- at least SNAPSHOT_BYTES of live memory (a fork costs what writing ~16 MB does);
- every buffer in private memory: a page of a shared mapping (`np.memmap` opened
  `r+`, shared memory) changes for the child as well, so those are written from live
  memory behind the read barrier, as before;
- not when config.SNAPSHOT_ENV is `0`; not for a cell that waits for its checkpoint.

The kernel forks from its main thread in our own code, with no thread of the notebook's
alive (staging writes from live memory only then), an interrupt held back until the job
is queued. Its temp files are made here first, so none outlives a child that dies. The
child runs nothing but the write (no lock another thread could hold, no import), garbage
collector off; it ignores SIGINT (an interrupt goes to the kernel's process group and is
not for it), goes first if memory runs out (oom_score_adj), dies with the kernel
(PR_SET_PDEATHSIG) and says "ok", or why not, through a pipe. Any failure of the child, a
stall (no byte written for STALL_SECONDS) included, falls back to the write from live
memory in the writer thread. So does a child holding more memory than `_cap` (1.1 times
what it writes, or the pending-bytes bound if more): a page the kernel writes while the
child lives is left to the child alone, and a cell rewriting gigabytes meanwhile would
double them. Either way the write is verified against the step's digest as always: the
value as the step left it, or a failed checkpoint, never another value. The child starts
from the disk speed this kernel learned (direct.py) but does not teach it back.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import re
import select
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import config
from ..errors import BlobChanged, MirrorNeuronError, one_line
from ..render import format_bytes
from ..store.blobs import fill
from . import landing
from .jobs import Job
from .staging import Frozen

SNAPSHOT_BYTES = 16 << 20
"""Live bytes in a checkpoint from which it is written by a forked child."""
STALL_SECONDS = 60.0
"""A child that writes nothing for this long is stopped; the writer writes instead."""
WATCH_SECONDS = 0.25
"""How often a child's progress and memory are looked at."""
_PR_SET_PDEATHSIG = 1

# Resolved here: looking a symbol up in the child could wait on a loader lock that some
# other thread of the kernel held at the fork.
_prctl: Any = None
if sys.platform == "linux" and hasattr(os, "fork"):
    with contextlib.suppress(OSError, AttributeError):
        _prctl = ctypes.CDLL(None, use_errno=True).prctl

# Python 3.12+ warns on any fork of a threaded process; this one is planned for.
warnings.filterwarnings(
    "ignore",
    message=r"This process \(pid=\d+\) is multi-threaded",
    category=DeprecationWarning,
    module=re.escape(__name__),
)


@dataclass
class Child:
    """A forked child writing one checkpoint's live buffers into temp files made for it."""

    pid: int
    pipe: int
    """The read end of its report."""
    tmps: list[str]
    """The temp file of each live blob, in order: made here, so none outlives a child
    that dies mid-write."""
    size: int
    """The live bytes it writes (what sets its memory cap: `_cap`)."""


def queue(job: Job, spool: Path, enqueue: Callable[[Job], Job]) -> Job:
    """`enqueue(job)`, its live buffers handed to a forked child first where that is
    safe and pays (`take`): then no cell waits for them, the job is not `live`."""
    if threading.current_thread() is not threading.main_thread():
        return enqueue(job)
    with interrupts_held():
        job.snapshot = take(job, spool)
        job.live = job.snapshot is None
        return enqueue(job)


@contextlib.contextmanager
def interrupts_held() -> Iterator[None]:
    """Around `take` and the queueing of its job: an interrupt (SIGINT, which Jupyter
    sends the kernel's whole process group) must reach neither a child before it ignores
    it (it would run the kernel's code) nor this thread before the child is queued (it
    would be lost, its files with it). One that comes meanwhile is delivered after."""
    hit: list[int] = []
    old = signal.signal(signal.SIGINT, lambda signum, frame: hit.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler if old is None else old)
        if hit:
            signal.raise_signal(signal.SIGINT)


def take(job: Job, spool: Path) -> Child | None:
    """Fork a child that writes `job`'s live buffers; None: not here (module docstring),
    the writer writes them from live memory. In the main thread, inside
    `interrupts_held` (`queue`)."""
    live = [f for f in job.frozen if f.live is not None]
    views = [v for f in live for v in f.live or ()]
    size = sum(v.nbytes for v in views)
    if _prctl is None or size < SNAPSHOT_BYTES:
        return None
    if not config.snapshot() or not _private(views):
        return None
    tmps: list[str] = []
    fds: list[int] = []
    pid = 0
    try:
        for frozen in live:
            tmps.append(job.blobs.stage(frozen.key, [], spool))  # empty, in its place
        fds.extend(os.pipe())
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            try:
                _child(live, tmps, fds[1], parent)
            finally:
                os._exit(1)
        os.close(fds.pop())
        child = Child(pid, fds[0], tmps, size)
        fds.clear()
        return child
    except BaseException as exc:
        if pid > 0:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
            _reap(pid)
        _drop(tmps)
        for fd in fds:
            os.close(fd)
        if isinstance(exc, OSError):  # no memory, processes or files left for it
            return None
        raise


def finish(job: Job, spool: Path) -> None:
    """Wait for the job's child: its temp files become the job's; if it did not write
    them, they are written here from live memory (verified: staging.py)."""
    child, job.snapshot = job.snapshot, None
    if child is None:
        return
    live = [f for f in job.frozen if f.live is not None]
    failed = _collect(child)
    if failed is None:
        for frozen, tmp in zip(live, child.tmps, strict=True):
            frozen.tmp, frozen.live = tmp, None
        return
    _drop(child.tmps)
    try:
        landing.stage(job, spool)
    except BlobChanged:  # (not "code no cell named": cells were free to change it)
        raise BlobChanged(
            f"its snapshot could not be written ({failed}), and the value has changed "
            "since the step"
        ) from None


def abandon(job: Job) -> None:
    """A job failed before its child's files were taken: wait for it, drop its files."""
    child, job.snapshot = job.snapshot, None
    if child is not None:
        _collect(child)
        _drop(child.tmps)


# -- the parent's side --------------------------------------------------------------------


def _collect(child: Child) -> str | None:
    """Wait for the child to exit: None when it wrote every file, else why not."""
    report = b""
    poller = select.poll()
    poller.register(child.pipe, select.POLLIN)
    written, since = _written(child.pid), time.monotonic()
    cap, stopped = _cap(child.size), ""
    try:
        while True:
            if poller.poll(int(WATCH_SECONDS * 1000)):
                part = os.read(child.pipe, 1 << 16)
                if not part:
                    break
                report += part
                continue
            now = _written(child.pid)
            if now is None or now != written:  # (progress unknown: never stopped)
                written, since = now, time.monotonic()
            elif time.monotonic() - since > STALL_SECONDS:
                stopped = f"its writer process wrote nothing for {STALL_SECONDS:.0f} s"
            held = _held(child.pid)
            if held is not None and held > cap:
                stopped = (
                    f"its writer process held {format_bytes(held)} of pages the kernel "
                    f"changed since, past {format_bytes(cap)}"
                )
            if stopped:
                with contextlib.suppress(OSError):
                    os.kill(child.pid, signal.SIGKILL)
    finally:
        os.close(child.pipe)
        status = _reap(child.pid)
    said = report.decode("utf-8", "replace").strip()
    if status == 0 and said == "ok":
        return None
    return stopped or said or f"its writer process exited with {status}"


def _cap(size: int) -> int:
    """What a snapshot of `size` live bytes may cost in memory: 1.1 times them, or what
    the pending-bytes bound allows (config.PENDING_BYTES_ENV), whichever is more."""
    try:
        bound = config.pending_bytes()
    except MirrorNeuronError:  # (refused before the step's body ran: not here)
        bound = 0
    return max(size + size // 10, bound)


def _held(pid: int) -> int | None:
    """Bytes of memory only the child maps (copies the kernel's writes left it), when
    the OS tells (smaps_rollup: Linux 4.14+)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
            found = [int(line.split()[1]) for line in fh if line.startswith(b"Private_")]
    except (OSError, ValueError, IndexError):
        return None
    return sum(found) * 1024 if found else None


def _reap(pid: int) -> int | None:
    """The child's exit code (None: killed by a signal); 0 when someone else reaped it
    (the notebook's own os.wait(), SIGCHLD ignored): its report tells."""
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return 0
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else None


def _written(pid: int) -> int | None:
    """Bytes the child has written so far (its progress), when the OS tells."""
    try:
        with open(f"/proc/{pid}/io", "rb") as fh:
            for line in fh:
                if line.startswith(b"wchar:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _drop(tmps: Sequence[str]) -> None:
    for tmp in tmps:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _private(views: Sequence[memoryview]) -> bool:
    """Every view lies in private mappings of this process (copied on write after a
    fork), by /proc/self/maps."""
    spans = []
    numpy = sys.modules.get("numpy")
    for view in views:
        if not view.nbytes:
            continue
        try:
            if numpy is not None:
                at = int(numpy.frombuffer(view, numpy.uint8).__array_interface__["data"][0])
            else:
                at = ctypes.addressof(ctypes.c_char.from_buffer(view))
        except (TypeError, ValueError):  # (read-only without numpy): not known
            return False
        spans.append((at, at + view.nbytes))
    try:
        with open("/proc/self/maps", "rb") as fh:
            text = fh.read()
    except OSError:
        return False
    maps = []
    for line in text.splitlines():
        fields = line.split(maxsplit=2)
        lo, _, hi = fields[0].partition(b"-")
        maps.append((int(lo, 16), int(hi, 16), fields[1][3:4] == b"p"))
    maps.sort()
    return all(_covered(lo, hi, maps) for lo, hi in spans)


def _covered(lo: int, hi: int, maps: list[tuple[int, int, bool]]) -> bool:
    """[lo, hi) lies in consecutive private mappings."""
    for start, end, private in maps:
        if end <= lo:
            continue
        if start > lo or not private:
            return False
        lo = end
        if lo >= hi:
            return True
    return False


# -- the child ----------------------------------------------------------------------------


def _child(live: list[Frozen], tmps: list[str], pipe: int, parent: int) -> None:
    """Write the live buffers as this snapshot holds them into their temp files and say
    "ok", or why not. Nothing here may print."""
    said = "ok"
    try:
        gc.disable()  # a collection would touch, and so copy, the whole heap
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        with contextlib.suppress(OSError), open("/proc/self/oom_score_adj", "w") as fh:
            fh.write("1000")  # out of memory, this goes first: the writer writes instead
        if os.getppid() != parent:  # the kernel died before PDEATHSIG was set
            return
        time.sleep(config.writer_delay())  # (tests: the writer's window, here too)
        for frozen, tmp in zip(live, tmps, strict=True):
            _write(frozen, tmp)
    except BaseException as exc:
        said = one_line(exc)
    os.write(pipe, said.encode("utf-8", "replace")[:4096])
    os._exit(0 if said == "ok" else 1)


def _write(frozen: Frozen, tmp: str) -> None:
    """One blob's bytes into its temp file, hashed as written: they must be its key."""
    fd = os.open(tmp, os.O_WRONLY)
    try:
        fill(fd, frozen.live or (), expect=frozen.key)
    finally:
        os.close(fd)
