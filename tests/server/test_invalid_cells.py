"""A step cell whose name the magic refuses (`%%mn_step bad!`) is no step: the API does not
list or count it (issue 14: "4 of 7 steps good" counted one), and names it apart, with the
magic's error, so the panel can show it as a cell warning."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .builders import body, notebook

STEPS = {"load": "x = 1", "bad!": "y = 2", "train": "z = x * 2"}


@pytest.fixture
def nb(root: Path) -> Path:
    return notebook(root / "invalid.ipynb", STEPS)


INVALID = {
    "cell": 2,  # cell 0 is `%load_ext`, cell 1 `load`
    "name": "bad!",
    "error": "invalid step name 'bad!': use letters, digits, '_' and '-' (at most 128)",
}


async def test_invalid_name_is_not_counted_before_any_step_ran(api: Any, nb: Path) -> None:
    data = body(await api("steps", path="invalid.ipynb"))
    assert data["sidecar"] is False
    assert [row["name"] for row in data["steps"]] == ["load", "train"]
    assert data["summary"]["text"] == "0 of 2 steps good"
    assert data["summary"]["total"] == 2
    assert [{k: c[k] for k in INVALID} for c in data["invalid_cells"]] == [INVALID]


async def test_invalid_name_is_not_counted_with_a_sidecar(api: Any, nb: Path, kernel: Any) -> None:
    kernel.succeed("load", STEPS["load"], {"x": 28})
    data = body(await api("steps", path="invalid.ipynb"))
    assert data["sidecar"] is True
    assert [row["name"] for row in data["steps"]] == ["load", "train"]
    assert data["summary"] == {
        "total": 2,
        "good": 1,
        "first_unfinished": "train",
        "text": "1 of 2 steps good",
    }
    assert data["deleted"] == []
    (cell,) = data["invalid_cells"]
    assert {k: cell[k] for k in INVALID} == INVALID
    assert cell["cell_id"]  # nbformat 4.5 ids: the panel finds the cell by it


async def test_no_invalid_cells_is_an_empty_list(api: Any, root: Path) -> None:
    notebook(root / "fine.ipynb", {"load": "x = 1"})
    data = body(await api("steps", path="fine.ipynb"))
    assert data["invalid_cells"] == []
