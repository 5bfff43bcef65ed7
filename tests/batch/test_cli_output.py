"""What mn-nb prints: unknown steps next to the known ones, unknown parameters refused,
cut text ended with an ellipsis, --json output and errors, and the progress bar only on a
terminal. Real `mn-nb` processes."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from mirrorneuron_nb.models import Run, StepStart
from mirrorneuron_nb.store import Store

from ..helpers import mn
from .terminal import on_terminal

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
LONG = "ValueError: " + " ".join(["the upstream service refused the request"] * 6)


@pytest.fixture
def recorded(tmp_path: Path) -> Path:
    """A notebook with steps a, b, c in its sidecar (b failed with a long error), written
    through the store: no kernel needed."""
    notebook = tmp_path / "nb.ipynb"
    sources = ["%%mn_step a\nx = 1", "%%mn_step b\n1 / 0", "%%mn_step c\ny = 2"]
    nbformat.write(new_notebook(cells=[new_code_cell(s) for s in sources]), notebook)
    store = Store(tmp_path / "nb.mn")
    try:
        store.start_run(
            Run(id="r1", kind="test", status="running", started_at=time.time(), pid=os.getpid())
        )
        for position, name in enumerate("abc"):
            start = StepStart(
                name=name,
                cell_id=None,
                code="x",
                code_hash="h",
                cache_key=f"k{name}",
                options={},
                position=position,
            )
            attempt = store.begin_attempt("r1", start)
            store.fail_attempt(attempt, LONG if name == "b" else "E: e", "Traceback")
    finally:
        store.close()
    return notebook


def usage_error(*args: str) -> str:
    result = mn(*args, timeout=120)
    assert result.returncode == 2, (args, result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_unknown_steps_are_named_with_the_known_ones(recorded: Path) -> None:
    nb = str(recorded)
    known = "(steps: a, b, c)"
    assert usage_error("approve", nb, "unknown").endswith(f"unknown step 'unknown' {known}")
    assert usage_error("reset", nb, "a", "zz").endswith(f"unknown step 'zz' {known}")
    assert usage_error("log", nb, "--step", "q").endswith(f"unknown step 'q' {known}")
    assert mn("log", nb, "--step", "a").returncode == 0  # known steps still work


def test_a_file_that_is_not_json_is_not_a_notebook(tmp_path: Path) -> None:
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{not json", encoding="utf-8")
    for command in ("run", "status", "plan", "log", "reset"):
        extra = ["--all"] if command == "reset" else []
        line = usage_error(command, str(broken), *extra)
        assert "is not a notebook: not JSON" in line, (command, line)


def test_cut_text_ends_with_an_ellipsis(recorded: Path) -> None:
    log = mn("log", str(recorded))
    assert log.returncode == 0, log.stderr
    failed = [ln for ln in log.stdout.splitlines() if " failed " in ln and " b " in ln]
    assert failed and failed[0].rstrip().endswith("…"), log.stdout
    status = mn("status", str(recorded))
    row = next(ln for ln in status.stdout.splitlines() if ln.startswith("b "))
    assert row.endswith("…") and "ValueError: the upstream" in row, status.stdout
    # Cut at a word boundary: the last word before the ellipsis is a whole word of LONG.
    assert row[:-1].split()[-1] in LONG.split(), row


def test_json_output_and_json_errors(recorded: Path, tmp_path: Path) -> None:
    nb = str(recorded)
    error = mn("approve", nb, "nope", "--json")
    assert error.returncode == 2 and error.stderr.strip()
    assert json.loads(error.stdout) == {
        "error": {"code": "unknown_step", "message": "unknown step 'nope' (steps: a, b, c)"}
    }
    missing = mn("status", str(tmp_path / "none.ipynb"), "--json")
    assert missing.returncode == 2
    assert json.loads(missing.stdout)["error"]["code"] == "usage_failure"
    gc = mn("gc", nb, "--json")
    assert gc.returncode == 0, gc.stderr
    assert set(json.loads(gc.stdout)) == {"checkpoints_dropped", "files", "bytes_freed"}
    reset = mn("reset", nb, "a", "--json")
    assert reset.returncode == 0 and json.loads(reset.stdout) == {"reset": ["a"]}


def parameters_notebook(path: Path) -> Path:
    cells = [
        new_code_cell("alpha = 1\nbeta = 2", metadata={"tags": ["parameters"]}),
        new_code_cell("%load_ext mirrorneuron_nb"),
        new_code_cell("%%mn_step use\ntotal = alpha + beta"),
    ]
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": KERNELSPEC}), path)
    return path


def test_unknown_parameters_exit_2_unless_allowed_and_run_json(tmp_path: Path) -> None:
    nb = str(parameters_notebook(tmp_path / "p.ipynb"))
    line = usage_error("run", nb, "-p", "alpah", "3", "-p", "beta", "1")
    assert "unknown parameter alpah (the cell tagged `parameters` defines alpha, beta)" in line
    assert not (tmp_path / "p.mn").exists()  # refused before anything ran
    done = mn("run", nb, "-p", "gamma", "3", "--allow-unknown-params", "--json", timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout)  # stdout is one JSON document, nothing else
    assert summary["ok"] is True and summary["exit_code"] == 0
    assert [(c["step"], c["outcome"]) for c in summary["cells"]] == [("use", "ran")]
    assert [(s["name"], s["status"]) for s in summary["steps"]] == [("use", "succeeded")]
    # Piped: no progress bar (tqdm would draw with carriage returns).
    assert "\r" not in done.stderr and "step/s" not in done.stderr and "it/s" not in done.stderr


def test_a_terminal_gets_a_progress_bar(tmp_path: Path) -> None:
    nb = str(parameters_notebook(tmp_path / "p.ipynb"))
    proc, text = on_terminal("run", nb)
    assert proc.returncode == 0, proc.stdout + text
    # tqdm's bar, e.g. "100%|██████| 1/1 [00:04<00:00, 4.1s/step]" (the pty itself turns
    # every newline into \r\n, so look for the bar's own parts).
    assert "| 1/1 [" in text and "step" in text, text
    assert "use" in proc.stdout and "ran" in proc.stdout  # the step lines stay on stdout


def test_status_does_not_count_a_cell_with_an_invalid_name(recorded: Path) -> None:
    cells = ["%%mn_step a\nx = 1", "%%mn_step bad!\nz = 3", "%%mn_step c\ny = 2"]
    nbformat.write(new_notebook(cells=[new_code_cell(s) for s in cells]), recorded)
    shown = mn("status", str(recorded), "--json")
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert [s["name"] for s in data["steps"] if s["in_notebook"]] == ["a", "c"]
    (invalid,) = data["invalid_cells"]
    assert (invalid["cell"], invalid["name"]) == (1, "bad!")
    assert invalid["error"].startswith("invalid step name 'bad!'")
    table = mn("status", str(recorded))
    assert "bad!" not in table.stdout.split("mn-nb:")[0]  # not a row of the table
    assert "mn-nb: cell 1 is not a step: invalid step name 'bad!'" in table.stdout
