"""Realistic tutorial notebooks (sklearn, pandas, matplotlib) end to end: a second
`mn-nb run` of the unchanged notebook restores every step from its checkpoint, runs
nothing, changes nothing, and `mn-nb status` shows no step stale after either run."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import nbformat
import pytest

from ..helpers import mn
from ..messages import RESTORED, output_text

pytestmark = pytest.mark.kernel

TUTORIALS = Path(__file__).resolve().parents[2] / "notebooks" / "tutorials"
STEP = re.compile(r"%%mn_step ([A-Za-z0-9_][A-Za-z0-9_-]*)")


def step_names(path: Path) -> list[str]:
    """The notebook's steps in order; every code cell of a tutorial is a step."""
    names = []
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        match = STEP.match(cell.source.splitlines()[0])
        assert match, f"not a step: {cell.source[:60]!r}"
        names.append(match.group(1))
    assert len(names) == len(set(names)), "duplicate step names"
    return names


def status(workdir: Path) -> dict[str, dict[str, Any]]:
    done = mn("status", "nb.ipynb", "--json", cwd=workdir)
    assert done.returncode == 0, done.stdout + done.stderr
    return {s["name"]: s for s in json.loads(done.stdout)["steps"]}


def records(workdir: Path) -> dict[str, Any]:
    """The sidecar's records: every attempt ever started (one per execution of a step
    body), every checkpoint, and the checkpoint each step points at."""
    with sqlite3.connect(workdir / "nb.mn" / "state.sqlite") as db:
        return {
            "attempts": Counter(r[0] for r in db.execute("SELECT step FROM attempts")),
            "checkpoints": [r[0] for r in db.execute("SELECT id FROM checkpoints ORDER BY id")],
            "current": dict(db.execute("SELECT name, checkpoint_id FROM steps").fetchall()),
        }


def assert_nothing_stale(views: dict[str, dict[str, Any]], expected: str) -> None:
    """Every step shows `expected`, with no stale reason, no note that it runs again
    (an unanalysable magic, an input without a stable fingerprint) and every variable of
    its checkpoint saved."""
    shown = {
        name: (v["status"], v["stale_reason"], v["note"], v["unsaved"]) for name, v in views.items()
    }
    bad = {name: facts for name, facts in shown.items() if facts != (expected, None, None, [])}
    assert not bad, f"steps not {expected} (status, stale_reason, note, unsaved): {bad}"


def step_cells(output: Path) -> dict[str, Any]:
    cells = nbformat.read(output, as_version=4).cells
    return {c.metadata["mirrorneuron"]["step"]: c for c in cells if "mirrorneuron" in c.metadata}


def text_of(cell: Any) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")


def summary_line(cell: Any) -> str:
    lines = [line for line in text_of(cell).splitlines() if line.startswith("SUMMARY ")]
    assert len(lines) == 1, text_of(cell)
    return lines[0]


@pytest.mark.parametrize("name", ["iris_classification", "digits_clustering"])
def test_second_run_of_an_unchanged_tutorial_restores_every_step(workdir: Path, name: str) -> None:
    shutil.copy(TUTORIALS / f"{name}.ipynb", workdir / "nb.ipynb")
    names = step_names(workdir / "nb.ipynb")
    assert 25 <= len(names) <= 40

    first = mn("run", "nb.ipynb", "first.ipynb", cwd=workdir)
    assert first.returncode == 0, first.stdout + first.stderr
    first_cells = step_cells(workdir / "first.ipynb")
    assert list(first_cells) == names
    assert {c.metadata["mirrorneuron"]["outcome"] for c in first_cells.values()} == {"ran"}
    after_first = status(workdir)
    assert list(after_first) == names
    assert_nothing_stale(after_first, "succeeded")
    before = records(workdir)
    assert before["attempts"] == Counter(names), before["attempts"]  # each ran once

    notebook_bytes = (workdir / "nb.ipynb").read_bytes()
    second = mn("run", "nb.ipynb", "second.ipynb", cwd=workdir)
    assert second.returncode == 0, second.stdout + second.stderr

    # Every step was restored, none executed: the progress lines, the output notebook,
    # and the sidecar's attempts (one per execution) all say so.
    progress = {
        line.split()[0]: line.split()[1] for line in second.stdout.splitlines() if line[:2] == "  "
    }
    assert {n: progress.get(n) for n in names} == dict.fromkeys(names, "restored"), second.stdout
    second_cells = step_cells(workdir / "second.ipynb")
    assert list(second_cells) == names
    not_restored = {
        n: c.metadata["mirrorneuron"]["outcome"]
        for n, c in second_cells.items()
        if c.metadata["mirrorneuron"]["outcome"] != "restored"
        or RESTORED not in "".join(output_text(o) for o in c.outputs)
    }
    assert not not_restored, not_restored
    after = records(workdir)
    # Nothing changed: no new attempt, the same checkpoints, each step still pointing at
    # its own, and the notebook untouched.
    assert after == before
    assert (workdir / "nb.ipynb").read_bytes() == notebook_bytes

    after_second = status(workdir)
    assert list(after_second) == names
    assert_nothing_stale(after_second, "cached")

    # The last cell's summary is replayed exactly.
    last = names[-1]
    assert summary_line(second_cells[last]) == summary_line(first_cells[last])
