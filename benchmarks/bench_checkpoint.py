"""What a step's checkpoint costs its cell, without the body: `runner.commit` timed inside
real kernels, for code trees side by side (one kernel each, repetitions interleaved).

    .venv/bin/python benchmarks/bench_checkpoint.py --tree old=/path/to/old --tree new=. \
        [--reps 12] [--case array|frame|dicts|mutate]...

The whole-notebook ratio (bench_workload.py) is decided on a VM whose host takes freed
memory back by how cold each body's new memory is, not by the checkpoint: its frame cell
ran 333-1010 ms plain. This times only what the extension does after the body (freeze,
fingerprints, serialization, the rows), which separated trees where the notebook could
not (benchmarks/README: "Writeback during the write, a staging thread").

Cases (issue 13's workload sizes): `array` a new 200 MB array; `frame` a new 2M x 8
DataFrame; `dicts` 300k new dicts; `mutate` `arr *= 2` on a 200 MB array plus an append
to 300k dicts (made by a step first). After each step every checkpoint lands
(`mn.flush()`), so each starts with nothing pending. Prints medians (ms) and ratios to
the first tree; asserts nothing.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from bench_core import hermetic_env, log, machine
from bench_workload import Side

TIMED = """\
import numpy as np, pandas as pd, time as _t
from mirrorneuron_nb.kernel import runner as _runner
_commits = []
def _timed_commit(*a, _real=_runner.commit, **k):
    began = _t.perf_counter()
    try:
        return _real(*a, **k)
    finally:
        _commits.append(_t.perf_counter() - began)
_runner.commit = _timed_commit
"""
SETUP = {
    "mutate": (
        "arr = np.random.default_rng(1).random(25_000_000)\n"
        "dicts = [{'id': i, 'name': f'n{i}', 'v': i * 0.5} for i in range(300_000)]\n"
    ),
}
CASES = {
    "array": "arr = np.random.default_rng({i}).random(25_000_000)\n",
    "frame": "df = pd.DataFrame(np.random.default_rng({i}).random((2_000_000, 8)))\n",
    "dicts": "dicts = [{{'id': i, 'v': i * 0.5 + {i}}} for i in range(300_000)]\n",
    "mutate": "arr *= 2\ndicts.append({{'id': -1}})\n",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", action="append", required=True, help="LABEL=DIR")
    parser.add_argument("--reps", type=int, default=12)
    parser.add_argument("--case", action="append", choices=sorted(CASES))
    args = parser.parse_args()
    trees = {}
    for spec in args.tree:
        label, _, where = spec.partition("=")
        if not label or not where:
            parser.error(f"--tree {spec!r}: expected LABEL=DIR")
        trees[label] = Path(where).resolve()
    cases = args.case or ["array", "mutate"]
    log(f"{args.reps} reps; cases {cases}; trees {trees}; machine: {machine()}")
    results: dict[str, dict[str, list[float]]] = {c: {} for c in cases}
    for case in cases:
        root = Path(tempfile.mkdtemp(prefix="mn-checkpoint-"))
        sides: dict[str, Side] = {}
        try:
            for label, tree in trees.items():
                env = {**hermetic_env(root / label), "PYTHONPATH": str(tree)}
                side = sides[label] = Side(root / label, env, True)
                side.k.run(TIMED)
                if case in SETUP:
                    side.k.run(f"%%mn_step setup\n{SETUP[case]}")
                side.k.run("import mirrorneuron_nb as _mn\n_mn.flush()\n_commits.clear()")
            labels = list(trees)
            for i in range(args.reps):
                turn = i % len(labels)  # who goes first rotates
                for label in labels[turn:] + labels[:turn]:
                    k = sides[label].k
                    k.run(f"%%mn_step {case}{i}\n" + CASES[case].format(i=i))
                    k.run("_mn.flush()")
            for label, side in sides.items():
                out = side.k.run("print(' '.join(repr(s) for s in _commits))").stdout
                results[case][label] = [float(x) for x in out.split()]
        finally:
            for side in sides.values():
                side.k.shutdown()
            shutil.rmtree(root, ignore_errors=True)
        log(
            f"{case}: "
            + "; ".join(
                f"{t} " + " ".join(str(round(x * 1e3)) for x in v) for t, v in results[case].items()
            )
        )
    med = statistics.median
    first = next(iter(trees))
    print(f"\ncheckpoint (runner.commit) inside the kernel, medians of {args.reps} reps (ms)")
    print(f"{'case':<8}" + "".join(f" {t:>10}" for t in trees) + f"  ratio to {first}")
    for case in cases:
        row = results[case]
        base = med(row[first])
        ratios = " ".join(f"{med(row[t]) / base:.2f}" for t in trees)
        print(f"{case:<8}" + "".join(f" {med(row[t]) * 1e3:>10.1f}" for t in trees) + f"  {ratios}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
