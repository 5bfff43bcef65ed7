"""Decisions taken before a step's body may run: rejected upstream, once-only, approval.

Each raises when the body must not run; the runner acts on what they return.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ApprovalRequired, InvalidInput, StepRejected
from ..models import ApprovalStatus, Step, StepStart, StepStatus
from ..render import format_when
from ..store import Store
from .policy import StepOptions


def check_upstream(store: Store, start: StepStart) -> None:
    """A rejected step stops every later step (in notebook order)."""
    if start.position is not None:
        stop_if_rejected(start, store.rejected_before(start.position))


def stop_if_rejected(start: StepStart, rejected: str | None) -> None:
    """`rejected`: the first rejected step before this one, as the store found it."""
    if rejected is not None:
        raise StepRejected(
            start.name,
            f"step {rejected!r} was rejected, so {start.name!r} does not run "
            f"(reset {rejected!r} to ask again)",
        )


def once_gate(step: Step | None, options: StepOptions) -> bool:
    """True when a --once step already succeeded: serve its checkpoint, never run it."""
    if not options.once or step is None:
        return False
    if step.status is StepStatus.interrupted and not options.force:
        raise InvalidInput(
            f"step {step.name!r} is --once and was interrupted while running "
            f"({format_when(step.started_at)}): its side effect may already have happened. "
            f"Check, then run it with --force (or reset it)"
        )
    if step.checkpoint_id is None:
        return False
    if options.force:
        raise InvalidInput(
            f"step {step.name!r} is --once and already succeeded "
            f"({format_when(step.ended_at)}): --force does not run it again; reset it first "
            f"(%mn_reset {step.name}) if you really mean to"
        )
    return True


def approval_gate(
    store: Store,
    run_id: str,
    start: StepStart,
    question: str,
    batch: bool,
    notebook: Path | None,
) -> None:
    """Return when a human approved the step; otherwise park it and stop the cell."""
    approval = store.approval(start.name)
    if approval is not None and approval.status is ApprovalStatus.approved:
        return
    if approval is not None and approval.status is ApprovalStatus.rejected:
        store.mark_rejected(run_id, start, approval)
        by = f" by {approval.decided_by}" if approval.decided_by else ""
        note = f": {approval.note}" if approval.note else ""
        raise StepRejected(start.name, f"step {start.name!r} was rejected{by}{note}")
    store.request_approval(run_id, start, question)
    if batch:
        target = notebook.name if notebook else "NOTEBOOK"
        raise ApprovalRequired(
            start.name,
            f"step {start.name!r} awaits approval ({question!r}); approve with "
            f"`mn-nb approve {target} {start.name}` (or --reject), then run again",
        )
    from .widgets import show_approval

    show_approval(store, start.name, question, run_id)
    raise ApprovalRequired(
        start.name,
        f"step {start.name!r} awaits approval: use the buttons above, then run this cell again",
    )
