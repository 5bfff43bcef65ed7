"""What a step's lease costs: claim + release on a trivial step, and a heartbeat.

    .venv/bin/python benchmarks/bench_lease.py                 # store level, side by side
    .venv/bin/python benchmarks/bench_lease.py --old /tmp/old   # also kernels: a checkout
                                                               # without leases vs this one

a. store: the same trivial step's writes (begin the attempt, commit an empty checkpoint)
   without a claimant and with one (claim inside the attempt's transaction, release inside
   the commit's), interleaved on two sidecars; median per step and the difference.
b. heartbeat: one renewal (one UPDATE in its own transaction); a 60 s step pays 12.
c. kernels (--old): `%%mn_step tN\\nx = N` run 600 times, alternately in a kernel importing
   the old checkout and in one importing this one; median of the paired differences.

Nothing asserts: the target (at most 0.3 ms added per step) is printed as met / MISSED.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mirrorneuron_nb.models import Claimant, NewCheckpoint, Run, StepStart  # noqa: E402
from mirrorneuron_nb.store import Store  # noqa: E402

TARGET_MS = 0.3


def _store(path: Path) -> Store:
    store = Store(path)
    store.start_run(
        Run(id="r", kind="kernel", status="running", started_at=time.time(), pid=os.getpid())
    )
    return store


def store_level(n: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        plain, leased = _store(Path(tmp) / "plain.mn"), _store(Path(tmp) / "leased.mn")
        who = Claimant("r", "kernel", socket.gethostname(), os.getpid(), serve_newer_than=0)
        times: dict[str, list[float]] = {"plain": [], "leased": []}
        for i in range(n):
            start = StepStart(f"t{i}", None, "x = 1", "h", f"k{i}", {}, i)
            new = NewCheckpoint(f"k{i}", "h", 0.0, {}, [], [], [])
            for name, store in (("plain", plain), ("leased", leased)):
                began = time.perf_counter()
                if name == "plain":
                    attempt = store.begin_attempt("r", start)
                else:
                    claimed = store.claim_attempt("r", start, who)
                    assert not hasattr(claimed, "owner")
                    attempt = claimed  # type: ignore[assignment]
                store.commit_checkpoint(attempt, new)
                times[name].append(time.perf_counter() - began)
        beats = []
        for _ in range(200):
            began = time.perf_counter()
            leased.heartbeat("r")
            beats.append(time.perf_counter() - began)
        plain.close()
        leased.close()
    p, q = statistics.median(times["plain"]), statistics.median(times["leased"])
    print(f"a. store, {n} trivial steps: without lease {p * 1e3:.3f} ms, with {q * 1e3:.3f} ms")
    # The commit fsyncs a manifest blob, whose noise dwarfs the lease: the median of the
    # paired differences (same step, one right after the other) is the robust figure.
    added = (
        statistics.median(b - a for a, b in zip(times["plain"], times["leased"], strict=True)) * 1e3
    )
    verdict = "met" if added <= TARGET_MS else "MISSED"
    print(
        f"   added {added:.3f} ms per step (ratio {q / p:.2f}); target <= {TARGET_MS} ms: {verdict}"
    )
    beat = statistics.median(beats) * 1e3
    print(f"b. heartbeat: {beat:.3f} ms per renewal; a 60 s step pays 12: {12 * beat:.2f} ms")
    return p, q


def kernel_level(old: Path, n: int) -> None:
    """Two kernels alive at once, old and new, each step run in one then the other: the
    median of the paired differences cancels the machine's drift (fsync dominates)."""
    from jupyter_client.manager import KernelManager

    with tempfile.TemporaryDirectory() as tmp:
        clients = []
        managers = []
        try:
            for label, path in (("old", old), ("new", REPO)):
                env = {**os.environ, "PYTHONPATH": str(path)}
                env["MIRRORNEURON_SIDECAR"] = f"{tmp}/{label}.mn"
                env["MIRRORNEURON_KEY_FILE"] = f"{tmp}/key"
                km = KernelManager(kernel_name="python3")
                km.start_kernel(cwd=tmp, env=env)
                kc = km.client()
                kc.start_channels()
                kc.wait_for_ready(timeout=60)
                kc.execute_interactive("%load_ext mirrorneuron_nb", timeout=60)
                kc.execute_interactive("%%mn_step warm\nx = 0", timeout=60)
                managers.append(km)
                clients.append(kc)
            took: list[list[float]] = [[], []]
            for i in range(n):
                for side, kc in enumerate(clients):
                    began = time.perf_counter()
                    kc.execute_interactive(f"%%mn_step t{i}\nx = {i}", timeout=60)
                    took[side].append(time.perf_counter() - began)
        finally:
            for kc in clients:
                kc.stop_channels()
            for km in managers:
                km.shutdown_kernel(now=True)
    o, w = statistics.median(took[0]), statistics.median(took[1])
    paired = statistics.median(b - a for a, b in zip(took[0], took[1], strict=True))
    print(
        f"c. kernels, {n} trivial steps, interleaved: old {o * 1e3:.2f} ms, leases {w * 1e3:.2f} ms"
    )
    print(f"   difference {paired * 1e3:+.3f} ms per step (median of paired differences)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--old", type=Path, help="a checkout without leases (kernel phase)")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cpus, python {sys.version.split()[0]}")
    store_level(args.steps)
    if args.old is not None:
        kernel_level(args.old, 600)


if __name__ == "__main__":
    main()
