"""Fixture notebooks for the batch and sweep tests: a cell tagged `parameters`, the
extension, then step cells whose bodies append a line to `counts.txt` each time they run
(the call counters that prove what ran and what was restored)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

COUNTS = "counts.txt"
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def count(label: str) -> str:
    """Body lines appending `label` (a Python expression, e.g. an f-string) and a newline
    to counts.txt: one line per body run; O_APPEND lines from concurrent kernels do not mix."""
    return f"with open({COUNTS!r}, 'a') as _fh:\n    _fh.write({label} + '\\n')\ndel _fh\n"


def step(name: str, body: str, label: str | None = None) -> str:
    """A counted step cell; the line it counts is its name unless `label` says otherwise."""
    return f"%%mn_step {name}\n" + count(label or repr(name)) + body


def write_notebook(path: Path, parameters: str, steps: Sequence[str]) -> Path:
    """The parameters cell, `%load_ext mirrorneuron_nb`, then the given step cells."""
    cells = [
        new_code_cell(parameters, metadata={"tags": ["parameters"]}),
        new_code_cell("%load_ext mirrorneuron_nb"),
        *(new_code_cell(source) for source in steps),
    ]
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": KERNELSPEC}), path)
    return path


def counts(workdir: Path) -> Counter[str]:
    """How many times each counted line was written in `workdir`."""
    path = workdir / COUNTS
    return Counter(path.read_text().splitlines()) if path.exists() else Counter()
