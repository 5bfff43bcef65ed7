"""Step identity across cells, and the notebook-beside sidecar, with a real kernel."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from ..kernels import Kernel


def test_same_name_in_two_cells_is_refused(kernel: Kernel) -> None:
    kernel.run("%%mn_step load\nx = 1\n", cell_id="cell-a")
    again = kernel.run("%%mn_step load\nx = 1\n", cell_id="cell-a")
    assert again.error is None
    clash = kernel.run("%%mn_step load\nx = 2\n", cell_id="cell-b", check=False)
    assert clash.error is not None and clash.error["ename"] == "UsageError"
    assert "already used by another cell" in clash.error["evalue"]
    assert kernel.run("print(x)").stdout.strip() == "1"  # the refused body never ran


def _write_notebook(path: Path, sources: list[str]) -> None:
    nbformat.write(new_notebook(cells=[new_code_cell(s) for s in sources]), path)


def test_sidecar_beside_notebook_and_duplicates_in_file(workdir: Path) -> None:
    notebook = workdir / "analysis.ipynb"
    _write_notebook(notebook, ["%%mn_step b\ny = 2", "%%mn_step a\nx = 1"])
    kernel = Kernel(workdir, env={"JPY_SESSION_NAME": str(notebook)})
    try:
        kernel.run("%load_ext mirrorneuron_nb")
        kernel.run("%%mn_step a\nx = 1")
        kernel.run("%%mn_step b\ny = 2")
        sidecar = workdir / "analysis.mn" / "state.sqlite"
        assert sidecar.exists()
        with sqlite3.connect(sidecar) as db:
            order = [r[0] for r in db.execute("SELECT name FROM steps ORDER BY position")]
        assert order == ["b", "a"]  # notebook order, not execution order
        _write_notebook(notebook, ["%%mn_step a\nx = 1", "%%mn_step a\nx = 3"])
        clash = kernel.run("%%mn_step a\nx = 3", check=False)
        assert clash.error is not None and clash.error["ename"] == "UsageError"
        assert "more than one cell in analysis.ipynb" in clash.error["evalue"]
    finally:
        kernel.shutdown()
