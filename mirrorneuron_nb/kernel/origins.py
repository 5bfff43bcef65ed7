"""Inputs nobody checkpointed: after a restart, a succeeded step whose inputs came from
plain cells (a parameters cell, a cell that loads data) would fail with a NameError and
lose its good status. It is stopped instead, with one line naming the cells to run, and
the sidecar records which (an `inputs_missing` event) so the panel can offer to run them.

A step's inputs are the names its body reads that were inputs of its last checkpoint
(`Checkpoint.inputs`). Where each is defined: another step's checkpoint, else the last
code cell of the saved notebook before the step that binds it.
"""

from __future__ import annotations

import builtins
import contextlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputsMissing, MirrorNeuronError
from ..models import InputOrigin
from ..notebook import CELL_ID_RE, step_name
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
    origins = [where[n] or InputOrigin(name=n, label="not from a step") for n in missing]
    # Recorded before the cell stops: the panel reads it and offers to run those cells.
    # The line below names them anyway: a sidecar that cannot be written does not hide it.
    with contextlib.suppress(MirrorNeuronError):
        store.record_inputs_missing(plan.run_id, plan.name, origins)
    listed = ", ".join(f"{o.name} ({o.label})" for o in origins)
    raise InputsMissing(
        plan.name,
        f"mn_step {plan.name}: inputs not in the kernel: {listed}: "
        "run those cells first, or %mn_resume",
    )


def _origins(session: KernelSession, step: str, names: list[str]) -> dict[str, InputOrigin | None]:
    found: dict[str, InputOrigin | None] = dict.fromkeys(names)
    notebook = session.location.notebook
    cells = saved_cells(notebook) if notebook is not None else []
    step_cells = {c.step: c for c in cells if c.step is not None}
    for other, entries in session.store.current_variables().items():
        if other == step:
            continue
        for entry in entries:
            if entry.name in found and found[entry.name] is None and entry.serializer != DELETED:
                cell = step_cells.get(other)
                found[entry.name] = InputOrigin(
                    name=entry.name,
                    step=other,
                    cell_index=cell.index if cell else None,
                    cell_id=cell.cell_id if cell else None,
                    label=f"step {other}",
                )
    for name, origin in plain_cells(cells, step, names).items():
        found[name] = found[name] or origin
    return found


@dataclass(frozen=True)
class SavedCell:
    """A code cell of the saved notebook: its index (every cell counted) and id."""

    index: int
    cell_id: str | None
    source: str
    tags: tuple[str, ...]
    step: str | None
    """The step name of a `%%mn_step` cell, else None (a plain cell)."""


def saved_cells(notebook: Path) -> list[SavedCell]:
    """The code cells of the saved notebook; none when it cannot be read."""
    try:
        cells: list[dict[str, Any]] = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        return [_saved(i, c) for i, c in enumerate(cells) if c.get("cell_type") == "code"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return []


def _saved(index: int, cell: dict[str, Any]) -> SavedCell:
    raw = cell.get("source", "")
    source = "".join(raw) if isinstance(raw, list) else str(raw)
    tags = cell.get("metadata", {}).get("tags", [])
    cell_id = cell.get("id")
    return SavedCell(
        index,
        cell_id if isinstance(cell_id, str) and CELL_ID_RE.match(cell_id) else None,
        source,
        tuple(t for t in tags if isinstance(t, str)) if isinstance(tags, list) else (),
        step_name(source),
    )


def plain_cells(cells: list[SavedCell], step: str, names: list[str]) -> dict[str, InputOrigin]:
    """For each name, the last code cell before `step` that binds it and is not a step
    (labelled "cell N, not a step", N counting every cell from 1; or "parameters cell")."""
    end = next((c.index for c in cells if c.step == step), None)
    out: dict[str, InputOrigin] = {}
    for cell in cells:
        if end is not None and cell.index >= end:
            break
        if cell.step is not None:
            continue
        try:
            writes = analyze(transform_cell(cell.source)).writes
        except (MirrorNeuronError, SyntaxError):
            continue
        if "parameters" in cell.tags:
            label = "parameters cell"
        elif "injected-parameters" in cell.tags:
            label = "injected parameters cell"
        else:
            label = f"cell {cell.index + 1}, not a step"
        for name in names:
            if name in writes:
                out[name] = InputOrigin(
                    name=name, cell_index=cell.index, cell_id=cell.cell_id, label=label
                )
    return out
