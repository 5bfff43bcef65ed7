"""Issue 13's `mutate` then `final`: a step changing a 200 MB array in place and appending
to 300k dicts, then a step reading them (it waits at the read barrier for the first one's
checkpoint). Two code trees side by side in one driver process, each its own real kernel.

    .venv/bin/python benchmarks/bench_mutate.py --old /path/to/old/tree --new . --reps 8

Each kernel makes the values as steps once, then repeats `mutate{i}` and `final{i}` (new
names, so each runs), the trees taking turns (who goes first alternates). Times are taken
inside the kernel around `shell.run_cell` (bench_workload.py's timer), so the read
barrier's wait is in `final`. Prints medians (ms) and new/old ratios; asserts nothing.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from bench_core import hermetic_env, log, machine
from bench_workload import READ_ONLY, SIZES, Side, cells

PHASES = ("mutate", "final")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, required=True, help="the code tree before")
    parser.add_argument("--new", type=Path, required=True, help="the code tree after")
    parser.add_argument("--reps", type=int, default=8)
    args = parser.parse_args()
    sz = {k: v[0] for k, v in SIZES.items()}
    setup = [(n, c) for n, c in cells(sz) if n in ("load", "frame", "objs")]
    setup.append(("answer", "answer = {'text': 'ok', 'n': 42}\n"))
    mutate = dict(cells(sz))["mutate"]
    root = Path(tempfile.mkdtemp(prefix="mn-mutate-"))
    log(f"scratch {root}; {args.reps} reps; machine: {machine()}")
    trees = {"old": args.old.resolve(), "new": args.new.resolve()}
    sides: dict[str, Side] = {}
    got: dict[str, dict[str, list[float]]] = {t: {p: [] for p in PHASES} for t in trees}
    try:
        for label, tree in trees.items():
            env = {**hermetic_env(root / label), "PYTHONPATH": str(tree)}
            sides[label] = Side(root / label, env, True)
            for name, code in setup:
                sides[label].k.run(f"%%mn_step {name}\n{code}")
        for i in range(args.reps):
            order = list(trees) if i % 2 == 0 else list(reversed(trees))
            for label in order:
                side = sides[label]
                got[label]["mutate"].append(side.timed(f"%%mn_step mutate{i}\n{mutate}"))
                got[label]["final"].append(side.timed(f"%%mn_step final{i}\n{READ_ONLY}"))
            log(
                f"rep {i + 1}: "
                + ", ".join(
                    f"{t} {got[t]['mutate'][-1] * 1e3:.0f}+{got[t]['final'][-1] * 1e3:.0f} ms"
                    for t in trees
                )
            )
    finally:
        for side in sides.values():
            side.k.shutdown()
        shutil.rmtree(root, ignore_errors=True)
    med = statistics.median
    print(f"\nmedians of {args.reps} reps (ms), inside the kernel")
    print(f"{'cell':<14} {'old':>8} {'new':>8} {'new/old':>8}")
    for phase in (*PHASES, "both"):

        def times(t: str, phase: str = phase) -> list[float]:
            if phase == "both":
                return [m + f for m, f in zip(got[t]["mutate"], got[t]["final"], strict=True)]
            return got[t][phase]

        old, new = med(times("old")), med(times("new"))
        print(f"{phase:<14} {old * 1e3:>8.1f} {new * 1e3:>8.1f} {new / old:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
