"""Which notebook a kernel runs when no Jupyter server says: the notebook in its folder
holding the cell it runs (nbconvert, nbclient), or the one VS Code names."""

from __future__ import annotations

import json
from pathlib import Path

from mirrorneuron_nb.kernel.discovery import CellMatcher, vscode_notebook

LOAD = "%load_ext mirrorneuron_nb"
FIT = "%%mn_step fit\nk = 3\n"


def write(path: Path, *cells: str) -> Path:
    """A notebook as nbformat writes it: sources as lists of lines, a markdown cell first."""
    code = [
        {"cell_type": "code", "source": c.splitlines(keepends=True), "outputs": []} for c in cells
    ]
    markdown = {"cell_type": "markdown", "source": FIT, "metadata": {}}
    path.write_text(json.dumps({"cells": [markdown, *code], "nbformat": 4, "metadata": {}}))
    return path


def test_the_one_notebook_holding_the_cell(tmp_path: Path) -> None:
    knn = write(tmp_path / "knn.ipynb", LOAD, FIT)
    write(tmp_path / "other.ipynb", LOAD, "%%mn_step other\nz = 1\n")
    (tmp_path / "broken.ipynb").write_text("{not json")
    matcher = CellMatcher(tmp_path)
    assert matcher.find("\n" + FIT + "\n", []) == knn.resolve()  # whitespace aside
    assert matcher.find(LOAD, []) is None  # in both: not enough to tell
    assert matcher.find(LOAD, [FIT]) == knn.resolve()  # the cells it ran tell
    assert matcher.find("print('elsewhere')", [FIT]) is None
    assert matcher.find("", [FIT]) is None


def test_copies_of_the_same_cells(tmp_path: Path) -> None:
    knn = write(tmp_path / "knn.ipynb", LOAD, FIT)
    write(tmp_path / "knn.nbconvert.ipynb", LOAD, FIT)  # nbconvert's output of it
    assert CellMatcher(tmp_path).find(FIT, [LOAD]) == knn.resolve()

    write(tmp_path / "knn-copy.ipynb", LOAD, FIT)
    assert CellMatcher(tmp_path).find(FIT, [LOAD]) is None  # two inputs: ambiguous
    (tmp_path / "knn-copy.mn").mkdir()  # ... unless one of them has a sidecar already
    assert CellMatcher(tmp_path).find(FIT, [LOAD]) == (tmp_path / "knn-copy.ipynb").resolve()


def test_a_markdown_cell_is_not_a_match(tmp_path: Path) -> None:
    write(tmp_path / "notes.ipynb", LOAD)  # holds FIT only as markdown
    assert CellMatcher(tmp_path).find(FIT, []) is None


def test_vscode_names_an_existing_absolute_notebook(tmp_path: Path) -> None:
    knn = write(tmp_path / "knn.ipynb", FIT)
    assert vscode_notebook({"__vsc_ipynb_file__": str(knn)}) == knn.resolve()
    assert vscode_notebook({"__vsc_ipynb_file__": "knn.ipynb"}) is None  # relative
    assert vscode_notebook({"__vsc_ipynb_file__": str(tmp_path / "gone.ipynb")}) is None
    assert vscode_notebook({"__vsc_ipynb_file__": 42}) is None
    assert vscode_notebook({}) is None
