"""Big staged blobs: the page cache vs O_DIRECT vs the adaptive choice (store/direct.py).

    .venv/bin/python benchmarks/bench_direct.py              # 200 MB and 1 GB, 5 runs
    .venv/bin/python benchmarks/bench_direct.py --runs 3 --mb 200

For each size and page state, in one process, each way writes the same array to a new
temp file beside where the blob would go (what BlobStore.stage does in the cell), then
fsyncs it (what landing does in the writer, and what a cell reading the value waits for):

- `old`: main's write_temp (a BufferedWriter over mkstemp), copied here as the baseline;
- `direct`: write_chunks(mode="direct"), every aligned block O_DIRECT;
- `adaptive`: write_chunks(), as write_temp now does.

Page states: `warm`, a buffer of the blob's size touched and freed just before (its pages
are fresh in the free lists); `cold`, 3 s idle first (like bench_workload's `api` cell
before `mutate`): on a VM whose host reclaims freed guest memory, new pages then often
fault on the host. Often, not always: freeing a big buffer just before the idle kept the
pages warm here, and even idle alone gave 200 MB writes of 189, 362, 59 ms in a row, so
the per-run lines matter as much as the medians. The order of the ways rotates each
run. Prints medians (ms) and ratios to `old`; asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from bench_core import log, machine

from mirrorneuron_nb.store import direct

COLD_SECONDS = 3.0
WAYS = ("old", "direct", "adaptive")
_direct_bytes = 0
_count_lock = threading.Lock()


def old_write_temp(directory: Path, chunks: list[Any]) -> str:
    """main's write_temp (1c8ba1a), fsync=False."""
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
            fh.flush()
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return tmp


def new_write_temp(directory: Path, chunks: list[Any], mode: direct.Mode) -> str:
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        direct.write_chunks(fd, chunks, mode)
    finally:
        os.close(fd)
    return tmp


def count_direct_bytes() -> None:
    """Count bytes written with O_DIRECT set (how much the adaptive way sent direct)."""
    real = os.pwrite

    def counting(fd: int, data: Any, offset: int) -> int:
        global _direct_bytes
        n = real(fd, data, offset)
        if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT:
            with _count_lock:
                _direct_bytes += n
        return n

    os.pwrite = counting


def page_state(state: str, nbytes: int) -> None:
    if state == "cold":
        time.sleep(COLD_SECONDS)
        return
    scratch = np.ones(nbytes // 8)  # touched: its pages are real, then freed
    scratch.sum()
    del scratch


def one(directory: Path, arr: Any, way: str, state: str) -> tuple[float, float, float]:
    """(write s, fsync s, fraction of bytes written direct)."""
    global _direct_bytes
    chunks = [memoryview(arr).cast("B")]
    write: Callable[[], str] = (
        (lambda: old_write_temp(directory, chunks))
        if way == "old"
        else (
            lambda: new_write_temp(directory, chunks, "direct" if way == "direct" else "adaptive")
        )
    )
    page_state(state, arr.nbytes)
    _direct_bytes = 0
    t0 = time.perf_counter()
    tmp = write()
    t1 = time.perf_counter()
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    t2 = time.perf_counter()
    os.unlink(tmp)
    return t1 - t0, t2 - t1, _direct_bytes / arr.nbytes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--mb", type=int, nargs="+", default=[200, 1000])
    parser.add_argument(
        "--dir", type=Path, default=None, help="where to write (default: a temp dir)"
    )
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="mn-direct-", dir=args.dir))
    log(f"scratch {root}; {args.runs} runs; load {os.getloadavg()}; machine: {machine()}")
    count_direct_bytes()
    rows = []
    try:
        for mb in args.mb:
            arr = np.random.default_rng(mb).random(mb * 1_000_000 // 8)
            for state in ("warm", "cold"):
                got: dict[str, list[tuple[float, float, float]]] = {w: [] for w in WAYS}
                for run in range(args.runs):
                    order = WAYS[run % 3 :] + WAYS[: run % 3]
                    for way in order:
                        got[way].append(one(root, arr, way, state))
                    log(
                        f"{mb} MB {state} run {run + 1}: "
                        + ", ".join(
                            f"{w} {got[w][-1][0] * 1e3:.0f}+{got[w][-1][1] * 1e3:.0f} ms"
                            for w in WAYS
                        )
                    )
                rows.append((mb, state, got))
            del arr
    finally:
        for leftover in root.iterdir():
            leftover.unlink()
        root.rmdir()
    med = statistics.median
    print(f"\nload average at the end {os.getloadavg()}; medians of {args.runs} runs (ms)")
    print(
        f"{'size':>7} {'pages':<5} {'way':<9} {'write':>7} {'fsync':>7} {'both':>7} "
        f"{'write/old':>9} {'both/old':>8} {'direct%':>7}"
    )
    for mb, state, got in rows:
        base_w = med(w for w, _, _ in got["old"])
        base_b = med(w + f for w, f, _ in got["old"])
        for way in WAYS:
            w = med(x for x, _, _ in got[way])
            f = med(y for _, y, _ in got[way])
            b = med(x + y for x, y, _ in got[way])
            d = med(z for _, _, z in got[way])
            print(
                f"{mb:>5}MB {state:<5} {way:<9} {w * 1e3:>7.0f} {f * 1e3:>7.0f} {b * 1e3:>7.0f} "
                f"{w / base_w:>9.2f} {b / base_b:>8.2f} {d * 100:>6.0f}%"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
