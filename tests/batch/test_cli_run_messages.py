"""`mn-nb run` names the failing step and the real one-line reason, whatever the cause (a
magic's refusal, a step's exception, a plain cell, a kernel death), and prints no
kernel transport warning. Real `mn-nb run` processes, real kernels."""

from __future__ import annotations

import subprocess
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from ..helpers import mn

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
LOAD = "%load_ext mirrorneuron_nb"


def notebook(path: Path, *sources: str) -> Path:
    nb = new_notebook(cells=[new_code_cell(s) for s in (LOAD, *sources)])
    nb.metadata["kernelspec"] = KERNELSPEC
    nbformat.write(nb, path)
    return path


def failed_run(nb: Path) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run NB, which must fail with exit 1; return the result and its one stderr line."""
    result = mn("run", str(nb), timeout=180)
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    assert "TCP" not in result.stderr + result.stdout  # no IPKernelApp transport warning
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return result, lines[0]


@pytest.mark.parametrize(
    ("cell", "step", "reason"),
    [
        (
            "%%mn_step bad!\nx = 1",
            "bad!",
            "UsageError: invalid step name 'bad!': use letters, digits, '_' and '-'",
        ),
        (
            "%%mn_step a --retries banana\nx = 1",
            "a",
            "UsageError: argument --retries: invalid int value: 'banana'",
        ),
        (
            "%%mn_step a\nx = 1\n\n# a cell below reuses the name",
            "a",
            "UsageError: step name 'a' is used by more than one cell",
        ),
    ],
    ids=["invalid-name", "bad-option-value", "duplicate-name"],
)
def test_a_refused_step_cell_names_the_step_and_the_magics_reason(
    tmp_path: Path, cell: str, step: str, reason: str
) -> None:
    sources = [cell, "%%mn_step a\ny = 2"] if "reuses" in cell else [cell]
    _, line = failed_run(notebook(tmp_path / "nb.ipynb", *sources))
    assert line.startswith(f"mn-nb: run failed at step {step!r}: {reason}"), line
    assert "CellExecutionError" not in line and "no sidecar" not in line


def test_a_step_exception_and_a_plain_cell_are_named(tmp_path: Path) -> None:
    plain = notebook(tmp_path / "plain.ipynb", "%%mn_step a\nx = 1", "1 / 0", "%%mn_step b\ny = 1")
    result, line = failed_run(plain)
    assert line.startswith(
        "mn-nb: run failed at the cell `1 / 0`: ZeroDivisionError: division by zero"
    ), line
    assert "a " in result.stdout and "ran" in result.stdout


def test_a_kernel_death_names_the_step(tmp_path: Path) -> None:
    dies = notebook(
        tmp_path / "dies.ipynb",
        "%%mn_step ok\nx = 1",
        "%%mn_step crash\nimport os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
    )
    result, line = failed_run(dies)
    assert line.startswith("mn-nb: run failed at step 'crash': the kernel died while it ran"), line
    assert any(
        ln.split()[:2] == ["crash", "failed"] for ln in result.stdout.splitlines() if ln.strip()
    ), result.stdout
