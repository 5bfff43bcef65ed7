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
alive (staging writes from live memory only then). The child runs nothing but the write,
garbage collector off; it ignores SIGINT (an interrupt goes to the kernel's process group
and is not for it), dies with the kernel (PR_SET_PDEATHSIG) and reports its temp files,
or why it could not, through a pipe. Any failure of the child, a stall (no byte written
for STALL_SECONDS) included, falls back to the write from live memory in the writer
thread, verified against the step's digest as always: the value as the step left it, or
a failed checkpoint, never another value.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import re
import select
import signal
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from .. import config
from ..errors import one_line
from . import landing
from .jobs import Job

SNAPSHOT_BYTES = 16 << 20
"""Live bytes in a checkpoint from which it is written by a forked child."""
STALL_SECONDS = 60.0
"""A child that writes nothing for this long is stopped; the writer writes instead."""
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
    """A forked child writing one checkpoint's live buffers."""

    pid: int
    pipe: int
    """The read end of its report."""


def take(job: Job, spool: Path) -> Child | None:
    """Fork a child that writes `job`'s live buffers; None: not here (module docstring),
    the writer writes them from live memory."""
    views = [v for f in job.frozen if f.live is not None for v in f.live]
    if _prctl is None or sum(v.nbytes for v in views) < SNAPSHOT_BYTES:
        return None
    if not config.snapshot() or not _private(views):
        return None
    read, write = os.pipe()
    parent = os.getpid()
    try:
        pid = os.fork()
    except OSError:  # no memory or processes left for it: written from live memory
        os.close(read)
        os.close(write)
        return None
    if pid == 0:
        _child(job, spool, write, parent)
    os.close(write)
    return Child(pid, read)


def finish(job: Job, spool: Path) -> None:
    """Wait for the job's child: its temp files become the job's; if it did not write
    them, they are written here from live memory (verified: staging.py)."""
    child, job.snapshot = job.snapshot, None
    if child is None:
        return
    live = [f for f in job.frozen if f.live is not None]
    tmps = _collect(child)
    if tmps is not None and len(tmps) == len(live):
        for frozen, tmp in zip(live, tmps, strict=True):
            frozen.tmp, frozen.live = tmp, None
        return
    for tmp in tmps or ():
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    landing.stage(job, spool)


def abandon(job: Job) -> None:
    """A job failed before its child's files were taken: wait for it, drop its files."""
    child, job.snapshot = job.snapshot, None
    if child is not None:
        for tmp in _collect(child) or ():
            with contextlib.suppress(OSError):
                os.unlink(tmp)


# -- the parent's side --------------------------------------------------------------------


def _collect(child: Child) -> list[str] | None:
    """The child's temp files once it exits (None: it failed, or was stopped stalled)."""
    report = b""
    written, since = _written(child.pid), time.monotonic()
    try:
        while True:
            ready, _, _ = select.select([child.pipe], [], [], 1.0)
            if ready:
                part = os.read(child.pipe, 1 << 16)
                if not part:
                    break
                report += part
                continue
            now = _written(child.pid)
            if now != written:
                written, since = now, time.monotonic()
            elif time.monotonic() - since > STALL_SECONDS:
                with contextlib.suppress(OSError):
                    os.kill(child.pid, signal.SIGKILL)
    finally:
        os.close(child.pipe)
        status = _reap(child.pid)
    try:
        found = json.loads(report)
    except ValueError:
        return None
    tmps = found.get("tmps") if isinstance(found, dict) else None
    if status != 0 or not isinstance(tmps, list) or not all(isinstance(t, str) for t in tmps):
        return None
    return tmps


def _reap(pid: int) -> int | None:
    """The child's exit code (None: killed, or reaped by someone else)."""
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:  # the notebook's own os.wait() took it: its report counts
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


def _child(job: Job, spool: Path, pipe: int, parent: int) -> NoReturn:
    """Write the live buffers as this snapshot holds them, report, exit. Nothing here
    may print or return into the kernel's code."""
    code, report = 1, dict[str, Any]()
    try:
        gc.disable()  # a collection would touch, and so copy, the whole heap
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() == parent:  # (else the kernel died before the line above)
            time.sleep(config.writer_delay())  # (tests: the writer's window, here too)
            live = [f for f in job.frozen if f.live is not None]
            landing.stage(job, spool)
            report, code = {"tmps": [f.tmp for f in live]}, 0
    except BaseException as exc:
        report = {"error": one_line(exc)}
    try:
        os.write(pipe, json.dumps(report).encode())
    finally:
        os._exit(code)
