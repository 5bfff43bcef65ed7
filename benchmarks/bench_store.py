"""The store's cost on SQLite vs PostgreSQL, side by side in one process (asserts nothing).

1. A trivial step: claim + commit of a one-variable checkpoint (the two transactions a
   step pays), SQLite and PostgreSQL interleaved, median and p90 per step.
2. N writer processes x M steps on PostgreSQL, all started together: throughput, p50/p99
   of a claim (claim_attempt: lease + attempt rows) and of a commit (commit_checkpoint),
   errors counted (a writer goes on after one), then the rows checked (every step
   succeeded once, one checkpoint each, no lease left). `--layout one`: every writer on
   one notebook (a sweep: its combinations share the notebook's steps and its lock);
   `each`: one notebook per writer (a team); default both. The server's own counters say
   what a step costs it: transactions, statements (pg_stat_statements), rows, WAL bytes.

    .venv/bin/python benchmarks/bench_store.py [--steps 300] [--writers 16] [--per 200]
        [--layout one|each|both] [--url postgresql://...]  # default: a temporary server
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
from services import load, postgres

from mirrorneuron_nb.models import (
    Attempt,
    Claimant,
    NewCheckpoint,
    Run,
    StepStart,
    StepStatus,
    VarEntry,
)
from mirrorneuron_nb.store import Store, open_store

WRITER = """
import json, os, socket, sys, time
from pathlib import Path
from mirrorneuron_nb.models import Attempt, Claimant, NewCheckpoint, Run, StepStart, VarEntry
from mirrorneuron_nb.store import open_store
n, per, nb = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
store = open_store(nb.with_suffix(".mn"), notebook=nb)
run_id = f"w{n}"
store.start_run(Run(id=run_id, kind="batch", status="running", started_at=time.time(),
                    pid=os.getpid(), host=socket.gethostname()))
me = Claimant(run_id, "batch", socket.gethostname(), os.getpid())
var = VarEntry(name="x", type_name="int", serializer="pickle", size=1, header=b"\\x00")
claims, commits, errors = [], [], []
sys.stdout.write("ready\\n"); sys.stdout.flush(); sys.stdin.readline()
start = time.perf_counter()
for i in range(per):
    try:
        t = time.perf_counter()
        begin = StepStart(f"s{n}_{i}", None, "x=1", "h", "k", {}, None)
        got = store.claim_attempt(run_id, begin, me)
        claims.append(time.perf_counter() - t)
        if not isinstance(got, Attempt):
            errors.append(f"claim denied: {got!r}"); continue
        t = time.perf_counter()
        store.commit_checkpoint(got, NewCheckpoint("k", "h", 0.0, {}, [], [var], []))
        commits.append(time.perf_counter() - t)
    except Exception as exc:  # counted, and the writer goes on: the figure says how many
        errors.append(f"{type(exc).__name__}: {exc}")
seconds = time.perf_counter() - start
store.end_run(run_id, "succeeded")
print(json.dumps({"claims": claims, "commits": commits, "errors": errors, "seconds": seconds}))
"""


def one_step(store: Store, run_id: str, i: int) -> float:
    me = Claimant(run_id, "kernel", socket.gethostname(), os.getpid())
    var = VarEntry(name="x", type_name="int", serializer="pickle", size=1, header=b"\x00")
    t = time.perf_counter()
    got = store.claim_attempt(run_id, StepStart(f"s{i}", None, "x=1", "h", "k", {}, None), me)
    assert isinstance(got, Attempt)
    store.commit_checkpoint(got, NewCheckpoint("k", "h", 0.0, {}, [], [var], []))
    return time.perf_counter() - t


def trivial(url: str, steps: int, scratch: Path) -> dict[str, dict[str, float]]:
    stores: dict[str, Store] = {}
    for name, env in (("sqlite", None), ("postgresql", url)):
        notebook = scratch / name / "nb.ipynb"
        notebook.parent.mkdir(parents=True)
        stores[name] = open_store(notebook.with_suffix(".mn"), notebook=notebook, url=env)
        stores[name].start_run(
            Run(
                id="r",
                kind="kernel",
                status="running",
                started_at=time.time(),
                pid=os.getpid(),
                host=socket.gethostname(),
            )
        )
    times: dict[str, list[float]] = {n: [] for n in stores}
    for i in range(steps):  # interleaved: both see the same machine noise
        for name, store in stores.items():
            times[name].append(one_step(store, "r", i))
    # One round trip to the database (what each statement of a step pays on PostgreSQL).
    trips = []
    for _ in range(steps):
        t = time.perf_counter()
        stores["postgresql"].conn.execute("SELECT 1").fetchone()
        trips.append(time.perf_counter() - t)
    times["postgresql SELECT 1"] = trips
    for store in stores.values():
        store.close()
    return {
        n: {
            "median_ms": statistics.median(t) * 1000,
            "p90_ms": statistics.quantiles(t, n=10)[-1] * 1000,
        }
        for n, t in times.items()
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")


COUNTERS = """
SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()),
       (SELECT tup_inserted + tup_updated + tup_deleted
          FROM pg_stat_database WHERE datname = current_database()),
       (SELECT coalesce(sum(calls), 0) FROM pg_stat_statements),
       pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')
"""


def counters(url: str) -> tuple[float, ...]:
    """The server's totals (transactions, rows written, statements, WAL bytes), read after
    the statistics have reached it (backends report them within a second)."""
    time.sleep(1.5)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute(COUNTERS).fetchone()
        assert row is not None
        return tuple(float(x) for x in row)


def check(notebooks: list[Path], url: str, expected: int) -> list[str]:
    """What is wrong with the rows afterwards (nothing, when every step succeeded once with
    one checkpoint and no lease is left)."""
    problems: list[str] = []
    steps = checkpoints = attempts = 0
    for nb in notebooks:
        store = open_store(nb.with_suffix(".mn"), notebook=nb, url=url, readonly=True)
        try:
            found = store.steps()
            steps += len(found)
            bad = [s.name for s in found if s.status != StepStatus.succeeded or s.attempts != 1]
            if bad:
                problems.append(f"{len(bad)} steps not succeeded once, e.g. {bad[:3]}")
            checkpoints += len(store.all_checkpoints())
            attempts += sum(len(store.attempts(s.name)) for s in found[:50])
            held = sum(len(v) for v in store.leases().values())
            if held:
                problems.append(f"{held} leases left")
        finally:
            store.close()
    if steps != expected or checkpoints != expected:
        problems.append(f"{steps} steps, {checkpoints} checkpoints: expected {expected} each")
    return problems


def writers(url: str, n: int, per: int, scratch: Path, layout: str) -> dict[str, Any]:
    # A shared store names a notebook by (project, path under its root: here its folder).
    os.environ["MIRRORNEURON_PROJECT"] = f"bench-{layout}"
    top = scratch / f"writers-{layout}"
    top.mkdir()
    notebooks = [top / (f"nb{i}.ipynb" if layout == "each" else "nb.ipynb") for i in range(n)]
    env = {**os.environ, "MIRRORNEURON_STORE": url}
    for nb in dict.fromkeys(notebooks):
        # The schema made once, so the writers measure steps, not the first migration.
        open_store(nb.with_suffix(".mn"), notebook=nb, url=url).close()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(i), str(per), str(notebooks[i])],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for i in range(n)
    ]
    try:
        return _measure(url, procs, per, notebooks, layout)
    finally:
        for p in procs:  # only if the driver was stopped early
            if p.poll() is None:
                p.kill()
                p.wait()


def _measure(
    url: str, procs: list[subprocess.Popen[str]], per: int, notebooks: list[Path], layout: str
) -> dict[str, Any]:
    n = len(procs)
    for p in procs:  # every writer imported and connected: start them together
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
        ).fetchone()
        connections = int(row[0]) - 1 if row else -1  # not this one
    before = counters(url)
    start = time.perf_counter()
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    results = [json.loads(p.communicate()[0]) for p in procs]
    wall = time.perf_counter() - start
    during = load()
    after = counters(url)
    steps = n * per
    txns, rows, stmts, wal = (b - a for a, b in zip(before, after, strict=True))
    claims = [c for r in results for c in r["claims"]]
    commits = [c for r in results for c in r["commits"]]
    errors = [e for r in results for e in r["errors"]]
    return {
        "layout": layout,
        "writers": n,
        "steps": steps,
        "wall_s": wall,
        "steps_per_s": steps / wall,
        "claim_p50_ms": percentile(claims, 0.5) * 1000,
        "claim_p99_ms": percentile(claims, 0.99) * 1000,
        "commit_p50_ms": percentile(commits, 0.5) * 1000,
        "commit_p99_ms": percentile(commits, 0.99) * 1000,
        "errors": len(errors),
        "error_examples": sorted(set(errors))[:3],
        "integrity_problems": check(list(dict.fromkeys(notebooks)), url, steps),
        "client_connections": connections,
        # The counters include the statistics reads themselves (a handful in all).
        "transactions_per_step": txns / steps,
        "statements_per_step": stmts / steps,
        "rows_written_per_step": rows / steps,
        "wal_kb_per_step": wal / steps / 1024,
        "load_average_after": during,
    }


def main() -> None:
    # Stopped by a signal, the temporary server is still stopped and deleted (finally).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--writers", type=int, default=16)
    parser.add_argument("--per", type=int, default=200)
    parser.add_argument("--layout", choices=("one", "each", "both"), default="both")
    parser.add_argument("--url", help="a PostgreSQL to use (default: a temporary server)")
    parser.add_argument(
        "--synchronous-commit",
        choices=("on", "off"),
        default="on",
        help="the temporary server's setting: off = SQLite's WAL + synchronous=NORMAL (a "
        "crash of the machine may lose the last commits, never corrupt)",
    )
    args = parser.parse_args()
    layouts = ("one", "each") if args.layout == "both" else (args.layout,)
    with tempfile.TemporaryDirectory(prefix="mn-bench-store-") as tmp:
        scratch = Path(tmp)
        os.environ["XDG_CACHE_HOME"] = str(scratch / "cache")
        os.environ["MIRRORNEURON_PROJECT"] = "bench"
        os.environ.pop("MIRRORNEURON_STORE", None)
        print(json.dumps({"load_average_before": load()}))
        with (
            postgres(synchronous_commit=args.synchronous_commit)
            if args.url is None
            else contextlib.nullcontext(args.url) as url
        ):
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            print(json.dumps({"trivial_step": trivial(url, args.steps, scratch)}, indent=2))
            print(json.dumps({"load_average": load()}))
            for layout in layouts:
                got = writers(url, args.writers, args.per, scratch, layout)
                print(json.dumps({"writers": got}, indent=2))


if __name__ == "__main__":
    main()
