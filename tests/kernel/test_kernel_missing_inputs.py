"""After a restart, a succeeded step whose inputs came from cells nobody checkpointed is
not run (it would fail and lose its good status): one line names the cells to run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from ..helpers import fresh, run, runs_of, tick
from ..kernels import Kernel
from ..messages import RESTORED
from .test_kernel_faults import status_of

pytestmark = pytest.mark.kernel

PARAMS = "scale = 2"
DATA = "X = [1, 2, 3]"
LOAD = "%%mn_step load\nbase = 100\n"
FIT = "%%mn_step fit\n" + tick("fit.txt") + "fitted = [x * scale + base for x in X]\n"


@pytest.fixture
def nb_kernel(workdir: Path) -> Iterator[Kernel]:
    notebook = workdir / "analysis.ipynb"
    cells = [
        new_code_cell(PARAMS, metadata={"tags": ["parameters"]}),
        new_markdown_cell("# Data"),
        new_code_cell(DATA),
        new_code_cell("%load_ext mirrorneuron_nb"),
        new_code_cell(LOAD),
        new_code_cell(FIT),
    ]
    nbformat.write(new_notebook(cells=cells), notebook)
    kernel = Kernel(workdir, env={"JPY_SESSION_NAME": str(notebook)})
    try:
        yield kernel
    finally:
        kernel.shutdown()


def test_missing_inputs_name_their_cells_and_the_step_stays_good(
    nb_kernel: Kernel, workdir: Path
) -> None:
    for code in (PARAMS, DATA, "%load_ext mirrorneuron_nb", LOAD, FIT):
        run(nb_kernel, code)
    assert runs_of(workdir, "fit.txt") == 1

    fresh(nb_kernel)
    stopped = nb_kernel.run(FIT, check=False)
    assert stopped.error is not None and stopped.error["ename"] == "InputsMissing", stopped.error
    message = stopped.error["evalue"]
    assert "\n" not in message
    assert message.startswith("mn_step fit: inputs not in the kernel: ")
    assert "X (cell 3, not a step)" in message
    assert "scale (parameters cell)" in message
    assert "base (step load)" in message
    assert "run those cells first, or %mn_resume" in message
    tb = "\n".join(stopped.error["traceback"])
    assert "Traceback" not in tb and "run_cell_magic" not in tb, tb
    assert runs_of(workdir, "fit.txt") == 1  # the body never ran
    assert " succeeded " in status_of(nb_kernel, "fit")

    # Running the named cells is enough: the step is then served from its checkpoint.
    run(nb_kernel, PARAMS)
    run(nb_kernel, DATA)
    run(nb_kernel, "%mn_resume")
    assert RESTORED in run(nb_kernel, FIT).stderr
    assert runs_of(workdir, "fit.txt") == 1


def test_a_name_defined_in_no_cell_is_a_plain_name_error(nb_kernel: Kernel, workdir: Path) -> None:
    run(nb_kernel, "%load_ext mirrorneuron_nb")
    run(nb_kernel, "ghost = 1")  # a cell since deleted: the saved notebook does not have it
    run(nb_kernel, "%%mn_step haunt\ny = ghost + 1\n")
    fresh(nb_kernel)
    failed = nb_kernel.run("%%mn_step haunt\ny = ghost + 1\n", check=False)
    assert failed.error is not None and failed.error["ename"] == "NameError"
