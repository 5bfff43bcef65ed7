"""The timeline of the last runs: each step a bar on a time axis, coloured by outcome.

Built from the store's run history (store/history.py): attempts give the bars of steps that
ran, failed or were retried; `cached` and `resumed` events the steps restored from their
checkpoints; lease waits, durable waits and approval gates the `waiting` bars. The JSON
shape is the contract of GET /mirrorneuron/api/timeline, which the panel draws."""

from __future__ import annotations

from collections import defaultdict
from typing import Literal

from pydantic import BaseModel, ConfigDict

from .models import Approval, Attempt, Event, Run, StepStatus
from .render import format_elapsed
from .store import Store
from .store.history import RunHistory

Outcome = Literal["ran", "restored", "failed", "retried", "waiting", "running", "checkpointing"]

DEFAULT_RUNS = 3
MAX_RUNS = 50

# How an attempt's stored status reads on the time axis (a failed attempt that another
# attempt of the same run followed is `retried`, decided below).
_ATTEMPT_OUTCOMES: dict[str, Outcome] = {
    StepStatus.succeeded.value: "ran",
    StepStatus.failed.value: "failed",
    StepStatus.interrupted.value: "failed",
    StepStatus.running.value: "running",
    StepStatus.sleeping.value: "waiting",
    "checkpointing": "checkpointing",
}


class TimelineModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Bar(TimelineModel):
    step: str
    outcome: Outcome
    start: float
    end: float | None
    attempt: int | None
    detail: str


class RunTimeline(TimelineModel):
    run_id: str
    kind: str
    status: str
    started_at: float
    ended_at: float | None
    restored: int
    saved_seconds: float
    bars: list[Bar]

    def saved_text(self) -> str:
        """ "restored 4 steps: saved 3 min 12 s", or "" when nothing was restored."""
        if not self.restored:
            return ""
        steps = "step" if self.restored == 1 else "steps"
        return f"restored {self.restored} {steps}: saved {format_elapsed(self.saved_seconds)}"


class Timeline(TimelineModel):
    runs: list[RunTimeline]


def timeline(store: Store, runs: int = DEFAULT_RUNS) -> Timeline:
    """The last `runs` runs of the sidecar, newest first (1 to MAX_RUNS)."""
    history = store.run_history(max(1, min(runs, MAX_RUNS)))
    return build(history)


def build(history: RunHistory) -> Timeline:
    attempts: dict[str, list[Attempt]] = defaultdict(list)
    for a in history.attempts:
        attempts[a.run_id].append(a)
    events: dict[str, list[Event]] = defaultdict(list)
    for e in history.events:
        if e.run_id is not None:
            events[e.run_id].append(e)
    approvals: dict[str, list[Approval]] = defaultdict(list)
    for ap in history.approvals:
        if ap.run_id is not None:
            approvals[ap.run_id].append(ap)
    return Timeline(
        runs=[
            _run(r, attempts[r.id], events[r.id], approvals[r.id], history.durations)
            for r in history.runs
        ]
    )


def _run(
    run: Run,
    attempts: list[Attempt],
    events: list[Event],
    approvals: list[Approval],
    durations: dict[int, float],
) -> RunTimeline:
    bars = _attempt_bars(attempts)
    restored, saved = _restored_bars(events, durations)
    bars += restored
    bars += _wait_bars(events, run.ended_at)
    bars += [_gate_bar(a, run.ended_at) for a in approvals]
    bars.sort(key=lambda b: (b.start, b.step))
    return RunTimeline(
        run_id=run.id,
        kind=run.kind,
        status=run.status,
        started_at=run.started_at,
        ended_at=run.ended_at,
        restored=len(restored),
        saved_seconds=saved,
        bars=bars,
    )


def _attempt_bars(attempts: list[Attempt]) -> list[Bar]:
    last = {a.step: a.id for a in attempts}  # attempts come oldest first
    bars = []
    for a in attempts:
        outcome = _ATTEMPT_OUTCOMES.get(a.status, "failed")
        if outcome == "failed" and a.id != last[a.step]:
            outcome = "retried"
        bars.append(
            Bar(
                step=a.step,
                outcome=outcome,
                start=a.started_at,
                end=a.ended_at,
                attempt=a.number,
                detail=_attempt_detail(a, outcome),
            )
        )
    return bars


def _attempt_detail(a: Attempt, outcome: Outcome) -> str:
    if a.status == StepStatus.interrupted.value:
        return "interrupted: the process running it died"
    if a.status == StepStatus.sleeping.value:
        return "parked at a wait: the next run continues it"
    if outcome in ("failed", "retried"):
        return a.error or a.status
    return outcome


def _restored_bars(events: list[Event], durations: dict[int, float]) -> tuple[list[Bar], float]:
    """One bar per step restored from its checkpoint (a cache hit, or a %mn_resume)."""
    bars: list[Bar] = []
    seen: set[str] = set()
    saved = 0.0
    for e in events:
        if e.kind == "cached" and e.step is not None:
            found = [(e.step, e.detail.get("checkpoint"))]
        elif e.kind == "resumed" and isinstance(e.detail.get("checkpoints"), dict):
            found = list(e.detail["checkpoints"].items())
        else:
            continue
        for step, checkpoint in found:
            if not isinstance(step, str) or step in seen:
                continue
            seen.add(step)
            took = durations.get(checkpoint) if isinstance(checkpoint, int) else None
            saved += took or 0.0
            how = "restored by %mn_resume" if e.kind == "resumed" else "restored from checkpoint"
            detail = how if took is None else f"{how} (it ran {format_elapsed(took)})"
            bars.append(
                Bar(
                    step=step, outcome="restored", start=e.ts, end=e.ts, attempt=None, detail=detail
                )
            )
    return bars, saved


# Event kinds that open a wait, and those that close it (per step).
_OPENS = {"waiting": "waiting for the run that holds this step", "sleeping": "sleeping"}
_CLOSES = {"waiting": ("stopped_waiting", "claimed"), "sleeping": ("woke",)}


def _wait_bars(events: list[Event], run_end: float | None) -> list[Bar]:
    bars: list[Bar] = []
    open_: dict[tuple[str, str], tuple[float, str]] = {}
    for e in events:
        if e.step is None:
            continue
        if e.kind in _OPENS and not (e.kind == "sleeping" and e.detail.get("parked")):
            what = e.detail.get("what")
            label = _OPENS[e.kind] + (f": {what}" if isinstance(what, str) and what else "")
            open_.setdefault((e.kind, e.step), (e.ts, label))
            continue
        for kind, closers in _CLOSES.items():
            if e.kind in closers and (kind, e.step) in open_:
                start, label = open_.pop((kind, e.step))
                bars.append(_waiting(e.step, start, e.ts, label))
    bars += [_waiting(step, start, run_end, label) for (_, step), (start, label) in open_.items()]
    return bars


def _gate_bar(a: Approval, run_end: float | None) -> Bar:
    """An approval gate waits from the request to the decision, or to the run's end (a
    batch run stops at its gate; the decision comes later)."""
    end = a.decided_at
    if run_end is not None and (end is None or end > run_end):
        end = run_end
    return _waiting(a.step, a.requested_at, end, f"awaiting approval: {a.question}")


def _waiting(step: str, start: float, end: float | None, detail: str) -> Bar:
    return Bar(step=step, outcome="waiting", start=start, end=end, attempt=None, detail=detail)
