"""Scale benchmark: a notebook of 1,000 tiny steps, and one 2 GB array step.

Run from the repository root:

    .venv/bin/python benchmarks/bench_scale.py              # 1,000 steps, 2 GB, 3 repetitions
    .venv/bin/python benchmarks/bench_scale.py --quick      # 100 steps, 256 MB, 1 repetition
    .venv/bin/python benchmarks/bench_scale.py --steps-only --runs 5 --json /tmp/scale.json

Real IPython kernels (jupyter_client, bench_core's Kernel). Nothing is asserted: targets
are printed next to the figures as "met" / "MISSED".

a. 1,000 `%%mn_step s{i}` cells (each binds three small values) run in one kernel; then
   - `%mn_resume` of all of them in a fresh kernel, timed inside the kernel;
   - `mn-nb status NOTEBOOK` as a process (wall time, Python start-up included);
   - `status.step_views(store, notebook)` in this process (what the command computes).
   Target: resume and status < 1 s.
b. One step producing a 2 GB float64 array (skipped if MemAvailable < 8 GB): it must not
   fail; the kernel's RSS is sampled every ~10 ms from a driver thread (/proc/PID/status),
   VmHWM read before and after. Reported: peak RSS during the step over the RSS before it,
   against the data size (target <= 1.2x), and the checkpoint cost (step cell minus the
   same body run as a plain cell, in the same kernel).

(100,000 durable calls: see bench_durable.py.)
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import Kernel, emit, hermetic_env, machine, timed_in_kernel, tree_size

TARGET_S = 1.0
TARGET_MEM = 1.2


def step_body(i: int) -> str:
    return f"a{i} = {i}\nb{i} = 'v{i}'\nc{i} = [{i}, {i} + 1]\n"


def write_notebook(path: Path, n: int) -> list[str]:
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("%load_ext mirrorneuron_nb"))
    cells = [f"%%mn_step s{i}\n{step_body(i)}" for i in range(n)]
    nb.cells.extend(nbformat.v4.new_code_cell(c) for c in cells)
    nbformat.write(nb, path)
    return cells


class Env:
    def __init__(self, root: Path) -> None:
        self.root = root
        home = root / "home"
        self.env = {**hermetic_env(home), "PYTHONHASHSEED": "0"}
        self.live: list[Kernel] = []

    def kernel(self, cwd: Path, extra: dict[str, str]) -> Kernel:
        k = Kernel(cwd, {**self.env, **extra}, self.root / "kernels.log")
        self.live.append(k)
        k.run("%load_ext mirrorneuron_nb")
        return k

    def close(self, k: Kernel) -> None:
        k.shutdown()
        self.live.remove(k)

    def close_all(self) -> None:
        for k in list(self.live):
            self.close(k)


# -- a. 1,000 steps -------------------------------------------------------------------------


def run_many(env: Env, n: int, rep: int) -> dict[str, Any]:
    work = env.root / f"many{rep}"
    work.mkdir()
    nb_path = work / "many.ipynb"
    cells = write_notebook(nb_path, n)
    extra = {"MIRRORNEURON_NOTEBOOK": str(nb_path)}
    out: dict[str, Any] = {}

    k = env.kernel(work, extra)
    k.warm_up(256 << 20)
    began = time.perf_counter()
    rt = [k.run(c).seconds for c in cells]
    out["run_all_s"] = time.perf_counter() - began
    out["step_rt_median_ms"] = statistics.median(rt) * 1e3
    out["step_rt_last100_ms"] = statistics.median(rt[-100:]) * 1e3
    env.close(k)
    out["sidecar_bytes"] = tree_size(work / "many.mn")[0]

    # %mn_resume of all steps in a fresh kernel, timed inside it.
    k = env.kernel(work, extra)
    k.warm_up(256 << 20)
    res = k.run(
        timed_in_kernel(
            "import io, contextlib\n_buf = io.StringIO()",
            "with contextlib.redirect_stdout(_buf):\n"
            "    get_ipython().run_line_magic('mn_resume', '')",
            f"_bx = {{'ok': all(globals().get(f'c{{i}}') == [i, i + 1] for i in range({n}))}}",
        )
    )
    r = res.bench()
    out["resume_s"] = r["s"]
    out["resume_round_trip_s"] = res.seconds
    out["resume_values_ok"] = r["ok"]
    env.close(k)

    # mn-nb status NOTEBOOK: a process, wall time.
    cli = str(Path(sys.executable).with_name("mn-nb"))
    walls = []
    for _ in range(5):
        t0 = time.perf_counter()
        proc = subprocess.run(
            [cli, "status", str(nb_path)], capture_output=True, text=True, env=None
        )
        walls.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr)
    out["status_lines"] = len(proc.stdout.splitlines())
    out["status_cli_s"] = statistics.median(walls)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import mirrorneuron_nb.batch.cli"], check=True)
    out["python_import_cli_s"] = time.perf_counter() - t0

    # In process: what the command computes.
    from mirrorneuron_nb.status import status_table, step_views
    from mirrorneuron_nb.store import Store

    times, table_times = [], []
    for _ in range(10):
        store = Store(work / "many.mn", readonly=True)
        t0 = time.perf_counter()
        views = step_views(store, nb_path)
        t1 = time.perf_counter()
        status_table(views)
        table_times.append(time.perf_counter() - t1)
        times.append(t1 - t0)
        store.close()
    out["step_views_s"] = statistics.median(times)
    out["status_table_s"] = statistics.median(table_times)
    out["views"] = len(views)
    return out


# -- b. a 2 GB array ---------------------------------------------------------------------


def proc_status(pid: int) -> dict[str, int]:
    found: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
                found[key] = int(value.split()[0]) * 1024
    return found


class Sampler:
    """Samples the kernel's VmRSS / RssAnon / RssFile every ~10 ms in a thread."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak: dict[str, int] = {}
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            for key, value in proc_status(self.pid).items():
                if value > self.peak.get(key, 0):
                    self.peak[key] = value
            self.samples += 1
            time.sleep(0.01)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def available_bytes() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


def run_big(env: Env, nbytes: int, rep: int) -> dict[str, Any]:
    work = env.root / f"big{rep}"
    work.mkdir()
    nb_path = work / "big.ipynb"
    n = nbytes // 8
    body = f"import numpy as np\nbig = np.arange({n}, dtype=np.float64)\n"
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(f"%%mn_step big\n{body}"))
    nbformat.write(nb, nb_path)
    out: dict[str, Any] = {"data_bytes": n * 8}

    k = env.kernel(work, {"MIRRORNEURON_NOTEBOOK": str(nb_path)})
    # Warm up more than the step needs (data + checkpoint), then measure from a clean state.
    k.warm_up(2 * nbytes + (512 << 20))
    plain = k.run(timed_in_kernel("", body, "del big; import gc; gc.collect()")).bench()["s"]
    out["plain_body_s"] = plain
    k.warm_up(2 * nbytes + (512 << 20))
    before = proc_status(k.pid)
    out["rss_before"] = before["VmRSS"]
    out["hwm_before"] = before["VmHWM"]
    with Sampler(k.pid) as sampler:
        step = k.run(
            timed_in_kernel("", f"get_ipython().run_cell_magic('mn_step', 'big', {body!r})")
        )
    after = proc_status(k.pid)
    out["step_s"] = step.bench()["s"]
    out["checkpoint_s"] = out["step_s"] - plain
    out["samples"] = sampler.samples
    out["peak_rss_sampled"] = sampler.peak.get("VmRSS", 0)
    out["peak_anon_sampled"] = sampler.peak.get("RssAnon", 0)
    out["peak_file_sampled"] = sampler.peak.get("RssFile", 0)
    out["hwm_after"] = after["VmHWM"]
    out["rss_after"] = after["VmRSS"]
    # VmHWM was raised by the warm-up (2 x data); only the sampled peak is informative
    # unless the step went above the warm-up peak.
    out["hwm_raised"] = after["VmHWM"] > before["VmHWM"]
    out["growth_ratio"] = (out["peak_rss_sampled"] - out["rss_before"]) / out["data_bytes"]
    out["total_ratio"] = out["peak_rss_sampled"] / out["data_bytes"]
    status = k.run(emit("{'ok': bool(big[-1] == big.size - 1)}")).bench()
    out["value_ok"] = status["ok"]
    out["sidecar_bytes"] = tree_size(work / "big.mn")[0]
    env.close(k)
    shutil.rmtree(work / "big.mn", ignore_errors=True)
    return out


# -- report -----------------------------------------------------------------------------


def med(reps: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in reps)


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def report(many: list[dict[str, Any]], big: list[dict[str, Any]], skipped: str | None) -> None:
    if many:
        n = many[0]["views"]
        print(f"\na. {n} tiny steps, median of {len(many)} repetition(s)")
        rows = [
            ("running all steps (one kernel, client)", med(many, "run_all_s"), None),
            ("  per step cell, client round trip", med(many, "step_rt_median_ms") / 1e3, None),
            ("  per step cell, last 100", med(many, "step_rt_last100_ms") / 1e3, None),
            ("%mn_resume all (inside fresh kernel)", med(many, "resume_s"), TARGET_S),
            ("  client round trip", med(many, "resume_round_trip_s"), None),
            ("mn-nb status NOTEBOOK (process wall)", med(many, "status_cli_s"), TARGET_S),
            ("  import mirrorneuron_nb.batch.cli", med(many, "python_import_cli_s"), None),
            ("status.step_views in process", med(many, "step_views_s"), TARGET_S),
            ("status_table(views) in process", med(many, "status_table_s"), None),
        ]
        for label, value, target in rows:
            t = f"< {target:.0f} s {verdict(value < target)}" if target else ""
            print(f"  {label:<44} {value * 1e3:10.1f} ms  {t}")
        print(
            f"  sidecar size: {med(many, 'sidecar_bytes') / 1e6:.2f} MB; "
            f"values restored correctly: {all(r['resume_values_ok'] for r in many)}; "
            f"status rows: {many[0]['status_lines']}"
        )
    if skipped:
        print(f"\nb. skipped: {skipped}")
    elif big:
        gb = big[0]["data_bytes"] / 2**30
        print(f"\nb. one step binding a {gb:.2f} GiB float64 array, {len(big)} repetition(s)")
        for r in big:
            print(
                f"  rep: step {r['step_s']:.2f} s, plain body {r['plain_body_s']:.2f} s, "
                f"checkpoint {r['checkpoint_s']:.2f} s; "
                f"RSS before {r['rss_before'] / 2**20:.0f} MiB, "
                f"peak {r['peak_rss_sampled'] / 2**20:.0f} MiB (anon "
                f"{r['peak_anon_sampled'] / 2**20:.0f}, "
                f"file {r['peak_file_sampled'] / 2**20:.0f}), "
                f"after {r['rss_after'] / 2**20:.0f} MiB, {r['samples']} samples, "
                f"HWM raised: {r['hwm_raised']}, value ok: {r['value_ok']}"
            )
        g = med(big, "growth_ratio")
        print(
            f"  peak RSS growth during the step / data: {g:.3f}x "
            f"(<= {TARGET_MEM}x {verdict(g <= TARGET_MEM)})"
        )
        print(f"  peak RSS total / data: {med(big, 'total_ratio'):.3f}x")
        print(
            f"  checkpoint cost (step - plain): {med(big, 'checkpoint_s'):.2f} s "
            f"({big[0]['data_bytes'] / med(big, 'checkpoint_s') / 1e6:.0f} MB/s); "
            f"sidecar {med(big, 'sidecar_bytes') / 1e9:.2f} GB"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="100 steps, 256 MB, 1 repetition")
    ap.add_argument("--runs", type=int, default=None)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--big-bytes", type=int, default=None)
    ap.add_argument("--steps-only", action="store_true")
    ap.add_argument("--big-only", action="store_true")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    runs = args.runs or (1 if args.quick else 3)
    n_steps = args.steps or (100 if args.quick else 1000)
    nbytes = args.big_bytes or ((256 << 20) if args.quick else (2 << 30))

    print(json.dumps(machine()))
    print("load average:", Path("/proc/loadavg").read_text().split()[:3])
    root = Path(tempfile.mkdtemp(prefix="mn-bench-scale-"))
    env = Env(root)
    many: list[dict[str, Any]] = []
    big: list[dict[str, Any]] = []
    skipped = None
    try:
        for rep in range(runs):
            if not args.big_only:
                many.append(run_many(env, n_steps, rep))
                print("many", json.dumps(many[-1]), flush=True)
            if not args.steps_only:
                need = max(8 << 30, 3 * nbytes)
                if available_bytes() < need and not args.quick:
                    skipped = (
                        f"MemAvailable {available_bytes() / 2**30:.1f} GiB < {need / 2**30:.0f} GiB"
                    )
                else:
                    big.append(run_big(env, nbytes, rep))
                    print("big", json.dumps(big[-1]), flush=True)
    finally:
        env.close_all()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    report(many, big, skipped)
    if args.json:
        args.json.write_text(json.dumps({"many": many, "big": big, "skipped": skipped}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
