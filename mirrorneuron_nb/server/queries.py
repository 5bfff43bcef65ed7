"""What each endpoint answers, as plain functions over the sidecar (tests call them directly).

Reads go through `Sidecars` (read-only connections, one snapshot per answer). The only
writes are `reset_step` and `approve_step`, through a short-lived writable Store.
Checkpoint blobs are never opened: variables are described from their metadata rows.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import Any

from ..errors import NotFound, UnknownStep, UnsafeSidecar
from ..models import GOOD_NAMES, Approval, StepStatus
from ..notebook import invalid_cells, read_notebook, step_cells
from ..planning import plan_notebook
from ..status import StepView, step_views
from ..store import Store, is_shared, open_store, store_exists
from ..store.guard import DB_NAME
from ..timeline import Timeline, timeline
from .api_models import (
    ApprovalInfo,
    ApproveResponse,
    AttemptInfo,
    CheckpointInfo,
    EventInfo,
    EventsResponse,
    InvalidCellInfo,
    LeaseOwnerInfo,
    LeaseWaiterInfo,
    MissingInputInfo,
    OutputInfo,
    PlanResponse,
    PlanStep,
    ResetResponse,
    RunInfo,
    RunsResponse,
    StepDetail,
    StepRow,
    StepsResponse,
    Summary,
    VariableInfo,
)
from .paths import Identity, NotebookRef, confine_sidecar
from .sidecars import Sidecars, pid_fingerprint, stat_token

ATTEMPTS_SHOWN = 20
PREVIEW_CHARS = 200


# Statuses whose row shows the step's open approval (the question, the decision).
GATED = (StepStatus.awaiting_approval, StepStatus.approved, StepStatus.rejected)


def _approvals(store: Store, views: list[StepView]) -> dict[str, Approval]:
    """The open approval of each step parked at its gate or rejected there."""
    found = {v.name: store.approval(v.name) for v in views if v.status in GATED}
    return {name: a for name, a in found.items() if a is not None}


def _approval_info(a: Approval) -> ApprovalInfo:
    return ApprovalInfo(
        question=a.question,
        status=a.status.value,
        requested_at=a.requested_at,
        decided_at=a.decided_at,
        decided_by=a.decided_by,
        note=a.note,
    )


def _row(v: StepView, approval: Approval | None = None) -> StepRow:
    # status.step_views derives `approved` (granted, not yet used up), as for the CLI.
    return StepRow(
        name=v.name,
        status=v.status.value,
        kind=v.kind,
        once=v.once,
        position=v.position,
        duration=v.duration,
        attempts=v.attempts,
        checkpoint_bytes=v.checkpoint_bytes,
        last_run=v.last_run,
        error=v.error,
        stale_reason=v.stale_reason,
        in_notebook=v.in_notebook,
        unsaved=list(v.unsaved),
        approval=_approval_info(approval) if approval else None,
        durable_recorded=v.durable_recorded,
        durable_failed=v.durable_failed,
        durable_unsaved=v.durable_unsaved,
        missing_inputs=[MissingInputInfo(**o.model_dump()) for o in v.missing_inputs],
        wake_at=v.wake_at,
        owner=LeaseOwnerInfo(**dataclasses.asdict(v.owner)) if v.owner else None,
        waiting=[LeaseWaiterInfo(**dataclasses.asdict(w)) for w in v.waiting],
    )


def _pending_rows(nb: NotebookRef) -> list[StepRow]:
    """A notebook none of whose steps ran yet: its step cells, pending."""
    return [_row(v) for v in step_views(None, nb.file)]


def _invalid_cells(nb: NotebookRef) -> list[InvalidCellInfo]:
    """Step cells whose name the magic refuses: listed apart, never counted as steps."""
    return [
        InvalidCellInfo(cell=c.cell, cell_id=c.cell_id, name=c.name, error=c.name_error or "")
        for c in invalid_cells(step_cells(nb.file))
    ]


def summarize(rows: list[StepRow]) -> Summary:
    total = len(rows)
    good = sum(1 for r in rows if r.status in GOOD_NAMES)
    unfinished = next((r.name for r in rows if r.status not in GOOD_NAMES), None)
    waiting = sum(1 for r in rows if r.status == StepStatus.awaiting_approval.value)
    text = (
        f"{good} of {total} steps good"
        if total
        else "no steps yet: mark a cell with %%mn_step NAME"
    )
    if waiting:
        text += f"; {waiting} awaiting approval"
    sleeping = sum(1 for r in rows if r.status == StepStatus.sleeping.value)
    if sleeping:
        text += f"; {sleeping} sleeping"
    return Summary(total=total, good=good, first_unfinished=unfinished, text=text)


def steps_state(sidecars: Sidecars, nb: NotebookRef, since: str | None) -> StepsResponse:
    # The token is taken before the data: a commit in between makes the next poll fetch
    # again (harmless), never hides a change.
    notebook_token = stat_token(nb.file)
    with sidecars.reading(nb.sidecar) as entry:
        if entry is None:
            token = f"0.{notebook_token}"
            if since == token:
                return StepsResponse(path=nb.api_path, token=token, changed=False, sidecar=False)
            rows = _pending_rows(nb)
            return StepsResponse(
                path=nb.api_path,
                token=token,
                changed=True,
                sidecar=False,
                steps=rows,
                deleted=[],
                summary=summarize(rows),
                invalid_cells=_invalid_cells(nb),
            )
        token = ".".join(
            [
                str(entry.generation),
                str(entry.data_version()),
                notebook_token,
                pid_fingerprint(entry.watched_pids),
            ]
        )
        if since == token:
            return StepsResponse(path=nb.api_path, token=token, changed=False, sidecar=True)
        with entry.store.snapshot() as store:
            views = step_views(store, nb.file)
            approvals = _approvals(store, views)
            pids = store.running_pids()
        if pids != entry.watched_pids:
            entry.watched_pids = pids
            token = ".".join([*token.split(".")[:3], pid_fingerprint(pids)])
    rows = [_row(v, approvals.get(v.name)) for v in views if v.in_notebook]
    return StepsResponse(
        path=nb.api_path,
        token=token,
        changed=True,
        sidecar=True,
        steps=rows,
        deleted=[_row(v, approvals.get(v.name)) for v in views if not v.in_notebook],
        summary=summarize(rows),
        invalid_cells=_invalid_cells(nb),
    )


def plan_state(sidecars: Sidecars, nb: NotebookRef) -> PlanResponse:
    """What the next run of the notebook does with each step (nothing is loaded or run)."""
    read_notebook(nb.file)  # not a notebook: 400 with the reason, not an empty plan
    with sidecars.reading(nb.sidecar) as entry:
        if entry is None:
            plan = plan_notebook(nb.file, None)
        else:
            with entry.store.snapshot() as store:
                plan = plan_notebook(nb.file, store)
    steps = [PlanStep(**s.as_json()) for s in plan.steps]
    return PlanResponse(notebook=nb.api_path, steps=steps)


def runs_list(sidecars: Sidecars, nb: NotebookRef) -> RunsResponse:
    with sidecars.reading(nb.sidecar) as entry:
        if entry is None:
            return RunsResponse(path=nb.api_path, runs=[])
        with entry.store.snapshot() as store:
            runs = store.runs()
    return RunsResponse(path=nb.api_path, runs=[RunInfo(**r.model_dump()) for r in runs])


def timeline_of(sidecars: Sidecars, nb: NotebookRef, runs: int) -> Timeline:
    """The last `runs` runs as bars on a time axis; none before a step ran."""
    with sidecars.reading(nb.sidecar) as entry:
        if entry is None:
            return Timeline(runs=[])
        with entry.store.snapshot() as store:
            return timeline(store, runs)


def events_page(
    sidecars: Sidecars, nb: NotebookRef, after: int, limit: int, step: str | None
) -> EventsResponse:
    with sidecars.reading(nb.sidecar) as entry:
        if entry is None:
            return EventsResponse(path=nb.api_path, events=[], next_after=after, has_more=False)
        with entry.store.snapshot() as store:
            events = store.events(step=step, after=after, limit=limit + 1)
    page = events[:limit]
    return EventsResponse(
        path=nb.api_path,
        events=[EventInfo(**e.model_dump()) for e in page],
        next_after=page[-1].id if page else after,
        has_more=len(events) > limit,
    )


def step_detail(sidecars: Sidecars, nb: NotebookRef, name: str) -> StepDetail:
    with sidecars.reading(nb.sidecar) as entry:
        if entry is None:
            row = next((r for r in _pending_rows(nb) if r.name == name), None)
            if row is None:
                raise UnknownStep(f"unknown step {name!r} in {nb.api_path}")
            return StepDetail(
                path=nb.api_path,
                step=row,
                traceback=None,
                code=None,
                checkpoint=None,
                variables=[],
                outputs=[],
                attempts=[],
            )
        with entry.store.snapshot() as store:
            view = next((v for v in step_views(store, nb.file) if v.name == name), None)
            if view is None:
                raise UnknownStep(f"unknown step {name!r} in {nb.api_path}")
            approval = _approvals(store, [view]).get(name)
            step = store.step(name)
            ckpt = store.checkpoint(step.checkpoint_id) if step and step.checkpoint_id else None
            variables = store.variables(ckpt.id) if ckpt else []
            attempts = store.attempts(name)[-ATTEMPTS_SHOWN:] if step else []
    return StepDetail(
        path=nb.api_path,
        step=_row(view, approval),
        traceback=step.traceback if step else None,
        code=step.code if step else None,
        checkpoint=CheckpointInfo(
            id=ckpt.id,
            created_at=ckpt.created_at,
            duration=ckpt.duration,
            size=ckpt.size,
            inputs=sorted(ckpt.inputs),
        )
        if ckpt
        else None,
        variables=[
            VariableInfo(
                name=v.name,
                type_name=v.type_name,
                size=v.size,
                serializer=v.serializer,
                saved=v.saved,
                error=v.error,
            )
            for v in variables
        ],
        outputs=[summarize_output(o) for o in (ckpt.outputs if ckpt else [])],
        attempts=[
            AttemptInfo(
                number=a.number,
                run_id=a.run_id,
                status=a.status,
                started_at=a.started_at,
                ended_at=a.ended_at,
                error=a.error,
            )
            for a in attempts
        ],
    )


def summarize_output(output: dict[str, Any]) -> OutputInfo:
    """One line per captured output: what kind, and a short preview of its text."""
    kind = str(output.get("output_type", "unknown"))
    if kind == "stream":
        text = _text(output.get("text"))
        summary = f"{output.get('name', 'stdout')}: {_preview(text)}"
    elif kind == "error":
        summary = f"{output.get('ename', 'Error')}: {_preview(str(output.get('evalue', '')))}"
    else:
        data = output.get("data") or {}
        mimes = ", ".join(sorted(data)) if isinstance(data, dict) else ""
        plain = _text(data.get("text/plain")) if isinstance(data, dict) else ""
        summary = f"{mimes}: {_preview(plain)}" if plain else mimes
    return OutputInfo(output_type=kind, summary=summary)


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "".join(str(v) for v in value)
    return "" if value is None else str(value)


def _preview(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= PREVIEW_CHARS else flat[: PREVIEW_CHARS - 1] + "…"


def reset_step(nb: NotebookRef, name: str, busy_timeout_ms: int) -> ResetResponse:
    """Drop the step's checkpoints (the one write the server makes)."""
    if not store_exists(nb.sidecar, nb.file):
        raise NotFound(f"{nb.api_path} has no sidecar yet: no step has run, nothing to reset")
    with _writable(nb, busy_timeout_ms) as store:
        done = store.reset([name])
    return ResetResponse(path=nb.api_path, reset=done)


def approve_step(
    nb: NotebookRef, name: str, approve: bool, by: str, note: str | None, busy_timeout_ms: int
) -> ApproveResponse:
    """Approve or reject a step waiting at its gate (the other write the server makes)."""
    if not store_exists(nb.sidecar, nb.file):
        raise NotFound(f"{nb.api_path} has no sidecar yet: no step has run, none awaits approval")
    with _writable(nb, busy_timeout_ms) as store:
        decision = store.decide(name, approve, by, note)
    return ApproveResponse(path=nb.api_path, name=name, approval=_approval_info(decision))


@contextlib.contextmanager
def _writable(nb: NotebookRef, busy_timeout_ms: int) -> Iterator[Store]:
    """A short-lived writable store; unknown steps are named with the notebook's path.

    The sidecar is checked again right before SQLite opens it, and once more after: the
    same directory and files, still confined. A link swapped in since the request was
    checked is refused before anything is written (SQLite opens by path, so what it opened
    is known only by comparing identities before and after)."""
    shared = is_shared()  # a shared store: no file beside the notebook to confine
    before = () if shared else _confined(nb)
    store = open_store(nb.sidecar, notebook=nb.file, busy_timeout_ms=busy_timeout_ms)
    try:
        if not shared and not _same_files(before, _confined(nb)):
            raise UnsafeSidecar(f"the sidecar of {nb.api_path!r} changed while it was opened")
        yield store
    except UnknownStep as exc:
        raise UnknownStep(f"{exc} in {nb.api_path}") from None
    finally:
        store.close()


def _confined(nb: NotebookRef) -> Identity:
    real, identity = confine_sidecar(nb.root, nb.sidecar, nb.api_path)
    if real != nb.sidecar:
        raise UnsafeSidecar(f"the sidecar of {nb.api_path!r} moved since the request was checked")
    return identity


def _same_files(before: Identity, after: Identity) -> bool:
    """The directory and the database are the ones checked. The WAL and shared-memory files
    may be deleted by another process's last close and created again by ours: for them,
    being regular files (which confine_sidecar checked) is what matters."""
    now = {name: rest for name, *rest in after}
    return all(now.get(name) == rest for name, *rest in before if name in (".", DB_NAME))
