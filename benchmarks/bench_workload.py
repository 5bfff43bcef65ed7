"""Issue 13's acceptance workload: every cell as a `%%mn_step` vs the same cells plain.

    .venv/bin/python benchmarks/bench_workload.py            # full sizes, median of 3 runs
    .venv/bin/python benchmarks/bench_workload.py --runs 5
    .venv/bin/python benchmarks/bench_workload.py --quick    # small sizes, 1 run
    .venv/bin/python benchmarks/bench_workload.py --baseline /path/to/main/checkout
    .venv/bin/python benchmarks/bench_workload.py --warm-each   # memory warmed before each cell
    .venv/bin/python benchmarks/bench_workload.py --notebook    # kernels of a notebook file

Fresh real kernels per run (one plain, one with the extension and a fresh sidecar, and
with `--baseline DIR` one more running the steps with the package in DIR: old vs new in
one process); each cell runs in every kernel in turn (who goes first rotates). Times are
taken INSIDE the kernel, around `shell.run_cell` (hooks and the checkpoint included, the
ZMQ round trip excluded). After the notebook: a trivial cell (`x = 1`) vs a trivial step,
and a read-only step (reads the big values, makes one float) vs the same plain cell,
interleaved. Prints medians and ratios; asserts nothing.
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

import nbformat
from bench_core import Kernel, hermetic_env, log, machine

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

    def __init__(
        self, root: Path, env: dict[str, str], steps: bool, notebook: list[str] | None = None
    ) -> None:
        if steps and notebook is not None:
            # As a kernel of a notebook open in Jupyter: the extension finds the notebook
            # (its step cells' positions, duplicate names) and the sidecar beside it.
            root.mkdir(parents=True, exist_ok=True)
            path = root / "nb.ipynb"
            nb = nbformat.v4.new_notebook()
            nb.cells = [nbformat.v4.new_code_cell(c) for c in notebook]
            nbformat.write(nb, path)
            env = {**env, "JPY_SESSION_NAME": str(path)}
        elif steps:
            env = {**env, "MIRRORNEURON_SIDECAR": str(root / "nb.mn")}
        # Each kernel its own IPython history database: with one shared, a kernel's history
        # thread waits for another's lock (SQLite's busy sleeps) while holding the lock that
        # the next cell's run_cell needs, adding milliseconds to whichever kernel comes next.
        env = {**env, "IPYTHONDIR": str(root / "ipython")}
        (root / "ipython").mkdir(parents=True, exist_ok=True)
        work = root / "work"
        work.mkdir(parents=True, exist_ok=True)
        self.k = Kernel(work, env, root / "kernels.log")
        self.k.run(TIMER)
        if steps:
            self.k.run("%load_ext mirrorneuron_nb")

    def timed(self, code: str) -> float:
        self.k.run(code)
        # A cell that only reads (readonly.py): it must not make the step kernel forget
        # the fingerprints it knows, which would measure this harness, not the notebook.
        out = self.k.run("import sys\nprint(repr(sys._bench_times[-1]))")
        return float(out.stdout.strip().splitlines()[-1])


WARM = "import numpy as _np; _w = _np.ones(1 << 27); _w.sum(); del _w, _np"
"""1 GiB touched and freed: the pages a cell then allocates are backed by the host."""


def one_run(
    i: int,
    root: Path,
    env: dict[str, str],
    sz: dict[str, Any],
    baseline: Path | None,
    warm_each: bool = False,
    notebook: bool = False,
) -> dict[str, Any]:
    """One run: the notebook plain, as steps, and as steps under `baseline`'s code."""
    base = root / f"run{i}"
    base.mkdir()
    cells_ = _notebook_cells(sz) if notebook else None
    sides = {
        "plain": Side(base / "plain", env, False),
        "step": Side(base / "step", env, True, cells_),
    }
    if baseline is not None:
        old = {**env, "PYTHONPATH": str(baseline)}
        sides["baseline"] = Side(base / "baseline", old, True, cells_)
    out: dict[str, Any] = {label: {} for label in sides}
    try:
        for side in sides.values():
            side.k.run("import numpy as _np; _w = _np.ones(1 << 28); _w.sum(); del _w, _np")
        labels = list(sides)
        for c, (name, code) in enumerate(cells(sz)):
            turn = (i + c) % len(labels)  # who goes first rotates: drift favours no side
            for label in labels[turn:] + labels[:turn]:
                text = code if label == "plain" else f"%%mn_step {name}\n{code}"
                if warm_each:
                    sides[label].k.run(WARM)
                out[label][name] = sides[label].timed(text)
        for key, body in (("trivial", "x = 1\n"), ("readonly", READ_ONLY)):
            for j in range(sz["repeat"]):
                for label, side in sides.items():
                    text = body if label == "plain" else f"%%mn_step {key}{j}\n{body}"
                    out[label].setdefault(key, []).append(side.timed(text))
    finally:
        for side in sides.values():
            side.k.shutdown()
    return out


def _notebook_cells(sz: dict[str, Any]) -> list[str]:
    """The notebook the step kernels belong to with --notebook: every step this runs."""
    out = [f"%%mn_step {name}\n{code}" for name, code in cells(sz)]
    for key, body in (("trivial", "x = 1\n"), ("readonly", READ_ONLY)):
        out += [f"%%mn_step {key}{j}\n{body}" for j in range(sz["repeat"])]
    return out


def report(runs: list[dict[str, Any]], sz: dict[str, Any]) -> None:
    med = statistics.median
    steps = [label for label in runs[0] if label != "plain"]
    names = [name for name, _ in cells(sz)]
    print(f"\n{len(runs)} run(s); sizes {sz}; times inside the kernel (run_cell), medians\n")
    print(f"{'cell':<10} {'plain':>10}" + "".join(f" {s:>10} {'overhead':>10}" for s in steps))
    for name in names:
        p = med(r["plain"][name] for r in runs)
        row = f"{name:<10} {p * 1e3:>8.1f}ms"
        for label in steps:
            s = med(r[label][name] for r in runs)
            row += f" {s * 1e3:>8.1f}ms {(s - p) * 1e3:>+8.1f}ms"
        print(row)
    if len(runs) > 1:  # every run's figure: one slow cell in one kernel shows here
        print("\nper run (ms): " + ", ".join(["plain", *steps]))
        for name in names:
            cols = [[round(r[label][name] * 1e3) for r in runs] for label in ["plain", *steps]]
            print(f"{name:<10} " + "  ".join(str(c) for c in cols))
        print()
    for label in steps:
        whole = [sum(r[label][n] for n in names) / sum(r["plain"][n] for n in names) for r in runs]
        print(
            f"whole notebook, {label} / plain: {med(whole):.3f} (median of per-run ratios "
            f"{[round(w, 3) for w in whole]}; target <= 1.10)"
        )
    for key, target in (("trivial", 1.0), ("readonly", 5.0)):
        p = med(t for r in runs for t in r["plain"][key])
        n = sum(len(r["plain"][key]) for r in runs)
        for label in steps:
            s = med(t for r in runs for t in r[label][key])
            verdict = "met" if (s - p) * 1e3 <= target else "MISSED"
            print(
                f"{key} cell, {label}: plain {p * 1e3:.2f} ms, step {s * 1e3:.2f} ms, over plain "
                f"{(s - p) * 1e3:+.2f} ms (n={n}, target <= {target} ms: {verdict})"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=None, help="repetitions (default 3)")
    parser.add_argument("--quick", action="store_true", help="small sizes, 1 run")
    parser.add_argument(
        "--notebook",
        action="store_true",
        help="step kernels belong to a notebook file (JPY_SESSION_NAME, as under Jupyter) "
        "holding every step, instead of a sidecar named by MIRRORNEURON_SIDECAR",
    )
    parser.add_argument(
        "--warm-each",
        action="store_true",
        help="touch and free 1 GiB in a kernel just before each of its notebook cells (a "
        "diagnosis: on a VM whose host takes freed memory back, first touches otherwise "
        "land on whichever kernel meets them)",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="also run the steps with the package from this checkout (e.g. the main branch)",
    )
    args = parser.parse_args()
    sz = {k: v[1 if args.quick else 0] for k, v in SIZES.items()}
    runs = args.runs or (1 if args.quick else 3)
    root = Path(tempfile.mkdtemp(prefix="mn-workload-"))
    home = root / "home"
    env = hermetic_env(home)
    info = machine()
    log(
        f"scratch {root}; {runs} run(s); machine: " + ", ".join(f"{k}={v}" for k, v in info.items())
    )
    results = []
    try:
        for i in range(runs):
            log(f"run {i + 1}/{runs}")
            results.append(one_run(i, root, env, sz, args.baseline, args.warm_each, args.notebook))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    report(results, sz)
    return 0


if __name__ == "__main__":
    sys.exit(main())
