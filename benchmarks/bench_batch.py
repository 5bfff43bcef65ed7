"""Resuming a failed batch run: how long until the resumed run reaches the failed step?

A notebook whose three steps before the failing one take >= 30 s (compute + a slow
"API"), run with `mirrorneuron_nb.batch.run.run_notebook` (papermill + a real kernel):
run 1 fails at step `fit` (a flag file), run 2 resumes. Reported side by side, as
ratios, against kernel start (an empty notebook through the same engine):

    reach = run-2 time until `fit` starts = kernel start + restoring the earlier steps
    target: reach - kernel start <= 10 % of the earlier steps' time in run 1

Usage: .venv/bin/python benchmarks/bench_batch.py [--runs N] [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from mirrorneuron_nb.batch.run import CellOutcome, run_notebook


def write_notebook(path: Path, seconds: float, elements: int) -> None:
    third = seconds / 3
    cells = [
        new_code_cell("%load_ext mirrorneuron_nb"),
        new_code_cell(
            "%%mn_step load\nimport time\nimport numpy as np\n"
            f"arr = np.random.default_rng(0).standard_normal({elements})\n"
            f"time.sleep({third})"
        ),
        new_code_cell(
            "%%mn_step features\nimport pandas as pd\n"
            "df = pd.DataFrame({'x': arr, 'k': np.arange(arr.size) % 100})\n"
            f"agg = df.groupby('k')['x'].mean()\ntime.sleep({third})"
        ),
        new_code_cell(
            "%%mn_step api\nresponses = [{'id': i, 'score': i * 0.5} for i in range(100_000)]\n"
            f"time.sleep({third})"
        ),
        new_code_cell(
            "%%mn_step fit\nimport os\nif os.path.exists('outage.flag'):\n"
            "    raise ConnectionError('API outage')\nmodel = agg.sum() + len(responses)"
        ),
    ]
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": kernelspec}), path)


def timed_run(notebook: Path) -> tuple[float, dict[str, float], bool]:
    """Wall time until `fit` starts (or the run ends), per-step seconds, success."""
    began = time.perf_counter()
    reached: list[float] = []
    steps: dict[str, float] = {}

    def progress(outcome: CellOutcome) -> None:
        steps[outcome.step] = outcome.seconds
        if outcome.step == "api":
            reached.append(time.perf_counter() - began)

    result = run_notebook(notebook, notebook.with_suffix(".out.ipynb"), {}, progress=progress)
    return (reached[0] if reached else time.perf_counter() - began), steps, result.ok


def kernel_start(workdir: Path) -> float:
    """Time until a one-line step completes in a fresh papermill kernel: the fixed cost
    of any run, measured at the same point as `reach` (a step's completion)."""
    empty = workdir / "empty.ipynb"
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cells = [new_code_cell("%load_ext mirrorneuron_nb"), new_code_cell("%%mn_step noop\nx = 1")]
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": kernelspec}), empty)
    began = time.perf_counter()
    done: list[float] = []
    run_notebook(
        empty,
        empty.with_suffix(".out.ipynb"),
        {},
        progress=lambda _: done.append(time.perf_counter() - began),
    )
    return done[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="3 s of steps, small data")
    args = parser.parse_args()
    seconds, elements = (3.0, 1_000_000) if args.quick else (30.0, 12_500_000)
    rows = []
    with tempfile.TemporaryDirectory(prefix="mn-bench-batch-") as tmp:
        root = Path(tmp)
        for var, sub in [
            ("IPYTHONDIR", "ipy"),
            ("JUPYTER_DATA_DIR", "data"),
            ("JUPYTER_CONFIG_DIR", "cfg"),
            ("JUPYTER_RUNTIME_DIR", "rt"),
        ]:
            (root / sub).mkdir()
            os.environ[var] = str(root / sub)
        os.environ["MIRRORNEURON_KEY_FILE"] = str(root / "key")
        for run in range(args.runs):
            work = root / f"run{run}"
            work.mkdir()
            notebook = work / "analysis.ipynb"
            write_notebook(notebook, seconds, elements)
            (work / "outage.flag").touch()
            _, first_steps, ok1 = timed_run(notebook)
            (work / "outage.flag").unlink()
            reach, second_steps, ok2 = timed_run(notebook)
            start = kernel_start(work)
            before = sum(first_steps[s] for s in ("load", "features", "api"))
            restore = sum(second_steps[s] for s in ("load", "features", "api"))
            rows.append((before, reach, start, restore, ok1, ok2))
            print(
                f"run {run + 1}: steps before failure {before:.1f} s; resumed run reached "
                f"'fit' after {reach:.2f} s; kernel+papermill start {start:.2f} s; "
                f"restoring the 3 steps {restore:.2f} s; run1 failed={not ok1} run2 ok={ok2}"
            )
    before = statistics.median(r[0] for r in rows)
    reach = statistics.median(r[1] for r in rows)
    start = statistics.median(r[2] for r in rows)
    restore = statistics.median(r[3] for r in rows)
    print(
        f"\nmedian of {len(rows)}: earlier steps {before:.1f} s | resumed run reaches the "
        f"failed step in {reach:.2f} s = kernel start {start:.2f} s + {reach - start:.2f} s "
        f"| (reach - kernel start) / earlier steps = {(reach - start) / before:.1%} "
        f"(target <= 10%) | per-step restore total {restore:.2f} s = "
        f"{restore / before:.1%} of the earlier steps"
    )


if __name__ == "__main__":
    main()
