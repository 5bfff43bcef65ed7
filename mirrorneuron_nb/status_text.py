"""The steps of a notebook as text: the status table (%mn_status's plain text, `mn-nb
status`, the end of `mn-nb run`) and the one-line summaries the table and the HTML view
share. The views themselves are derived in status.py."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from .models import InputOrigin, StepStatus
from .render import (
    clip,
    format_bytes,
    format_duration,
    format_elapsed,
    format_wake,
    format_when,
    table,
)

if TYPE_CHECKING:
    from .status import StepView


def owner_summary(view: StepView) -> str:
    """E.g. "running in kernel pid 4121 on host x for 2 min 10 s; 1 waiting"."""
    if view.owner is None:
        return f"{len(view.waiting)} waiting" if view.waiting else ""
    o = view.owner
    text = (
        f"running in {'a batch run' if o.kind == 'batch' else 'kernel'} pid {o.pid} on "
        f"{o.host} for {format_elapsed(time.time() - o.since)}"
    )
    return f"{text}; {len(view.waiting)} waiting" if view.waiting else text


def wake_summary(wake_at: float, now: float | None = None) -> str:
    """E.g. "sleeps until 14:06 (2025-01-02 14:05:03 CET)", or that it may run again."""
    if wake_at <= (now if now is not None else time.time()):
        return f"woke at {format_wake(wake_at)}: run it again to continue"
    return f"sleeps until {format_wake(wake_at)}"


def missing_summary(origins: tuple[InputOrigin, ...]) -> str:
    """E.g. "needs X, scale: run cells 1, 3 first"; empty when nothing is missing."""
    if not origins:
        return ""
    cells = sorted({o.cell_index + 1 for o in origins if o.cell_index is not None})
    listed = ", ".join(map(str, cells))
    parts = [f"run cell{'s' if len(cells) > 1 else ''} {listed} first"] if cells else []
    parts += [f"{o.name}: {o.label}" for o in origins if o.cell_index is None]
    return f"needs {', '.join(o.name for o in origins)}: {'; '.join(parts)}"


def durable_summary(view: StepView) -> str:
    """E.g. "durable calls: 700 recorded, 2 failed"; empty when the step made none."""
    parts = [
        f"{n} {what}"
        for n, what in (
            (view.durable_recorded, "recorded"),
            (view.durable_failed, "failed"),
            (view.durable_unsaved, "not recorded"),
        )
        if n
    ]
    return "durable calls: " + ", ".join(parts) if parts else ""


def _label(v: StepView) -> str:
    tags = [t for t in (v.kind if v.kind != "compute" else "", "once" if v.once else "") if t]
    label = f"{v.name} [{', '.join(tags)}]" if tags else v.name
    return label if v.in_notebook else f"{label} (cell deleted)"


STATUS_HEADERS = ("step", "status", "duration", "attempts", "checkpoint", "last run", "detail")


DETAIL_CHARS = 80


def detail_of(v: StepView) -> str:
    """The one thing to know about a step beyond its status (uncut)."""
    detail = v.error if v.error and not v.status.good else (v.stale_reason or "")
    if v.owner is not None or v.waiting:
        detail = owner_summary(v)
    if v.missing_inputs:
        detail = missing_summary(v.missing_inputs)  # the latest thing that happened to it
    if v.wake_at is not None and not detail:
        detail = wake_summary(v.wake_at)
    if v.status is StepStatus.approved and not detail:
        detail = f"approved by {v.decided_by}: run the step again to continue"
    if v.approval and not detail:
        detail = f"asks: {v.approval}"
    if v.note and not detail:
        detail = v.note
    if v.unsaved and not detail:
        detail = "not checkpointed: " + ", ".join(u.split(" (")[0] for u in v.unsaved)
    durable = durable_summary(v)
    if durable:
        # The detail column is cut: keep the counts visible.
        room = DETAIL_CHARS - len(durable) - 2
        detail = f"{clip(detail, room)}; {durable}" if detail else durable
    return detail or ""


def status_rows(views: list[StepView]) -> list[list[str]]:
    """The cells of the status table (STATUS_HEADERS), the detail uncut."""
    return [
        [
            _label(v),
            v.status.value,
            format_duration(v.duration),
            str(v.attempts),
            format_bytes(v.checkpoint_bytes),
            format_when(v.last_run),
            detail_of(v),
        ]
        for v in views
    ]


def status_table(views: list[StepView]) -> str:
    if not views:
        return NO_STEPS
    rows = [[*row[:-1], clip(row[-1], DETAIL_CHARS)] for row in status_rows(views)]
    return table(STATUS_HEADERS, rows)


NO_STEPS = "no steps yet: mark a cell with %%mn_step NAME"
