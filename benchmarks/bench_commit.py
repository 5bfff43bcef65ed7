"""What the manifest log adds to a checkpoint's commit, side by side in one process.

Times `begin_attempt` + `commit_checkpoint` of a step with two small values on a real
sidecar, with the manifest line written and with it skipped, alternating rounds, and
prints medians and the difference (it asserts nothing):

    .venv/bin/python benchmarks/bench_commit.py [--commits 150] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mirrorneuron_nb.store.checkpoints as checkpoints
from mirrorneuron_nb.models import NewCheckpoint, Run, StepStart, VarEntry
from mirrorneuron_nb.store import Store


def _commits(n: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "nb.mn")
        run = Run(
            id="bench",
            kind="kernel",
            status="running",
            started_at=time.time(),
            pid=os.getpid(),
            host=socket.gethostname(),
        )
        store.start_run(run)
        values = [
            VarEntry(
                name=n, type_name="int", fingerprint="f", serializer="pickle", size=3, header=b"abc"
            )
            for n in ("x", "y")
        ]
        times = []
        for i in range(n):
            start = StepStart(
                name="a", cell_id=None, code="x = 1", code_hash="h", cache_key=f"k{i}", options={}
            )
            began = time.perf_counter()
            attempt = store.begin_attempt(run.id, start)
            store.commit_checkpoint(
                attempt,
                NewCheckpoint(
                    cache_key=f"k{i}",
                    code_hash="h",
                    duration=0.1,
                    inputs={},
                    outputs=[],
                    variables=values,
                    new_blobs=[],
                ),
            )
            times.append(time.perf_counter() - began)
        store.close()
        return statistics.median(times)


def _without_manifest(n: int) -> float:
    original: Callable[..., Any] = checkpoints.write_manifest_txn
    checkpoints.write_manifest_txn = lambda *args, **kwargs: None  # type: ignore[assignment]
    try:
        return _commits(n)
    finally:
        checkpoints.write_manifest_txn = original  # type: ignore[assignment]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    base, with_log = [], []
    for _ in range(args.rounds):
        base.append(_without_manifest(args.commits))
        with_log.append(_commits(args.commits))
    b, w = statistics.median(base), statistics.median(with_log)
    print(
        f"begin+commit, median of {args.commits} commits x {args.rounds} rounds: "
        f"without manifest {b * 1e3:.2f} ms, with {w * 1e3:.2f} ms "
        f"(+{(w - b) * 1e3:.2f} ms, {w / b:.2f}x)"
    )


if __name__ == "__main__":
    main()
