"""After a restart, a succeeded step whose inputs came from cells nobody checkpointed is
not run (it would fail and lose its good status): one line names the cells to run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from mirrorneuron_nb.models import StepStatus
from mirrorneuron_nb.sidecar import sidecar_of
from mirrorneuron_nb.status import status_table, step_views
from mirrorneuron_nb.store import Store

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
    assert RESTORED in run(nb_kernel, FIT).notes
    assert runs_of(workdir, "fit.txt") == 1


def test_a_name_defined_in_no_cell_is_a_plain_name_error(nb_kernel: Kernel, workdir: Path) -> None:
    run(nb_kernel, "%load_ext mirrorneuron_nb")
    run(nb_kernel, "ghost = 1")  # a cell since deleted: the saved notebook does not have it
    run(nb_kernel, "%%mn_step haunt\ny = ghost + 1\n")
    fresh(nb_kernel)
    failed = nb_kernel.run("%%mn_step haunt\ny = ghost + 1\n", check=False)
    assert failed.error is not None and failed.error["ename"] == "NameError"


def test_missing_inputs_are_recorded_for_the_panel_until_the_step_runs_again(
    nb_kernel: Kernel, workdir: Path
) -> None:
    notebook = workdir / "analysis.ipynb"
    ids = [c["id"] for c in nbformat.read(notebook, as_version=4).cells]
    for code in (PARAMS, DATA, "%load_ext mirrorneuron_nb", LOAD, FIT):
        run(nb_kernel, code)
    fresh(nb_kernel)
    stopped = nb_kernel.run(FIT, check=False)
    assert stopped.error is not None and stopped.error["ename"] == "InputsMissing"

    store = Store(sidecar_of(notebook), readonly=True)
    try:
        event = store.events(step="fit")[-1]
        assert event.kind == "inputs_missing"
        assert event.detail["missing"] == ["X", "base", "scale"]
        (view,) = [v for v in step_views(store, notebook) if v.name == "fit"]
        assert view.status is StepStatus.succeeded  # not demoted
        # Where each is defined: a plain cell (index in the saved notebook, 0-based, and its
        # id), or another step (and its cell).
        assert [(o.name, o.step, o.cell_index, o.cell_id) for o in view.missing_inputs] == [
            ("X", None, 2, ids[2]),
            ("base", "load", 4, ids[4]),
            ("scale", None, 0, ids[0]),
        ]
        assert [o.label for o in view.missing_inputs] == [
            "cell 3, not a step",
            "step load",
            "parameters cell",
        ]
        line = next(r for r in status_table([view]).splitlines() if r.startswith("fit "))
        assert "needs X, base, scale: run cells 1, 3, 5 first" in line
    finally:
        store.close()

    # Served from its checkpoint once the cells ran: the note is gone.
    run(nb_kernel, PARAMS)
    run(nb_kernel, DATA)
    run(nb_kernel, "%mn_resume")
    assert RESTORED in run(nb_kernel, FIT).notes
    store = Store(sidecar_of(notebook), readonly=True)
    try:
        (view,) = [v for v in step_views(store, notebook) if v.name == "fit"]
        assert view.status is StepStatus.cached
        assert view.missing_inputs == ()
    finally:
        store.close()
