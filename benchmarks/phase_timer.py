"""Where a small step's time goes, cell by cell, inside a real kernel.

    .venv/bin/python benchmarks/phase_timer.py                      # 200 trivial steps
    .venv/bin/python benchmarks/phase_timer.py --body 'x = 3\\ny = x * 2' --cells 150
    .venv/bin/python benchmarks/phase_timer.py --notebook           # a notebook's kernel
    .venv/bin/python benchmarks/phase_timer.py --phases mirrorneuron_nb.kernel.runner:make_plan

Each step runs as its own cell (`%%mn_step tN` + the body), as a notebook runs them: a
cell runs cold after the kernel idled, and the same code measured in a loop inside one
cell looks about twice as fast. The named functions (`module:function` or
`module:Class.method`) are wrapped with timers; so are the `%%mn_step` magic, `run_cell`
and every IPython event hook. Prints the median of each, in microseconds, and a plain
`x = 1` cell's `run_cell` for reference. Asserts nothing.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat
from bench_core import Kernel, hermetic_env

PHASES = (
    "mirrorneuron_nb.kernel.runner:make_plan",
    "mirrorneuron_nb.kernel.runner:_before_running",
    "mirrorneuron_nb.kernel.runner:_run_at_once",
    "mirrorneuron_nb.kernel.commit:commit_at_once",
    "mirrorneuron_nb.kernel.commit:commit",
)

TIMERS = """
def _mn_timers(specs):
    import collections, importlib, sys, time
    times = collections.defaultdict(list)
    sys._mn_times = times

    def timed(label, f):
        def wrapper(*args, **kwargs):
            began = time.perf_counter()
            try:
                return f(*args, **kwargs)
            finally:
                times[label].append(time.perf_counter() - began)
        return wrapper

    for spec in specs:
        module, _, attr = spec.partition(":")
        owner, name = importlib.import_module(module), attr
        if "." in attr:
            klass, name = attr.split(".")
            owner = getattr(owner, klass)
        setattr(owner, name, timed(attr, getattr(owner, name)))
    ip = get_ipython()
    for event, callbacks in ip.events.callbacks.items():
        for i, cb in enumerate(list(callbacks)):
            callbacks[i] = timed(event + ":" + getattr(cb, "__qualname__", repr(cb)), cb)
    magics = ip.magics_manager.magics["cell"]
    if "mn_step" in magics:
        magics["mn_step"] = timed("the %%mn_step magic", magics["mn_step"])
    inner = ip.run_cell

    def run_cell(raw_cell, *args, **kwargs):
        began = time.perf_counter()
        try:
            return inner(raw_cell, *args, **kwargs)
        finally:
            if raw_cell.startswith(("%%mn_step t", "x = 1")):
                times["run_cell"].append(time.perf_counter() - began)

    ip.run_cell = run_cell
"""

REPORT = """
import statistics, sys
for _label, _values in sys._mn_times.items():
    print(f"{_label:55s} {statistics.median(_values) * 1e6:8.0f} us  x{len(_values)}")
"""


def kernel(root: Path, name: str, cells: list[str], steps: bool, notebook: bool) -> Kernel:
    home = root / name
    env = hermetic_env(home)
    if steps and notebook:
        path = home / "nb.ipynb"
        book = nbformat.v4.new_notebook()
        book.cells = [nbformat.v4.new_code_cell(c) for c in cells]
        nbformat.write(book, path)
        env["JPY_SESSION_NAME"] = str(path)
    elif steps:
        env["MIRRORNEURON_SIDECAR"] = str(home / "nb.mn")
    (home / "work").mkdir()
    return Kernel(home / "work", env, home / "kernel.log")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=200, help="steps, one per cell")
    parser.add_argument("--body", default="x = 1", help="each step's body (\\n for lines)")
    parser.add_argument("--notebook", action="store_true", help="a notebook file's kernel")
    parser.add_argument("--phases", nargs="*", default=list(PHASES), help="module:function")
    args = parser.parse_args()
    body = args.body.replace("\\n", "\n") + "\n"
    cells = [f"%%mn_step t{i}\n{body}" for i in range(args.cells)]
    root = Path(tempfile.mkdtemp(prefix="mn-phases-"))
    plain = kernel(root, "plain", cells, False, False)
    steps = kernel(root, "steps", cells, True, args.notebook)
    try:
        steps.run("%load_ext mirrorneuron_nb")
        steps.run(TIMERS + f"_mn_timers({args.phases!r})\ndel _mn_timers")
        plain.run(TIMERS + "_mn_timers([])\ndel _mn_timers")
        for cell in cells:
            steps.run(cell)
            plain.run("x = 1\n")
        print(f"{args.cells} steps, one per cell: {body.strip()!r}")
        print(steps.run(REPORT).stdout)
        print("plain `x = 1` cells, for reference:")
        print(plain.run(REPORT).stdout)
    finally:
        steps.shutdown()
        plain.shutdown()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
