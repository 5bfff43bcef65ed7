"""Durable calls: what recording and replaying one costs, side by side with the plain call.

In one process, with a real sidecar (Store) in a scratch directory, the hot path of
`@mn.durable` is timed call by call (small arguments and results):

    a. overhead of a recorded call over the plain call (p50, p90)   target <= 1 ms p50
       - into an empty journal (a step's first run)
       - into a non-empty journal (a resumed run past its replayed calls: lookup + insert)
    b. a replayed call (lookup + signature check + unpickle)          target <= 0.2 ms p50
    c. replay with 100,000 recorded calls in the step's journal vs 1,000
       (and 1,000 in a sidecar that also holds 100,000 closed calls)  target <= 2x slower

and, once, inside a real kernel (widget progress bar included): a `%%mn_step` loop of
durable calls vs the same loop of plain calls, then the replay of that loop.
Nothing is asserted: figures are printed (and written as JSON with --json).

Usage: .venv/bin/python benchmarks/bench_durable.py [--runs N] [--quick] [--no-kernel]
                                                    [--json PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import socket
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

CALLS = 2000
BIG = 100_000
SMALL = 1_000


def work(x: int) -> dict[str, Any]:
    """A small call: a few-field dict from an int."""
    return {"id": x, "score": x * 0.5, "ok": x % 2 == 0}


def percentiles(ns: list[int]) -> tuple[float, float]:
    """(p50, p90) in milliseconds."""
    ordered = sorted(ns)
    return (
        ordered[len(ordered) // 2] / 1e6,
        ordered[int(len(ordered) * 0.9)] / 1e6,
    )


def timed_calls(fn: Callable[[int], Any], args: range) -> list[int]:
    out = []
    clock = time.perf_counter_ns
    for x in args:
        t0 = clock()
        fn(x)
        out.append(clock() - t0)
    return out


class Sidecar:
    """A real store with a run, and steps run the way the runner runs them."""

    def __init__(self, root: Path) -> None:
        from mirrorneuron_nb.models import Run
        from mirrorneuron_nb.store import Store

        self.store = Store(root)
        self.run_id = "bench"
        self.store.start_run(
            Run(
                id=self.run_id,
                kind="bench",
                status="running",
                started_at=time.time(),
                pid=os.getpid(),
                host=socket.gethostname(),
            )
        )

    def attempt(self, step: str, body: Callable[[], Any], *, succeed: bool) -> Any:
        """One attempt of `step`; a failing attempt keeps its journal open for replay."""
        from mirrorneuron_nb.kernel.recording import recording
        from mirrorneuron_nb.models import NewCheckpoint, StepStart

        start = StepStart(step, None, "", "h", "k", {})
        attempt = self.store.begin_attempt(self.run_id, start)
        with (
            contextlib.redirect_stderr(io.StringIO()),  # the summary line per attempt
            recording(self.store, run_id=self.run_id, attempt_id=attempt.id, step=step),
        ):
            value = body()
        if succeed:
            self.store.commit_checkpoint(attempt, NewCheckpoint("k", "h", 0, {}, [], [], []))
        else:
            self.store.fail_attempt(attempt, "bench: keep the journal open", "")
        return value


def in_process(root: Path, calls: int, big: int, small: int) -> dict[str, Any]:
    import mirrorneuron_nb as mn

    durable_work = mn.durable(work)
    side = Sidecar(root)
    for x in range(200):  # warm-up: imports, key file, statement cache
        work(x)
    side.attempt("warm", lambda: [durable_work(x) for x in range(200)], succeed=True)

    out: dict[str, Any] = {}
    plain = timed_calls(work, range(calls))
    fresh = side.attempt("fresh", lambda: timed_calls(durable_work, range(calls)), succeed=False)
    replay = side.attempt("fresh", lambda: timed_calls(durable_work, range(calls)), succeed=False)
    # Past the replayed calls: each new call looks up (a miss), then records.
    resumed = side.attempt(
        "fresh", lambda: timed_calls(durable_work, range(calls, 2 * calls)), succeed=False
    )
    out["plain"] = percentiles(plain)
    out["recorded_fresh"] = percentiles(fresh)
    out["recorded_resumed"] = percentiles(resumed)
    out["replayed"] = percentiles(replay)

    # Scale: replaying 1,000 calls out of a journal of `small` vs `big` recorded calls.
    side.attempt("small", lambda: [durable_work(x) for x in range(small)], succeed=False)
    began = time.perf_counter()
    side.attempt("big", lambda: [durable_work(x) for x in range(big)], succeed=False)
    out["fill_big_s"] = time.perf_counter() - began
    side.attempt("closed", lambda: [durable_work(x) for x in range(big)], succeed=True)
    side.attempt("beside", lambda: [durable_work(x) for x in range(small)], succeed=False)
    n = min(small, 1000)
    out["replay_small"] = percentiles(
        side.attempt("small", lambda: timed_calls(durable_work, range(n)), succeed=False)
    )
    out["replay_big"] = percentiles(
        side.attempt("big", lambda: timed_calls(durable_work, range(n)), succeed=False)
    )
    out["replay_beside_closed"] = percentiles(
        side.attempt("beside", lambda: timed_calls(durable_work, range(n)), succeed=False)
    )
    began = time.perf_counter()
    side.attempt("big", lambda: [durable_work(x) for x in range(big)], succeed=False)
    out["replay_all_big_s"] = time.perf_counter() - began
    out["rows"] = side.store.conn.execute("SELECT COUNT(*) FROM durable_calls").fetchone()[0]
    out["db_mb"] = (
        sum(p.stat().st_size for p in root.iterdir() if p.name.startswith("state.sqlite")) / 1e6
    )
    side.store.close()
    return out


KERNEL_DEFINE = """
import json, time
import mirrorneuron_nb as mn
def work(x):
    return {"id": x, "score": x * 0.5, "ok": x % 2 == 0}
durable_work = mn.durable(work)
def timed(fn, n):
    out = []
    for x in range(n):
        t0 = time.perf_counter_ns(); fn(x); out.append(time.perf_counter_ns() - t0)
    out.sort()
    return {"p50": out[len(out) // 2] / 1e6, "p90": out[int(len(out) * 0.9)] / 1e6,
            "total": sum(out) / 1e9}
"""


def in_kernel(scratch: Path, calls: int) -> dict[str, Any]:
    from mirrorneuron_nb.batch.driver import Kernel

    work_dir = scratch / "kernel"
    work_dir.mkdir()
    kernel = Kernel(work_dir)
    try:
        kernel.run("%load_ext mirrorneuron_nb")
        kernel.run(KERNEL_DEFINE)
        kernel.run("timed(work, 500); None")  # warm-up
        plain = json.loads(kernel.run(f"print(json.dumps(timed(work, {calls})))").stdout)
        step = (
            "%%mn_step loop\n"
            f"stats = timed(durable_work, {calls})\n"
            "print('STATS' + json.dumps(stats))\n"
            "if not FINAL:\n    raise RuntimeError('keep the journal open')\n"
        )
        kernel.run("FINAL = False")
        first = kernel.run(step, check=False)
        kernel.run("FINAL = True")
        again = kernel.run(step)

        def stats(text: str) -> dict[str, float]:
            line = next(x for x in text.splitlines() if x.startswith("STATS"))
            return dict(json.loads(line[5:]))

        return {"plain": plain, "recorded": stats(first.stdout), "replayed": stats(again.stdout)}
    finally:
        kernel.shutdown()


def machine() -> dict[str, str]:
    mem = Path("/proc/meminfo").read_text().split("\n")[0].split()[1]
    return {
        "nproc": str(os.cpu_count()),
        "ram": f"{int(mem) / 1024 / 1024:.0f} GiB",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
    }


def median_pair(values: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(v[0] for v in values), statistics.median(v[1] for v in values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="10,000 instead of 100,000")
    parser.add_argument("--no-kernel", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    big = 10_000 if args.quick else BIG
    runs = 1 if args.quick else args.runs

    with tempfile.TemporaryDirectory(prefix="mn-bench-durable-") as tmp:
        scratch = Path(tmp)
        home = scratch / "home"
        for var, sub in [
            ("IPYTHONDIR", "ipython"),
            ("JUPYTER_CONFIG_DIR", "jupyter_config"),
            ("JUPYTER_DATA_DIR", "jupyter_data"),
            ("JUPYTER_RUNTIME_DIR", "runtime"),
        ]:
            (home / sub).mkdir(parents=True)
            os.environ[var] = str(home / sub)
        os.environ["MIRRORNEURON_KEY_FILE"] = str(home / "signing.key")
        os.environ.pop("MIRRORNEURON_SIDECAR", None)

        results = []
        for i in range(runs):
            results.append(in_process(scratch / f"run{i}.mn", CALLS, big, SMALL))
            print(f"in-process run {i + 1}/{runs} done", file=sys.stderr)
        kernel = None if args.no_kernel else in_kernel(scratch, CALLS)

    med = {
        k: median_pair([r[k] for r in results])
        for k in results[0]
        if isinstance(results[0][k], tuple)
    }
    scalars = {
        k: statistics.median(r[k] for r in results)
        for k in ("fill_big_s", "replay_all_big_s", "rows", "db_mb")
    }
    plain = med["plain"]

    def over(key: str) -> str:
        p50, p90 = med[key]
        return f"{p50 - plain[0]:+.3f} ms / {p90 - plain[1]:+.3f} ms"

    rows = [
        ("plain call", f"{plain[0]:.4f} ms / {plain[1]:.4f} ms", "", ""),
        (
            "recorded call, empty journal",
            fmt(med["recorded_fresh"]),
            over("recorded_fresh"),
            "<= 1 ms p50",
        ),
        (
            "recorded call, after a replay (lookup miss + insert)",
            fmt(med["recorded_resumed"]),
            over("recorded_resumed"),
            "<= 1 ms p50",
        ),
        ("replayed call", fmt(med["replayed"]), over("replayed"), "<= 0.2 ms p50"),
        (f"replay, journal of {SMALL:,}", fmt(med["replay_small"]), "", ""),
        (
            f"replay, journal of {big:,}",
            fmt(med["replay_big"]),
            f"{med['replay_big'][0] / med['replay_small'][0]:.2f}x p50",
            "<= 2x",
        ),
        (
            f"replay, {SMALL:,} beside {big:,} closed",
            fmt(med["replay_beside_closed"]),
            f"{med['replay_beside_closed'][0] / med['replay_small'][0]:.2f}x p50",
            "<= 2x",
        ),
    ]
    print(
        f"\nin-process, real sidecar, median of {runs} run(s), {CALLS} calls each "
        "(p50 / p90 per call)\n"
    )
    print(f"| {'measurement':<54} | {'p50 / p90':<21} | {'vs plain / ratio':<23} | target |")
    print(f"| {'-' * 54} | {'-' * 21} | {'-' * 23} | ------ |")
    for name, a, b, c in rows:
        print(f"| {name:<54} | {a:<21} | {b:<23} | {c} |")
    print(
        f"\nrecording {big:,} calls: {scalars['fill_big_s']:.2f} s "
        f"({scalars['fill_big_s'] / big * 1e6:.0f} us/call); replaying all {big:,}: "
        f"{scalars['replay_all_big_s']:.2f} s "
        f"({scalars['replay_all_big_s'] / big * 1e6:.0f} us/call); "
        f"{int(scalars['rows']):,} rows, state.sqlite* {scalars['db_mb']:.1f} MB"
    )
    if kernel is not None:
        p, r, d = kernel["plain"], kernel["recorded"], kernel["replayed"]
        print(f"\ninside a real kernel, %%mn_step loop of {CALLS} calls (1 run):")
        print(f"  plain     p50 {p['p50']:.4f} ms  p90 {p['p90']:.4f} ms  total {p['total']:.3f} s")
        print(
            f"  recorded  p50 {r['p50']:.4f} ms  p90 {r['p90']:.4f} ms  total {r['total']:.3f} s"
            f"  (overhead p50 {r['p50'] - p['p50']:+.3f} ms)"
        )
        print(f"  replayed  p50 {d['p50']:.4f} ms  p90 {d['p90']:.4f} ms  total {d['total']:.3f} s")
    info = machine()
    print("\nmachine: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    if args.json:
        args.json.write_text(
            json.dumps({"machine": info, "runs": results, "kernel": kernel}, indent=1)
        )


def fmt(pair: tuple[float, float]) -> str:
    return f"{pair[0]:.4f} ms / {pair[1]:.4f} ms"


if __name__ == "__main__":
    main()
