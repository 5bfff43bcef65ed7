"""Issue 13's acceptance workload: every cell as a `%%mn_step` vs the same cells plain.

    .venv/bin/python benchmarks/bench_workload.py            # full sizes, median of 3 runs
    .venv/bin/python benchmarks/bench_workload.py --runs 5
    .venv/bin/python benchmarks/bench_workload.py --quick    # small sizes, 1 run

Two fresh real kernels per run (one plain, one with the extension and a fresh sidecar);
each cell runs in the plain kernel, then as a step in the other (the side that goes
first alternates per run). Times are taken INSIDE the kernel, around `shell.run_cell`
(hooks and the checkpoint included, the ZMQ round trip excluded). After the notebook:
a trivial cell (`x = 1`) vs a trivial step, and a read-only step (reads the big values,
makes one float) vs the same plain cell, interleaved. Prints medians and ratios; asserts
nothing.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

from bench_core import Kernel, log, machine

SIZES: dict[str, tuple[Any, Any]] = {
    "n_arr": (25_000_000, 1_000_000),  # float64: 200 MB
    "n_rows": (2_000_000, 100_000),  # x 8 float64 columns: 128 MB
    "n_objs": (300_000, 20_000),
    "sleep": (3.0, 0.3),
    "repeat": (15, 5),  # trivial / read-only cells per run
}


def cells(sz: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (
            "load",
            f"import numpy as np\narr = np.random.default_rng(1).random({sz['n_arr']})\n",
        ),
        (
            "frame",
            textwrap.dedent(
                f"""\
                import pandas as pd
                _r = np.random.default_rng(2)
                df = pd.DataFrame(_r.random(({sz["n_rows"]}, 8)), columns=list("abcdefgh"))
                df["h"] = (df["a"] * 100).astype("int64")
                g = df.groupby("h").mean()
                del _r
                """
            ),
        ),
        (
            "objs",
            "dicts = [{'id': i, 'name': f'n{i}', 'v': i * 0.5} "
            f"for i in range({sz['n_objs']})]\n",
        ),
        ("api", f"import time\ntime.sleep({sz['sleep']})\nanswer = {{'text': 'ok', 'n': 42}}\n"),
        ("mutate", "arr *= 2\ndicts.append({'id': -1, 'name': 'x', 'v': 0.0})\n"),
        ("final", READ_ONLY),
    ]


READ_ONLY = (
    "total = float(arr.sum()) + float(df['a'].mean()) + float(g['b'].sum()) "
    "+ sum(d['v'] for d in dicts[:1000]) + len(dicts) + answer['n']\n"
)

TIMER = textwrap.dedent(
    """\
    def _bench_install():
        import sys, time
        ip = get_ipython()
        inner = ip.run_cell
        times = []
        def run_cell(raw_cell, store_history=False, silent=False, shell_futures=True,
                     cell_id=None, **kw):
            t0 = time.perf_counter()
            try:
                return inner(raw_cell, store_history=store_history, silent=silent,
                             shell_futures=shell_futures, cell_id=cell_id, **kw)
            finally:
                times.append(time.perf_counter() - t0)
        ip.run_cell = run_cell
        sys._bench_times = times
    _bench_install()
    del _bench_install
    """
)


class Side:
    """One kernel, timing each cell inside itself."""

    def __init__(self, root: Path, env: dict[str, str], sidecar: Path | None) -> None:
        if sidecar is not None:
            env = {**env, "MIRRORNEURON_SIDECAR": str(sidecar)}
        work = root / "work"
        work.mkdir(exist_ok=True)
        self.k = Kernel(work, env, root / "kernels.log")
        self.k.run(TIMER)
        if sidecar is not None:
            self.k.run("%load_ext mirrorneuron_nb")

    def timed(self, code: str) -> float:
        self.k.run(code)
        # A cell that only reads (readonly.py): it must not make the step kernel forget
        # the fingerprints it knows, which would measure this harness, not the notebook.
        out = self.k.run("import sys\nprint(repr(sys._bench_times[-1]))")
        return float(out.stdout.strip().splitlines()[-1])


def one_run(i: int, root: Path, env: dict[str, str], sz: dict[str, Any]) -> dict[str, Any]:
    base = root / f"run{i}"
    base.mkdir()
    plain, step = Side(base, env, None), Side(base, env, base / "nb.mn")
    out: dict[str, Any] = {"plain": {}, "step": {}, "trivial": ([], []), "readonly": ([], [])}
    try:
        for side in (plain, step):
            side.k.run("import numpy as _np; _w = _np.ones(1 << 28); _w.sum(); del _w, _np")
        order = [("plain", plain), ("step", step)]
        if i % 2:
            order.reverse()
        for name, code in cells(sz):
            for label, side in order:
                text = code if label == "plain" else f"%%mn_step {name}\n{code}"
                out[label][name] = side.timed(text)
        for j in range(sz["repeat"]):
            out["trivial"][0].append(plain.timed("x = 1\n"))
            out["trivial"][1].append(step.timed(f"%%mn_step t{j}\nx = 1\n"))
        for j in range(sz["repeat"]):
            out["readonly"][0].append(plain.timed(READ_ONLY))
            out["readonly"][1].append(step.timed(f"%%mn_step ro{j}\n{READ_ONLY}"))
    finally:
        plain.k.shutdown()
        step.k.shutdown()
    return out


def report(runs: list[dict[str, Any]], sz: dict[str, Any]) -> None:
    med = statistics.median
    print(f"\n{len(runs)} run(s); sizes {sz}; times inside the kernel (run_cell), medians\n")
    print(f"{'cell':<10} {'plain':>10} {'step':>10} {'overhead':>10} {'ratio':>7}")
    total_p = total_s = 0.0
    for name, _ in cells(sz):
        p = med(r["plain"][name] for r in runs)
        s = med(r["step"][name] for r in runs)
        total_p, total_s = total_p + p, total_s + s
        print(
            f"{name:<10} {p * 1e3:>8.1f}ms {s * 1e3:>8.1f}ms {(s - p) * 1e3:>+8.1f}ms {s / p:>7.2f}"
        )
    whole = [sum(r["step"].values()) / sum(r["plain"].values()) for r in runs]
    print(f"{'notebook':<10} {total_p:>9.2f}s {total_s:>9.2f}s {total_s - total_p:>+9.2f}s")
    print(f"whole notebook ratio (median of per-run ratios): {med(whole):.3f}  (target <= 1.10)")
    for key, target in (("trivial", 1.0), ("readonly", 5.0)):
        p = med(t for r in runs for t in r[key][0])
        s = med(t for r in runs for t in r[key][1])
        n = sum(len(r[key][0]) for r in runs)
        verdict = "met" if (s - p) * 1e3 <= target else "MISSED"
        print(
            f"{key} cell: plain {p * 1e3:.2f} ms, step {s * 1e3:.2f} ms, over plain "
            f"{(s - p) * 1e3:+.2f} ms (n={n}, target <= {target} ms: {verdict})"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=None, help="repetitions (default 3)")
    parser.add_argument("--quick", action="store_true", help="small sizes, 1 run")
    args = parser.parse_args()
    sz = {k: v[1 if args.quick else 0] for k, v in SIZES.items()}
    runs = args.runs or (1 if args.quick else 3)
    root = Path(tempfile.mkdtemp(prefix="mn-workload-"))
    home = root / "home"
    env = {
        "IPYTHONDIR": str(home / "ipython"),
        "JUPYTER_CONFIG_DIR": str(home / "jupyter_config"),
        "JUPYTER_DATA_DIR": str(home / "jupyter_data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "MIRRORNEURON_KEY_FILE": str(home / "signing.key"),
    }
    for key in ("IPYTHONDIR", "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR"):
        Path(env[key]).mkdir(parents=True, exist_ok=True)
    info = machine()
    log(
        f"scratch {root}; {runs} run(s); machine: " + ", ".join(f"{k}={v}" for k, v in info.items())
    )
    results = []
    try:
        for i in range(runs):
            log(f"run {i + 1}/{runs}")
            results.append(one_run(i, root, env, sz))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    report(results, sz)
    return 0


if __name__ == "__main__":
    sys.exit(main())
