"""Magics inside step bodies, with real kernels: what `%time`, `%%time`, `%timeit` run is
part of the step's inputs and outputs; `%run` (which cannot be analysed) always runs."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from ..helpers import fresh, mn, run, runs_of, sidecar, stored, tick, value
from ..kernels import Kernel
from ..messages import RESTORED

pytestmark = pytest.mark.kernel

TRAIN = (
    "%%mn_step train\n%%time\n" + tick("train.txt") + "slope = scale * 10\nprint('slope', slope)\n"
)


def test_a_timed_body_reruns_when_the_parameter_it_reads_changes(
    kernel: Kernel, workdir: Path
) -> None:
    run(kernel, "scale = 2")
    first = run(kernel, TRAIN)
    assert "slope 20" in first.stdout and runs_of(workdir, "train.txt") == 1
    again = run(kernel, TRAIN)
    assert RESTORED in again.notes and runs_of(workdir, "train.txt") == 1

    run(kernel, "scale = 5")
    changed = run(kernel, TRAIN)
    assert RESTORED not in changed.notes
    assert "slope 50" in changed.stdout and runs_of(workdir, "train.txt") == 2
    assert value(kernel, "slope") == "50"


DEFINE_MODEL = (
    "%%mn_step define\n"
    "class Model:\n"
    "    def __init__(self):\n"
    "        self.coef = None\n"
    "    def fit(self, X, y):\n"
    "        with open('fit.txt', 'a') as fh:\n"
    "            fh.write('x')\n"
    "        self.coef = sum(y) / sum(X)\n"
    "        return self\n"
    "model = Model()\n"
    "X = [1.0, 2.0]\n"
    "y = [3.0, 6.0]\n"
)


def test_a_model_fitted_under_time_is_fitted_after_resume(kernel: Kernel, workdir: Path) -> None:
    run(kernel, DEFINE_MODEL)
    run(kernel, "%%mn_step fit\n%time model.fit(X, y)\n")
    assert runs_of(workdir, "fit.txt") == 1
    fresh(kernel)
    run(kernel, "%mn_resume")
    assert value(kernel, "model.coef") == "3.0"
    assert runs_of(workdir, "fit.txt") == 1


def test_counts_mutated_under_timeit_are_resumed_mutated(kernel: Kernel, workdir: Path) -> None:
    run(kernel, "%%mn_step make\nimport numpy as np\ncounts = np.zeros(4, dtype=int)\n")
    run(
        kernel,
        "%%mn_step count\n"
        + tick("count.txt")
        + "%timeit -n1 -r1 np.add.at(counts, [0, 0, 2], 1)\n",
    )
    assert value(kernel, "counts.tolist()") == "[2, 0, 1, 0]"
    fresh(kernel)
    out = run(kernel, "%mn_resume")
    assert value(kernel, "counts.tolist()") == "[2, 0, 1, 0]", out.stdout
    assert runs_of(workdir, "count.txt") == 1


def options_of(workdir: Path, step: str) -> dict[str, object]:
    with sqlite3.connect(sidecar(workdir) / "state.sqlite") as db:
        row = db.execute("SELECT options FROM steps WHERE name=?", (step,)).fetchone()
    return dict(json.loads(row[0]))


def test_run_in_a_step_runs_every_time_and_says_why(kernel: Kernel, workdir: Path) -> None:
    (workdir / "other.py").write_text(
        "with open('script.txt', 'a') as fh:\n    fh.write('x')\nresult = 42\n"
    )
    body = "%%mn_step script\n%run other.py\n"
    first = run(kernel, body)
    reason = "mn_step script: always runs: %run cannot be analysed"
    assert first.stderr.count(reason) == 1, first.stderr
    assert runs_of(workdir, "script.txt") == 1
    second = run(kernel, body)
    assert RESTORED not in second.notes and runs_of(workdir, "script.txt") == 2
    assert reason not in second.stderr  # said once per kernel
    assert options_of(workdir, "script")["always_runs"] == ["%run cannot be analysed"]
    # What it bound is still checkpointed: a resume brings it back.
    fresh(kernel)
    run(kernel, "%mn_resume")
    assert value(kernel, "result") == "42"
    third = run(kernel, body)
    assert reason in third.stderr and runs_of(workdir, "script.txt") == 3


def _count(name: str) -> str:
    return f"open('counts.txt', 'a').write('{name}\\n')\n"


def test_batch_run_with_a_changed_parameter_reruns_a_timed_step(workdir: Path) -> None:
    cells = [
        new_code_cell("scale = 1", metadata={"tags": ["parameters"]}),
        new_code_cell("%load_ext mirrorneuron_nb"),
        new_code_cell(
            "%%mn_step train\n%%time\n"
            + _count("train")
            + "slope = scale * 10\nprint('slope', slope)"
        ),
        new_code_cell("%%mn_step report\n" + _count("report") + "print('report', slope)"),
    ]
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(
        new_notebook(cells=cells, metadata={"kernelspec": kernelspec}), workdir / "t.ipynb"
    )

    def report(scale: str) -> str:
        done = mn("run", "t.ipynb", "out.ipynb", "-p", "scale", scale, cwd=workdir)
        assert done.returncode == 0, done.stdout + done.stderr
        out = nbformat.read(workdir / "out.ipynb", as_version=4)
        return "".join(o.get("text", "") for o in out.cells[-1].outputs)

    assert "report 20" in report("2")
    assert "report 50" in report("5")
    assert "report 50" in report("5")
    counted = (workdir / "counts.txt").read_text().split()
    assert counted.count("train") == 2 and counted.count("report") == 2


COUNT_EXPANSIONS = """\
from IPython.core.interactiveshell import InteractiveShell as _Shell
_expansions = []
_expand = _Shell.var_expand
def _counted(self, *args, **kwargs):
    _expansions.append(args[0])
    return _expand(self, *args, **kwargs)
_Shell.var_expand = _counted
"""


def test_a_step_line_is_expanded_as_ipython_does_and_only_when_it_has_anything_to_expand(
    kernel: Kernel, workdir: Path
) -> None:
    """`$name` and `{expr}` in the magic line are the user's variables, as for any magic;
    a line without them is not given to IPython's expansion, which copies the whole
    namespace (every cell's `_iN` too) on each step."""
    run(kernel, COUNT_EXPANSIONS + "n = 'b'\nk = 3")
    run(kernel, "%%mn_step plain\nx = 1\n")
    assert value(kernel, "_expansions") == "[]"
    run(kernel, "%%mn_step t_$n\ny = 2\n")
    run(kernel, "%%mn_step u_{k * 2}\nz = 3\n")
    assert stored(workdir, "t_b") == ("succeeded", 1)
    assert stored(workdir, "u_6") == ("succeeded", 1)
