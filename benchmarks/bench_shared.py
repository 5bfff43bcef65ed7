"""The shared store end to end, in real kernels: the embedded sidecar vs PostgreSQL + S3
(moto) vs PostgreSQL + a blob directory (`file://`), side by side in one driver process.

    .venv/bin/python benchmarks/bench_shared.py [--trivial 120] [--runs 3] [--n 25000000]
        [--baseline TREE] [--trivial-only]

`--baseline TREE`: one more PostgreSQL + S3 kernel importing mirrorneuron_nb from TREE (a
checkout of the commit to compare with, e.g. `git worktree add --detach /tmp/base REV`),
interleaved with the others. Connections are counted per kernel (each kernel names itself
to the server through PGAPPNAME).

It starts its own PostgreSQL (fsync on) and moto server on 127.0.0.1 and stops them at the
end. One kernel per store, plus a plain kernel for the body alone; cells interleaved (who
goes first rotates), so the machine's noise hits every store alike:
  trivial   `%%mn_step tJ\\nx = J` (a new step each time): client round trip and inside the
            kernel (run_cell), median; then `mn.flush()` until all of them are committed
  big       `%%mn_step big --force` making a 200 MB float64 array (a fresh seed each run):
            until the cell returns, then `mn.flush()`: until its checkpoint is durable
  resume    `%mn_resume` of that array in a fresh kernel (timed inside it): until the
            values are bound, and after `a.sum()` has read every byte (checked equal)
Prints medians and ratios to the sidecar, with the load average; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench_core import Kernel, hermetic_env, log, machine
from bench_workload import TIMER
from services import BUCKET, load, moto, postgres

MARK = "__SHARED__"
STORES = ("sqlite", "pg+s3", "pg+file")


def store_env(label: str, pg: str, scratch: Path, baseline: Path | None = None) -> dict[str, str]:
    """What a kernel of this store is started with (the sidecar path names the notebook)."""
    env = {"MIRRORNEURON_SIDECAR": str(scratch / label / "nb.mn"), "PGAPPNAME": label}
    # Each store its own notebook: `nb.ipynb` in the same project would be ONE notebook in
    # the shared database for every PostgreSQL kernel (steps served from each other's
    # checkpoints, one lock): before 2026-12-01 10:03 UTC pg+s3 and pg+file shared it.
    env["MIRRORNEURON_PROJECT"] = "bench-" + label.replace("+", "-").replace("@", "-")
    kind, _, base = label.partition("@")
    if base and baseline is not None:
        env["PYTHONPATH"] = str(baseline)
    if kind == "pg+s3":
        env |= {"MIRRORNEURON_STORE": pg, "MIRRORNEURON_BLOBS": f"s3://{BUCKET}/e2e"}
    elif label == "pg+file":
        env |= {"MIRRORNEURON_STORE": pg, "MIRRORNEURON_BLOBS": f"file://{scratch}/pgblobs"}
    return env


def emit(expr: str) -> str:
    return f"import json as _j\nprint({MARK!r} + _j.dumps({expr}))\n"


def picked(stdout: str) -> Any:
    for line in stdout.splitlines():
        if line.startswith(MARK):
            return json.loads(line[len(MARK) :])
    raise RuntimeError(f"no {MARK} line in:\n{stdout}")


class Side:
    """One kernel: a store's (extension loaded) or the plain one."""

    def __init__(self, label: str, work: Path, env: dict[str, str], log_file: Path) -> None:
        self.label = label
        work.mkdir(parents=True, exist_ok=True)
        self.k = Kernel(work, env, log_file)
        self.k.run(TIMER)
        if label != "plain":
            self.k.run("%load_ext mirrorneuron_nb\nimport mirrorneuron_nb as _mn")
        # First touch of memory is slow on these VMs (balloon): fault in 512 MB once.
        self.k.warm_up(512 << 20)

    def run(self, code: str) -> float:
        """Client round trip of one cell (execute request -> idle)."""
        return self.k.run(code).seconds

    def flush(self) -> float:
        """Until every checkpoint written behind the cells has committed; a failed one is
        an error here (it would make the figure a lie)."""
        done = self.k.run("_mn.flush()")
        if done.stderr.strip():
            raise RuntimeError(f"{self.label}: checkpoint failed: {done.stderr.strip()}")
        return done.seconds

    def inside(self, count: int) -> list[float]:
        """The last `count` cells' run_cell times, taken inside the kernel."""
        return list(picked(self.k.run(emit(f"__import__('sys')._bench_times[-{count}:]")).stdout))


def rotate(items: list[Side], i: int) -> list[Side]:
    turn = i % len(items)
    return items[turn:] + items[:turn]


def trivial(sides: list[Side], count: int) -> dict[str, dict[str, float]]:
    trips: dict[str, list[float]] = {s.label: [] for s in sides}
    for j in range(count):
        for s in rotate(sides, j):
            code = "x = 1" if s.label == "plain" else f"%%mn_step t{j}\nx = {j}"
            trips[s.label].append(s.run(code))
    out = {}
    for s in sides:
        inside = s.inside(count)
        flush = 0.0 if s.label == "plain" else s.flush()
        out[s.label] = {
            "round_trip_ms": statistics.median(trips[s.label]) * 1e3,
            "inside_ms": statistics.median(inside) * 1e3,
            "inside_p90_ms": statistics.quantiles(inside, n=10)[-1] * 1e3,
            # Every step durable: the cells' time plus the wait for the last commits (a mean).
            "durable_per_step_ms": (sum(trips[s.label]) + flush) / count * 1e3,
            "final_flush_ms": flush * 1e3,
        }
    return out


def big(sides: list[Side], runs: int, n: int) -> dict[str, dict[str, float]]:
    got: dict[str, list[dict[str, float]]] = {s.label: [] for s in sides}
    for i in range(runs + 1):  # the first round imports and allocates: not counted
        for s in rotate(sides, i):
            body = f"import numpy as np\na = np.random.default_rng({100 + i}).standard_normal({n})"
            if s.label == "plain":
                row = {"returns": s.run(body), "durable": 0.0}
                row["inside"] = s.inside(1)[0]
            else:
                returns = s.run(f"%%mn_step big --force\n{body}")
                row = {"returns": returns, "durable": returns + s.flush()}
                row["inside"] = s.inside(2)[0]  # the step cell's, not the flush's
            if i:
                got[s.label].append(row)
            log(f"big {i} {s.label}: {json.dumps(row)} load {load()}")
    return {
        label: {f"{k}_s": statistics.median(r[k] for r in rows) for k in rows[0]}
        for label, rows in got.items()
    }


RESUME = (
    "import time as _t\n_t0 = _t.perf_counter()\nget_ipython().run_line_magic('mn_resume', '')\n"
    "_t1 = _t.perf_counter()\n_sum = float(a.sum())\n_t2 = _t.perf_counter()\n"
) + emit("{'bound': _t1 - _t0, 'touched': _t2 - _t0, 'sum': _sum}")


def resume(
    labels: list[str], envs: dict[str, dict[str, str]], scratch: Path, runs: int, want: float
) -> dict[str, dict[str, float]]:
    got: dict[str, list[dict[str, float]]] = {label: [] for label in labels}
    for i in range(runs):
        for label in labels[i % len(labels) :] + labels[: i % len(labels)]:
            side = Side(label, scratch / label / "work", envs[label], scratch / "kernels.log")
            try:
                row = picked(side.k.run(RESUME).stdout)
            finally:
                side.k.shutdown()
            if row.pop("sum") != want:
                raise RuntimeError(f"{label}: %mn_resume gave back other values")
            got[label].append(row)
            log(f"resume {i} {label}: {json.dumps(row)} load {load()}")
    return {
        label: {f"{k}_s": statistics.median(r[k] for r in rows) for k in rows[0]}
        for label, rows in got.items()
    }


def connections(url: str) -> dict[str, int]:
    """Client connections the server holds now, per kernel (PGAPPNAME): before issue 15's
    change the session's store, the checkpoint writer's and the heartbeat's (once a step
    ran long enough); after it, one shared by all three."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT application_name, count(*) FROM pg_stat_activity"
            " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() GROUP BY 1"
        ).fetchall()
    return {str(name): int(n) for name, n in rows}


def table(title: str, figures: dict[str, dict[str, float]], base: str = "sqlite") -> None:
    print(f"\n{title}")
    keys = list(next(iter(figures.values())))
    print(f"  {'':<8}" + "".join(f" {k:>22}" for k in keys))
    for label, row in figures.items():
        cells = []
        for k in keys:
            ref = figures.get(base, {}).get(k) or 0.0
            ratio = f" ({row[k] / ref:4.1f}x)" if ref and label not in (base, "plain") else ""
            cells.append(f" {row[k]:>13.3f}{ratio:>9}")
        print(f"  {label:<8}" + "".join(cells))


def main() -> int:
    # Stopped by a signal, the servers, kernels and scratch files still go (finally).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trivial", type=int, default=120, help="trivial steps per store")
    parser.add_argument("--runs", type=int, default=3, help="200 MB rounds and resumes")
    parser.add_argument("--n", type=int, default=25_000_000, help="float64 elements (200 MB)")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    parser.add_argument("--baseline", type=Path, help="a tree to compare with (pg+s3 only)")
    parser.add_argument("--trivial-only", action="store_true", help="skip big and resume")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="mn-bench-shared-"))
    home = scratch / "home"
    common = {
        **hermetic_env(home),
        "MIRRORNEURON_PROJECT": "bench",
        "XDG_CACHE_HOME": str(scratch / "cache"),
    }
    for name in ("MIRRORNEURON_STORE", "MIRRORNEURON_BLOBS", "MIRRORNEURON_SIDECAR"):
        os.environ.pop(name, None)
    info = machine()
    log(f"scratch {scratch}; machine: {json.dumps(info)}; load {load()}")
    results: dict[str, Any] = {"machine": info, "args": {k: str(v) for k, v in vars(args).items()}}
    sides: list[Side] = []
    try:
        with postgres() as pg, moto():
            labels = (*STORES, *(("pg+s3@base",) if args.baseline else ()))
            envs = {
                label: common | store_env(label, pg, scratch, args.baseline) for label in labels
            }
            for label in (*labels, "plain"):
                env = envs.get(label, common)
                sides.append(Side(label, scratch / label / "work", env, scratch / "kernels.log"))
            results["load_before"] = load()
            results["trivial"] = trivial(sides, args.trivial)
            results["load_trivial"] = load()
            results["pg_connections_after_trivial"] = connections(pg)
            table(f"trivial step, ms (median of {args.trivial}; load {load()})", results["trivial"])
            print(f"PostgreSQL connections per kernel: {results['pg_connections_after_trivial']}")
            if args.trivial_only:
                if args.json:
                    args.json.write_text(json.dumps(results, indent=2))
                return 0
            results["big"] = big(sides, args.runs, args.n)
            results["load_big"] = load()
            results["pg_connections_after_big"] = connections(pg)
            print(f"PostgreSQL connections per kernel: {results['pg_connections_after_big']}")
            table(f"{args.n * 8 / 1e6:.0f} MB step, s (median of {args.runs})", results["big"])
            want = picked(sides[0].k.run(emit("float(a.sum())")).stdout)
            for s in sides:
                s.k.shutdown()
            sides = []
            results["resume"] = resume(list(STORES), envs, scratch, args.runs, want)
            results["load_resume"] = load()
            table(f"%mn_resume in a fresh kernel, s (median of {args.runs})", results["resume"])
    finally:
        for s in sides:
            s.k.shutdown()
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"\nload average (1/5/15 min) at the end: {load()}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
