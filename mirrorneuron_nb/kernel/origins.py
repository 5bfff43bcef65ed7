"""Inputs nobody checkpointed: after a restart, a succeeded step whose inputs came from
plain cells (a parameters cell, a cell that loads data) would fail with a NameError and
lose its good status. It is stopped instead, with one line naming the cells to run.

A step's inputs are the names its body reads that were inputs of its last checkpoint
(`Checkpoint.inputs`). Where each is defined: another step's checkpoint, else the last
code cell of the saved notebook before the step that binds it.
"""

from __future__ import annotations

import builtins
import json
from pathlib import Path
from typing import Any

from ..errors import InputsMissing, MirrorNeuronError
from ..notebook import step_name
from ..values.codec import DELETED
from .analysis import analyze
from .magic_effects import transform_cell
from .plan import StepPlan
from .session import KernelSession


def check_inputs(session: KernelSession, plan: StepPlan) -> None:
    """Raise InputsMissing when a good step's inputs are gone and every one of them is
    defined somewhere; a name defined nowhere fails in the body, as in any cell."""
    if plan.options.force:
        return  # the user asked for the body to run
    ns = session.shell.user_ns
    if all(n in ns or hasattr(builtins, n) for n in plan.analysis.reads):
        return  # the common case, without reading the sidecar
    store = session.store
    step = store.step(plan.name)
    if step is None or not step.status.good or step.checkpoint_id is None:
        return
    checkpoint = store.checkpoint(step.checkpoint_id)
    if checkpoint is None:
        return
    missing = [n for n in sorted(checkpoint.inputs) if n in plan.analysis.reads and n not in ns]
    if not missing:
        return
    where = _origins(session, plan.name, missing)
    notebook = session.location.notebook
    if notebook is not None and any(w is None for w in where.values()):
        return
    listed = ", ".join(f"{n} ({where[n] or 'not from a step'})" for n in missing)
    raise InputsMissing(
        plan.name,
        f"mn_step {plan.name}: inputs not in the kernel: {listed}: "
        "run those cells first, or %mn_resume",
    )


def _origins(session: KernelSession, step: str, names: list[str]) -> dict[str, str | None]:
    found: dict[str, str | None] = dict.fromkeys(names)
    for other, entries in session.store.current_variables().items():
        for entry in entries:
            if other != step and entry.name in found and entry.serializer != DELETED:
                found[entry.name] = found[entry.name] or f"step {other}"
    notebook = session.location.notebook
    if notebook is not None:
        for name, label in plain_cells(notebook, step, names).items():
            found[name] = found[name] or label
    return found


def plain_cells(notebook: Path, step: str, names: list[str]) -> dict[str, str]:
    """For each name, the last code cell before `step` that binds it and is not a step
    ("cell N, not a step", N counting every cell from 1; or "parameters cell")."""
    try:
        cells: list[dict[str, Any]] = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    sources = ["".join(c.get("source", "")) for c in cells]
    end = next((i for i, s in enumerate(sources) if step_name(s) == step), len(cells))
    out: dict[str, str] = {}
    for index in range(end):
        cell, source = cells[index], sources[index]
        if cell.get("cell_type") != "code" or step_name(source) is not None:
            continue
        try:
            writes = analyze(transform_cell(source)).writes
        except (MirrorNeuronError, SyntaxError):
            continue
        tags = cell.get("metadata", {}).get("tags", [])
        if "parameters" in tags:
            label = "parameters cell"
        elif "injected-parameters" in tags:
            label = "injected parameters cell"
        else:
            label = f"cell {index + 1}, not a step"
        for name in names:
            if name in writes:
                out[name] = label
    return out
