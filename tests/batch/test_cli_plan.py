"""`mn-nb plan` as a user runs it: a real process, real exit codes, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from ..helpers import mn
from ..kernels import Kernel


def test_plan_table_json_and_summary_after_an_edit(workdir: Path) -> None:
    notebook = workdir / "nb.ipynb"
    cells = ["%%mn_step load\nx = 2", "%%mn_step fit\nm = x * 3", "%%mn_step report\nr = m + 1"]
    nbformat.write(new_notebook(cells=[new_code_cell(c) for c in cells]), notebook)
    before = mn("plan", str(notebook))
    assert before.returncode == 0, before.stderr
    assert "3 of 3 steps will run: load (new), fit (new), report (new)" in before.stdout
    assert not (workdir / "nb.mn").exists()  # planning creates no sidecar

    kernel = Kernel(workdir, env={"JPY_SESSION_NAME": str(notebook)})
    try:
        kernel.run("%load_ext mirrorneuron_nb")
        for source in cells:
            kernel.run(source)
    finally:
        kernel.shutdown()
    cells[1] = "%%mn_step fit\nm = x * 4"
    nbformat.write(new_notebook(cells=[new_code_cell(c) for c in cells]), notebook)

    table = mn("plan", str(notebook))
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["step", "action", "why"]
    assert lines[2].split() == ["load", "restore", "unchanged"]
    assert lines[3].split() == ["fit", "run", "code", "changed"]
    assert lines[-1] == "2 of 3 steps will run: fit (code changed), report (input changed)"

    as_json = mn("plan", str(notebook), "--json")
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert data["notebook"] == str(notebook.resolve())
    assert data["steps"][2] == {
        "name": "report",
        "position": 2,
        "action": "run",
        "reason": "input changed",
        "detail": "reads m from 'fit', which runs",
    }


def test_plan_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "broken.ipynb").write_text("{not json")
    (tmp_path / "dir.ipynb").mkdir()
    for args, says in (
        ([str(tmp_path / "nope.ipynb")], "no such notebook"),
        ([str(tmp_path / "broken.ipynb")], "is not a notebook: not JSON"),
        ([str(tmp_path / "dir.ipynb")], "is a directory, not a notebook"),
        ([], "the following arguments are required: notebook (see mn-nb plan --help)"),
        ([str(tmp_path / "nope.ipynb"), "--bogus"], "unrecognized arguments: --bogus"),
    ):
        result = mn("plan", *args)
        assert result.returncode == 2, (args, result.stderr)
        assert says in result.stderr, (args, result.stderr)
        assert result.stderr.startswith("mn-nb: error: "), result.stderr
        assert result.stderr.strip().count("\n") == 0, result.stderr
        assert result.stdout == ""


def test_plan_of_a_notebook_without_steps(tmp_path: Path) -> None:
    notebook = tmp_path / "plain.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("x = 1")]), notebook)
    result = mn("plan", str(notebook))
    assert result.returncode == 0
    assert result.stdout.strip() == "no steps yet: mark a cell with %%mn_step NAME"
    assert json.loads(mn("plan", str(notebook), "--json").stdout)["steps"] == []


def test_plan_of_a_damaged_sidecar_exits_3(tmp_path: Path) -> None:
    notebook = tmp_path / "nb.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("%%mn_step a\nx = 1")]), notebook)
    (tmp_path / "nb.mn").mkdir()
    (tmp_path / "nb.mn" / "state.sqlite").write_bytes(b"garbage" * 500)
    result = mn("plan", str(notebook))
    assert result.returncode == 3 and "mn-nb doctor" in result.stderr
    assert result.stderr.strip().count("\n") == 0
