"""The store's cost on SQLite vs PostgreSQL, side by side in one process (asserts nothing).

1. A trivial step: claim + commit of a one-variable checkpoint (the two transactions a
   step pays), SQLite and PostgreSQL interleaved, median and p90 per step.
2. N writer processes x M steps on one PostgreSQL notebook (each its own steps): total
   throughput, and the p50/p99 latency of a claim (claim_attempt: lease + attempt rows).

    .venv/bin/python benchmarks/bench_store.py [--steps 300] [--writers 16] [--per 200]
        [--url postgresql://...]   # default: a temporary server (Debian's binaries)
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mirrorneuron_nb.models import (
    Attempt,
    Claimant,
    NewCheckpoint,
    Run,
    StepStart,
    VarEntry,
)
from mirrorneuron_nb.store import Store, open_store

WRITER = """
import json, os, socket, sys, time
sys.path.insert(0, sys.argv[4])
from mirrorneuron_nb.models import Attempt, Claimant, NewCheckpoint, Run, StepStart, VarEntry
from mirrorneuron_nb.store import open_store
n, per, notebook = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
from pathlib import Path
nb = Path(notebook)
store = open_store(nb.with_suffix(".mn"), notebook=nb)
run_id = f"w{n}"
store.start_run(Run(id=run_id, kind="batch", status="running", started_at=time.time(),
                    pid=os.getpid(), host=socket.gethostname()))
me = Claimant(run_id, "batch", socket.gethostname(), os.getpid())
var = VarEntry(name="x", type_name="int", serializer="pickle", size=1, header=b"\\x00")
claims = []
sys.stdout.write("ready\\n"); sys.stdout.flush(); sys.stdin.readline()
start = time.perf_counter()
for i in range(per):
    t = time.perf_counter()
    got = store.claim_attempt(run_id, StepStart(f"s{n}_{i}", None, "x=1", "h", "k", {}, None), me)
    claims.append(time.perf_counter() - t)
    store.commit_checkpoint(got, NewCheckpoint("k", "h", 0.0, {}, [], [var], []))
print(json.dumps({"claims": claims, "seconds": time.perf_counter() - start}))
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


def writers(url: str, n: int, per: int, scratch: Path) -> dict[str, float]:
    notebook = scratch / "writers" / "nb.ipynb"
    notebook.parent.mkdir(parents=True)
    env = {**os.environ, "MIRRORNEURON_STORE": url, "MIRRORNEURON_PROJECT": "bench"}
    root = str(Path(__file__).resolve().parents[1])
    # Create the schema once, so the writers measure steps, not the first migration.
    open_store(notebook.with_suffix(".mn"), notebook=notebook, url=url).close()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(i), str(per), str(notebook), root],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for i in range(n)
    ]
    for p in procs:  # every writer imported and connected: start them together
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    start = time.perf_counter()
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    results = [json.loads(p.communicate()[0]) for p in procs]
    wall = time.perf_counter() - start
    claims = sorted(c for r in results for c in r["claims"])
    return {
        "writers": n,
        "steps": n * per,
        "wall_s": wall,
        "steps_per_s": n * per / wall,
        "claim_p50_ms": claims[len(claims) // 2] * 1000,
        "claim_p99_ms": claims[int(len(claims) * 0.99)] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--writers", type=int, default=16)
    parser.add_argument("--per", type=int, default=200)
    parser.add_argument("--url", help="a PostgreSQL to use (default: a temporary server)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mn-bench-store-") as tmp:
        scratch = Path(tmp)
        os.environ["XDG_CACHE_HOME"] = str(scratch / "cache")
        os.environ["MIRRORNEURON_PROJECT"] = "bench"
        os.environ.pop("MIRRORNEURON_STORE", None)
        server = None
        url = args.url
        if url is None:
            from tests.shared.postgres import start_server

            server = start_server()
            url = server.url
        try:
            print(json.dumps({"trivial_step": trivial(url, args.steps, scratch)}, indent=2))
            print(json.dumps({"writers": writers(url, args.writers, args.per, scratch)}, indent=2))
        finally:
            if server is not None:
                server.destroy()


if __name__ == "__main__":
    main()
