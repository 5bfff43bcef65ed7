"""What `mn-nb gc`'s progress bar costs: BlobStore.collect over a blob directory of many
files, side by side in one process, repetitions interleaved: without a hook (the
baseline), with the hook a piped `mn-nb gc` passes (an ItemBar that draws nothing), and
with a drawing tqdm bar (written to memory instead of a terminal). Every file is
referenced, so nothing is deleted and each repetition walks the same files. Reports
medians and ratios; asserts nothing.

    .venv/bin/python benchmarks/bench_progress.py [--files 20000] [--runs 5]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from mirrorneuron_nb.batch.progress import ItemBar
from mirrorneuron_nb.store.blobs import BlobStore, Progress


def make_blobs(root: Path, files: int) -> frozenset[str]:
    keys = []
    for i in range(files):
        key = f"{i:032x}"
        path = root / key[:2] / key[2:]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 1024)
        keys.append(key)
    return frozenset(keys)


def timed(blobs: BlobStore, referenced: frozenset[str], hook: Progress | None) -> float:
    start = time.perf_counter()
    files, _ = blobs.collect(referenced, 0, hook)
    elapsed = time.perf_counter() - start
    assert files == 0  # everything referenced: nothing deleted
    return elapsed


def drawn_bar() -> ItemBar:
    bar = ItemBar("checking blob files", "file")
    bar.enabled = True  # draw although stderr is no terminal here (it goes to memory)
    return bar


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    variants: dict[str, Callable[[], ItemBar | None]] = {
        "no hook (baseline)": lambda: None,
        "hook, no bar (piped)": lambda: ItemBar("checking blob files", "file", enabled=False),
        "hook, tqdm bar drawn": drawn_bar,
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    with tempfile.TemporaryDirectory() as tmp:
        blobs = BlobStore(Path(tmp))
        referenced = make_blobs(Path(tmp), args.files)
        timed(blobs, referenced, None)  # warm the dentry cache once
        for _ in range(args.runs):
            for name, make in variants.items():
                hook = make()
                with contextlib.redirect_stderr(io.StringIO()):
                    times[name].append(timed(blobs, referenced, hook))
                    if hook is not None:
                        hook.close()
    base = statistics.median(times["no hook (baseline)"])
    print(
        f"BlobStore.collect over {args.files} blob files, median of {args.runs} runs "
        f"(interleaved); {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{sys.version.split()[0]}, load average {os.getloadavg()[0]:.1f}"
    )
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:<22} {median * 1000:8.1f} ms  {median / base:5.2f}x")


if __name__ == "__main__":
    main()
