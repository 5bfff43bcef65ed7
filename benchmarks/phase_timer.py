"""Where a small step's time goes, cell by cell, inside a real kernel.

    .venv/bin/python benchmarks/phase_timer.py                      # 200 trivial steps
    .venv/bin/python benchmarks/phase_timer.py --body 'x = 3\\ny = x * 2' --cells 150
    .venv/bin/python benchmarks/phase_timer.py --notebook           # a notebook's kernel
    .venv/bin/python benchmarks/phase_timer.py --phases mirrorneuron_nb.kernel.runner:make_plan
    .venv/bin/python benchmarks/phase_timer.py --baseline /path/to/old/checkout

Each step runs as its own cell (`%%mn_step tN` + the body), as a notebook runs them: a
cell runs cold after the kernel idled, and the same code measured in a loop inside one
cell looks about twice as fast. The named functions (`module:function` or
`module:Class.method`) are wrapped with timers; so are the `%%mn_step` magic, `run_cell`
and every IPython event hook. Prints the median of each, in microseconds, as wall time
and as the kernel's main thread's CPU time (the difference is mostly waiting for the GIL:
a cell's first blocking call lets ipykernel's IOPub and shell-channel threads do their
share of the request, which a plain `x = 1` cell leaves until after it), a plain cell's
`run_cell` for reference, and every kernel's client round trip. Asserts nothing.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
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
            began, cpu = time.perf_counter(), time.thread_time()
            try:
                return f(*args, **kwargs)
            finally:
                times[label].append((time.perf_counter() - began, time.thread_time() - cpu))
        # What IPython reads off a magic (no_var_expand...) holds for the wrapper too.
        wrapper.__dict__.update(getattr(getattr(f, "__func__", f), "__dict__", {}))
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
        began, cpu = time.perf_counter(), time.thread_time()
        try:
            return inner(raw_cell, *args, **kwargs)
        finally:
            if raw_cell.startswith(("%%mn_step t", "x = 1")):
                times["run_cell"].append((time.perf_counter() - began, time.thread_time() - cpu))

    ip.run_cell = run_cell
"""

REPORT = """
import statistics, sys
print(f"{'':55s} {'wall':>8s}    {'cpu':>8s}")
for _label, _values in sys._mn_times.items():
    _wall = statistics.median(w for w, _ in _values) * 1e6
    _cpu = statistics.median(c for _, c in _values) * 1e6
    print(f"{_label:55s} {_wall:8.0f} us {_cpu:8.0f} us  x{len(_values)}")
"""


def kernel(
    root: Path, name: str, cells: list[str], steps: bool, notebook: bool, package: Path | None
) -> Kernel:
    home = root / name
    env = hermetic_env(home)
    if package is not None:
        env["PYTHONPATH"] = str(package)  # the baseline's mirrorneuron_nb comes first
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
    parser.add_argument(
        "--setup", default="", help="code every kernel runs first, e.g. a large state (\\n: lines)"
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="a checkout whose package runs the same steps in a third kernel, cell by cell "
        "in turn with the others (who goes first rotates)",
    )
    args = parser.parse_args()
    body = args.body.replace("\\n", "\n") + "\n"
    cells = [f"%%mn_step t{i}\n{body}" for i in range(args.cells)]
    root = Path(tempfile.mkdtemp(prefix="mn-phases-"))
    kernels = {"plain": kernel(root, "plain", cells, False, False, None)}
    kernels["steps"] = kernel(root, "steps", cells, True, args.notebook, None)
    if args.baseline is not None:
        kernels["baseline"] = kernel(root, "baseline", cells, True, args.notebook, args.baseline)
    try:
        for label, k in kernels.items():
            if label != "plain":
                k.run("%load_ext mirrorneuron_nb")
            k.run(args.setup.replace("\\n", "\n") + "\n")
            phases = [] if label == "plain" else args.phases
            k.run(TIMERS + f"_mn_timers({phases!r})\ndel _mn_timers")
        trips: dict[str, list[float]] = {label: [] for label in kernels}
        labels = list(kernels)
        for i, cell in enumerate(cells):
            turn = i % len(labels)
            for label in labels[turn:] + labels[:turn]:
                code = "x = 1\n" if label == "plain" else cell
                trips[label].append(kernels[label].run(code).seconds)
        print(f"{args.cells} steps, one per cell: {body.strip()!r}")
        median = {label: statistics.median(t) * 1e6 for label, t in trips.items()}
        print(
            "client round trip (execute_request to idle), medians: "
            + ", ".join(f"{label} {us:.0f} us" for label, us in median.items())
        )
        for label, k in kernels.items():
            print(f"\n{label}:" + (" (a `x = 1` cell)" if label == "plain" else ""))
            print(k.run(REPORT).stdout)
    finally:
        for k in kernels.values():
            k.shutdown()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
