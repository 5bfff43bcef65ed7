"""Every mn-nb input error is one line on stderr and exit 2, and changes nothing; stored
text printed by mn-nb cannot drive the terminal. Real `mn-nb` processes."""

from __future__ import annotations

import os
import socket
import sqlite3
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from mirrorneuron_nb.models import Run, StepStart
from mirrorneuron_nb.store import Store

from ..helpers import mn

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
HOSTILE = "\x1b]0;pwned\x07\x1b[31mred\r\u202eevil\x9b2J"
CONTROL = "\x1b\x07\r\u202e\x9b"


def one_line_usage_error(*args: str) -> str:
    result = mn(*args, timeout=120)
    assert result.returncode == 2, (args, result.returncode, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, (args, result.stderr)
    assert lines[0].startswith("mn-nb: error: "), lines
    assert "Traceback" not in result.stderr
    return lines[0]


def notebook_with_sidecar(tmp_path: Path, step: str = "boom", error: str = "boom") -> Path:
    """A notebook whose sidecar holds one failed step with `error` (as a tampered or
    hostile sidecar would), written through the store."""
    notebook = tmp_path / "nb.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell(f"%%mn_step {step}\n1 / 0")]), notebook)
    store = Store(tmp_path / "nb.mn")
    try:
        store.start_run(
            Run(
                id="run1",
                kind="test",
                status="running",
                started_at=time.time(),
                pid=os.getpid(),
                host=socket.gethostname(),
            )
        )
        start = StepStart(
            name=step, cell_id=None, code="1 / 0", code_hash="h", cache_key="k", options={}
        )
        attempt = store.begin_attempt("run1", start)
        store.fail_attempt(attempt, error, f"Traceback: {error}")
    finally:
        store.close()
    return notebook


# -- 1. numeric options ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("--grace-seconds", "nan"), "--grace-seconds"),
        (("--grace-seconds", "inf"), "--grace-seconds"),
        (("--grace-seconds", "1e300"), "--grace-seconds"),
        (("--grace-seconds", "-1"), "--grace-seconds"),
        (("--keep-runs", "-1"), "--keep-runs"),
        (("--keep-runs", "99999999999999999999999"), "--keep-runs"),
    ],
)
def test_gc_numbers_out_of_range_exit_2_and_delete_nothing(
    tmp_path: Path, args: tuple[str, ...], option: str
) -> None:
    notebook = notebook_with_sidecar(tmp_path)
    blobs = tmp_path / "nb.mn" / "blobs" / "ab"
    blobs.mkdir(parents=True)
    in_flight = blobs / ".tmp-being-written"  # a checkpoint a kernel is writing now
    in_flight.write_bytes(b"x" * 10)
    old = time.time() - 7200
    os.utime(in_flight, (old, old))  # older than any grace period but nan's
    line = one_line_usage_error("gc", str(notebook), *args)
    assert f"{option} must be" in line and "at most" in line, line
    assert in_flight.exists()


def test_log_limit_beyond_sqlite_integers_exits_2(tmp_path: Path) -> None:
    notebook = notebook_with_sidecar(tmp_path)
    line = one_line_usage_error("log", str(notebook), "--limit", str(2**70))
    assert "--limit" in line


# -- 4. argparse errors, mn-nb run input ------------------------------------------------------


def test_argparse_errors_are_one_line(tmp_path: Path) -> None:
    assert "required: notebook" in one_line_usage_error("status")
    assert "frobnicate" in one_line_usage_error("frobnicate")
    notebook = notebook_with_sidecar(tmp_path)
    assert "-p/--parameter" in one_line_usage_error("run", str(notebook), "-p", "x")
    assert "--limit" in one_line_usage_error("log", str(notebook), "--limit", "many")


NOT_NOTEBOOKS = [
    ("list.ipynb", "[1, 2]", "JSON is a list"),
    ("number.ipynb", "5", "JSON is a number"),
    ("nocells.ipynb", '{"metadata": {}}', "no list of cells"),
    ("cellsnum.ipynb", '{"cells": 5}', "no list of cells"),
    ("text.ipynb", "not json {", "not JSON"),
    (
        "nokernel.ipynb",
        '{"cells": [{"cell_type": "code", "source": "%%mn_step a\\nx = 1",'
        ' "metadata": {}, "outputs": [], "execution_count": null}],'
        ' "metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
        "names no kernel",
    ),
]


@pytest.mark.parametrize(("name", "content", "mention"), NOT_NOTEBOOKS)
def test_run_on_a_file_that_is_not_a_notebook_exits_2(
    tmp_path: Path, name: str, content: str, mention: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    line = one_line_usage_error("run", str(path))
    assert mention in line, line
    assert not (tmp_path / (path.stem + ".mn")).exists()


def test_run_on_binary_missing_or_directory_exits_2(tmp_path: Path) -> None:
    binary = tmp_path / "binary.ipynb"
    binary.write_bytes(b"\xff\xfe\x00\x01")
    assert "cannot read notebook" in one_line_usage_error("run", str(binary))
    assert "no such notebook" in one_line_usage_error("run", str(tmp_path / "missing.ipynb"))
    (tmp_path / "dir.ipynb").mkdir()
    assert "is a directory" in one_line_usage_error("run", str(tmp_path / "dir.ipynb"))


@pytest.mark.parametrize(
    ("content", "mention"),
    [
        (b"a: [1,\n", "is not YAML"),
        (b"\xff\xfe\x00binary", "is not YAML"),
        (b"just a string\n", "must hold a mapping"),
        (b"1: 2\n", "1 is not a valid parameter name"),
        (b"class: 2\n", "'class' is not a valid parameter name"),
    ],
)
def test_run_with_a_bad_parameters_file_exits_2(
    tmp_path: Path, content: bytes, mention: str
) -> None:
    notebook = tmp_path / "nb.ipynb"
    cells = [new_code_cell("%%mn_step a\nx = 1")]
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": KERNELSPEC}), notebook)
    params = tmp_path / "params.yaml"
    params.write_bytes(content)
    line = one_line_usage_error("run", str(notebook), "-f", str(params))
    assert mention in line, line
    assert not (tmp_path / "nb.mn").exists()


def test_run_with_a_keyword_parameter_exits_2(tmp_path: Path) -> None:
    notebook = tmp_path / "nb.ipynb"
    cells = [new_code_cell("%%mn_step a\nx = 1")]
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": KERNELSPEC}), notebook)
    line = one_line_usage_error("run", str(notebook), "-p", "lambda", "1")
    assert "'lambda' is not a valid parameter name" in line


# -- 5. stored text is terminal-safe ------------------------------------------------------------


def test_status_and_log_escape_control_characters(tmp_path: Path) -> None:
    notebook = notebook_with_sidecar(tmp_path, error=f"ValueError: {HOSTILE}")
    # A tampered sidecar can hold any step name, too.
    with sqlite3.connect(tmp_path / "nb.mn" / "state.sqlite") as conn:
        conn.execute("UPDATE steps SET name=? WHERE name='boom'", (f"boom{HOSTILE}",))
        conn.execute("UPDATE events SET step=? WHERE step='boom'", (f"boom{HOSTILE}",))
    for command in (["status"], ["log"], ["status", "--json"], ["log", "--json"]):
        result = mn(*command, str(notebook))
        assert result.returncode == 0, (command, result.stderr)
        assert "pwned" in result.stdout, command  # shown, escaped
        leaked = [c for c in CONTROL if c in result.stdout + result.stderr]
        assert not leaked, (command, leaked, result.stdout)
    table = mn("status", str(notebook)).stdout
    assert "\\x1b]0;pwned\\x07" in table and "\\u202eevil" in table


def test_reset_escapes_stored_step_names(tmp_path: Path) -> None:
    notebook = notebook_with_sidecar(tmp_path)
    with sqlite3.connect(tmp_path / "nb.mn" / "state.sqlite") as conn:
        conn.execute("UPDATE steps SET name=? WHERE name='boom'", (f"boom{HOSTILE}",))
    result = mn("reset", str(notebook), "--all")
    assert result.returncode == 0, result.stderr
    assert "pwned" in result.stdout and not any(c in result.stdout for c in CONTROL)
