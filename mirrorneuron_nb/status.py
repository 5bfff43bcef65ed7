"""The steps of a notebook as the user should see them, with staleness derived.

Shared by %mn_status, the CLI and the server, so all three say the same thing.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from . import config
from .errors import MirrorNeuronError
from .models import (
    IN_FLIGHT,
    INPUTS_MISSING,
    SLEEPING,
    UNSTABLE_FINGERPRINT,
    ApprovalStatus,
    CallCounts,
    Checkpoint,
    InputOrigin,
    LeaseOwner,
    LeaseWaiter,
    Run,
    Step,
    StepStatus,
    VarEntry,
    takes_over,
)
from .notebook import StepCell, code_hash, step_cells, valid_cells

# How the views read as text lives in status_text.py; its importers may keep this path.
from .status_text import NO_STEPS, STATUS_HEADERS, detail_of, status_rows, status_table
from .store import Store, lease_free, owner_alive
from .store.leases import this_host

__all__ = [
    "NO_STEPS",
    "STATUS_HEADERS",
    "StepView",
    "detail_of",
    "status_rows",
    "status_table",
    "step_views",
]


@dataclass(frozen=True)
class StepView:
    name: str
    status: StepStatus
    position: int | None
    duration: float | None
    attempts: int
    checkpoint_bytes: int | None
    last_run: float | None
    error: str | None
    stale_reason: str | None
    in_notebook: bool
    unsaved: tuple[str, ...] = ()
    kind: str = "compute"
    once: bool = False
    approval: str | None = None
    """The question of a step waiting at its approval gate."""
    decided_by: str | None = None
    """Who approved a step that now waits to be run again."""
    """Variables of the current checkpoint that could not be saved (with reasons)."""
    durable_recorded: int = 0
    """Durable calls of the step's current execution (or of the one that made its
    checkpoint) that completed and are recorded."""
    durable_failed: int = 0
    """Durable calls of that execution that raised (they run again on a re-run)."""
    durable_unsaved: int = 0
    """Durable calls of that execution whose result could not be recorded."""
    note: str | None = None
    """Why the step runs again although nothing changed: a magic that cannot be analysed
    (`always runs: %run cannot be analysed`), or an input with no stable fingerprint."""
    missing_inputs: tuple[InputOrigin, ...] = ()
    """Inputs the step's last run found missing from the kernel (they came from cells
    nobody checkpointed), with where each is defined; empty once anything else happened
    to the step (it ran, was served from its checkpoint, was reset)."""
    wake_at: float | None = None
    """When a `sleeping` step wakes up (epoch seconds): a batch run parked it at a wait
    longer than its --max-sleep; the next run after this time proceeds."""
    owner: LeaseOwner | None = None
    """The live process running the step now (its lease), if any."""
    waiting: tuple[LeaseWaiter, ...] = ()
    """Claimants waiting for that owner to finish."""


def step_views(store: Store | None, notebook: Path | None = None) -> list[StepView]:
    """Every step of the notebook (and of the sidecar), in notebook order, as shown.

    With no store (no step ran yet), the notebook's step cells, all pending. A cell whose
    name the magic refuses is no step (notebook.invalid_cells names those)."""
    every_cell = step_cells(notebook) if notebook else []
    cells = valid_cells(every_cell)
    code_by_name = {c.name: code_hash(c.body) for c in cells}
    position = {c.name: c.position for c in cells}
    if store is None:
        return [_pending(c.name, c.position) for c in _unique(cells)]
    steps = store.steps()
    checkpoints: dict[str, Checkpoint] = {}
    for s in steps:
        if s.checkpoint_id is not None:
            found = store.checkpoint(s.checkpoint_id)
            if found is not None:
                checkpoints[s.name] = found
    variables = store.current_variables()
    order = sorted(steps, key=lambda s: position.get(s.name, 10**6 + (s.position or 0)))
    views: list[StepView] = []
    runs = {r.id: r for r in store.runs()}
    journaled = _has_journal(store)
    missing = _missing_inputs(store)
    wakes = _wake_times(store) if any(s.status is StepStatus.sleeping for s in steps) else {}
    leases, waiters = _leases(store)
    # One pass in notebook order: each step is checked against the writers above it, then
    # becomes the latest writer of its own variables (linear, not quadratic, in steps).
    writers: dict[str, tuple[str, VarEntry, int]] = {}
    for s in order:
        status = s.status
        owner = _owner(s, leases.get(s.name, []), runs.get(s.run_id or ""))
        if status in IN_FLIGHT and owner is None:
            status = StepStatus.interrupted
        elif isinstance(owner, LeaseOwner) and status not in IN_FLIGHT:
            owner = None  # released as the row changed; not seen yet
        reason = None
        ckpt = checkpoints.get(s.name)
        if status.good and ckpt is not None:
            reason = _stale_reason(
                ckpt,
                writers,
                checkpoints,
                code_by_name.get(s.name),
                s.options.get("after") or [],
            )
            if reason is not None:
                status = StepStatus.stale
        for var in variables.get(s.name, []):
            now = writers.get(var.name)
            if ckpt is None or takes_over(var, ckpt.id, None if now is None else now[1:]):
                writers[var.name] = (s.name, var, ckpt.id if ckpt else 0)
        calls = _durable_counts(store, s, journaled)
        decided_by = None
        if status is StepStatus.awaiting_approval:
            gate = store.approval(s.name)
            if gate is not None and gate.status is ApprovalStatus.approved:
                status, decided_by = StepStatus.approved, gate.decided_by
        views.append(
            StepView(
                name=s.name,
                status=status,
                position=position.get(s.name, s.position),
                duration=s.duration,
                attempts=s.attempts,
                checkpoint_bytes=ckpt.size if ckpt else None,
                last_run=s.ended_at or s.started_at,
                error=s.error,
                stale_reason=reason,
                in_notebook=not every_cell or s.name in position,
                durable_recorded=calls.succeeded,
                durable_failed=calls.failed,
                durable_unsaved=calls.unsaved,
                note=_note(s, ckpt if status.good else None),
                missing_inputs=missing.get(s.name, ()),
                wake_at=wakes.get(s.name) if status is StepStatus.sleeping else None,
                kind=str(s.options.get("kind") or "compute"),
                once=bool(s.options.get("once")),
                approval=s.options.get("approve")
                if status in (StepStatus.awaiting_approval, StepStatus.approved)
                else None,
                decided_by=decided_by,
                owner=owner if isinstance(owner, LeaseOwner) else None,
                waiting=tuple(waiters.get(s.name, ())),
                unsaved=tuple(
                    f"{v.name} ({v.error})"
                    for v in variables.get(s.name, [])
                    if v.error is not None
                )
                if ckpt is not None
                else (),
            )
        )
    known = {s.name for s in steps}
    views.extend(_pending(c.name, c.position) for c in _unique(cells) if c.name not in known)
    views.sort(key=lambda v: (not v.in_notebook, v.position if v.position is not None else 10**6))
    return views


def _leases(store: Store) -> tuple[dict[str, list[LeaseOwner]], dict[str, list[LeaseWaiter]]]:
    """A read-only store may be a sidecar from before leases (schema 5)."""
    if not store.has_table("leases"):
        return {}, {}
    return store.leases(), store.lease_waiters()


def _owner(step: Step, leases: list[LeaseOwner], run: Run | None) -> LeaseOwner | bool | None:
    """Who runs the step now, by the lease rule: its live lease (the one of the run
    that wrote its row first); True when a run of no lease (older code) still lives;
    None when nobody does (a `running` row is then interrupted)."""
    now, host, timeout = time.time(), this_host(), config.lease_timeout()
    live = [o for o in leases if not lease_free(o, now, host, timeout)]
    live.sort(key=lambda o: o.run_id != step.run_id)
    if live:
        return live[0]
    if any(o.run_id == step.run_id for o in leases):
        return None  # its lease is free: the owner is gone
    if run is None or run.host not in (None, host):
        return True  # another host's process cannot be probed
    return True if owner_alive(run.pid, run.started_at) else None


def _pending(name: str, position: int) -> StepView:
    return StepView(name, StepStatus.pending, position, None, 0, None, None, None, None, True)


def _unique(cells: list[StepCell]) -> list[StepCell]:
    """The first cell of each name (a duplicate name is an error the magic reports)."""
    first: dict[str, StepCell] = {}
    for c in cells:
        first.setdefault(c.name, c)
    return list(first.values())


def _has_journal(store: Store) -> bool:
    """A read-only store may be a sidecar from before durable calls existed."""
    return store.has_table("durable_calls")


def _missing_inputs(store: Store) -> dict[str, tuple[InputOrigin, ...]]:
    """Steps stopped for missing inputs (their latest event says so), with the origins.
    The detail is read from the sidecar: a damaged one is ignored, never half-used."""
    out: dict[str, tuple[InputOrigin, ...]] = {}
    for step, event in store.latest_events(INPUTS_MISSING).items():
        raw = event.detail.get("origins")
        if not isinstance(raw, list) or not raw:
            continue
        try:
            out[step] = tuple(InputOrigin.model_validate(o) for o in raw)
        except ValidationError:
            continue
    return out


def _wake_times(store: Store) -> dict[str, float]:
    """Each step whose latest event parked it `sleeping`, with its wake-up time. The
    detail is read from the sidecar: a damaged one is no wake-up time, never a crash."""
    out: dict[str, float] = {}
    for step, event in store.latest_events(SLEEPING).items():
        wake = event.detail.get("wake_at")
        if isinstance(wake, (int, float)) and not isinstance(wake, bool) and math.isfinite(wake):
            out[step] = float(wake)
    return out


def _durable_counts(store: Store, step: Step, journaled: bool) -> CallCounts:
    if not journaled:
        return CallCounts()
    # A good step shows the execution that made its checkpoint (that journal is closed);
    # any other step shows its open journal, the calls a re-run would replay.
    checkpoint = step.checkpoint_id if step.status.good else None
    try:
        return store.execution_call_counts(step.name, checkpoint)
    except MirrorNeuronError:
        return CallCounts()


def _stale_reason(
    ckpt: Checkpoint,
    writers: dict[str, tuple[str, VarEntry, int]],
    checkpoints: dict[str, Checkpoint],
    notebook_code: str | None,
    after: list[str],
) -> str | None:
    """`writers`: for each variable name, the latest step above this one that wrote it,
    which decides what this step would read if the notebook ran top to bottom now."""
    if notebook_code is not None and notebook_code != ckpt.code_hash:
        return "code changed since its checkpoint"
    for input_name, fp in ckpt.inputs.items():
        writer = writers.get(input_name)
        if writer is not None and writer[1].fingerprint not in (None, fp):
            return f"input {input_name!r} changed (step {writer[0]!r} produced a new value)"
    for dep in after:
        dep_ckpt = checkpoints.get(dep)
        if dep_ckpt is not None and dep_ckpt.created_at > ckpt.created_at:
            return f"step {dep!r} (--after) has a newer checkpoint"
    return None


def _note(step: Step, ckpt: Checkpoint | None) -> str | None:
    """Why the step runs again although nothing changed, if it does."""
    always = step.options.get("always_runs")
    if isinstance(always, list) and always:
        return "always runs: " + "; ".join(str(reason) for reason in always)
    return _unstable_inputs(ckpt) if ckpt is not None else None


def _unstable_inputs(ckpt: Checkpoint) -> str | None:
    unstable = [
        f"{name!r} ({fp.split(':')[1]})"
        for name, fp in ckpt.inputs.items()
        if fp.startswith(UNSTABLE_FINGERPRINT) and fp.count(":") >= 2
    ]
    if not unstable:
        return None
    return f"no stable fingerprint: {', '.join(unstable)}; runs again after a restart"
