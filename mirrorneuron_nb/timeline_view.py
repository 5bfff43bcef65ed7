"""A run's timeline drawn for a cell's output: CSS bars on a time axis, one row per step,
coloured by outcome, under "restored N steps: saved X"; and the same as text for terminals
and papermill output notebooks. Everything from the sidecar is escaped."""

from __future__ import annotations

import time

from .render import clip, format_duration, html_safe, terminal_safe
from .timeline import Bar, Outcome, RunTimeline, Timeline

COLOURS: dict[Outcome, str] = {
    "ran": "#16a34a",
    "restored": "#0891b2",
    "failed": "#dc2626",
    "retried": "#f97316",
    "waiting": "#ca8a04",
    "running": "#2563eb",
    "checkpointing": "#7c3aed",
}
MARKS: dict[Outcome, str] = {
    "ran": "=",
    "restored": "*",
    "failed": "X",
    "retried": "r",
    "waiting": ".",
    "running": ">",
    "checkpointing": "+",
}
TRACK = 40  # characters of the text time axis
NAME = 16  # characters of a step name in the text view
NO_RUNS = "no runs yet: run a %%mn_step cell first"

_BOX = (
    "max-width:700px;font-family:var(--jp-ui-font-family,system-ui,sans-serif);"
    "font-size:12px;line-height:1.5;margin:2px 0 8px"
)
_CUT = "white-space:nowrap;overflow:hidden;text-overflow:ellipsis"


def _span(run: RunTimeline, now: float) -> tuple[float, float]:
    """The time axis: from the first bar's start to the last bar's end (or now)."""
    starts = [b.start for b in run.bars] or [run.started_at]
    ends = [b.end if b.end is not None else now for b in run.bars] or [run.ended_at or now]
    first = min(starts)
    return first, max(max(ends), first)


def _rows(run: RunTimeline) -> list[tuple[str, list[Bar]]]:
    """One row per step, in the order the steps first appear."""
    rows: dict[str, list[Bar]] = {}
    for bar in run.bars:
        rows.setdefault(bar.step, []).append(bar)
    return list(rows.items())


def _took(bars: list[Bar], now: float) -> float:
    return sum((b.end if b.end is not None else now) - b.start for b in bars)


def _heading(run: RunTimeline, first: float, last: float) -> str:
    parts = [f"run {run.run_id[:8]} ({run.kind}, {run.status})", format_duration(last - first)]
    if run.saved_text():
        parts.append(run.saved_text())
    return "; ".join(parts)


def timeline_plain(timeline: Timeline, now: float | None = None) -> str:
    if not timeline.runs:
        return NO_RUNS
    now = time.time() if now is None else now
    return "\n\n".join(_run_plain(run, now) for run in timeline.runs)


def _run_plain(run: RunTimeline, now: float) -> str:
    first, last = _span(run, now)
    scale = TRACK / (last - first) if last > first else 0.0
    lines = [terminal_safe(_heading(run, first, last))]
    for step, bars in _rows(run):
        track = [" "] * TRACK
        for bar in bars:
            end = bar.end if bar.end is not None else now
            lo = min(int((bar.start - first) * scale), TRACK - 1)
            hi = max(lo + 1, min(int((end - first) * scale + 0.5), TRACK))
            track[lo:hi] = MARKS[bar.outcome] * (hi - lo)
        outcome = bars[-1].outcome
        lines.append(
            f"{terminal_safe(clip(step, NAME)):<{NAME}} |{''.join(track)}| "
            f"{outcome:<9} {format_duration(_took(bars, now)):>8}"
        )
    lines.append("  ".join(f"{m} {o}" for o, m in MARKS.items()))
    return "\n".join(lines)


def timeline_html(timeline: Timeline, now: float | None = None) -> str:
    if not timeline.runs:
        return f'<div style="{_BOX}">{html_safe(NO_RUNS)}</div>'
    now = time.time() if now is None else now
    legend = " ".join(
        f'<span style="white-space:nowrap;margin-right:8px"><span style="display:inline-block;'
        f'width:9px;height:9px;border-radius:2px;background:{c}"></span> {o}</span>'
        for o, c in COLOURS.items()
    )
    runs = "".join(_run_html(run, now) for run in timeline.runs)
    return (
        f'<div class="mn-timeline" style="{_BOX}">{runs}'
        f'<div style="opacity:0.75;font-size:11px">{legend}</div></div>'
    )


def _run_html(run: RunTimeline, now: float) -> str:
    first, last = _span(run, now)
    width = last - first
    rows = []
    for step, bars in _rows(run):
        marks = "".join(_bar_html(b, first, width, now) for b in bars)
        rows.append(
            f'<div style="{_CUT}" title="{html_safe(step)}">{html_safe(step)}</div>'
            '<div style="position:relative;height:12px;border-radius:2px;overflow:hidden;'
            f'background:rgba(128,128,128,0.15)">{marks}</div>'
            f'<div style="text-align:right;{_CUT}">{format_duration(_took(bars, now))}</div>'
        )
    saved = run.saved_text()
    head = html_safe(f"run {run.run_id[:8]} · {run.kind} · {run.status} · ")
    head += html_safe(format_duration(width))
    if saved:
        head += f" · <b>{html_safe(saved)}</b>"
    return (
        f'<div style="{_CUT}" title="{html_safe(run.run_id)}">{head}</div>'
        '<div style="display:grid;grid-template-columns:minmax(60px,140px) 1fr 64px;'
        f'gap:2px 8px;align-items:center;margin:2px 0 6px">{"".join(rows)}</div>'
    )


def _bar_html(bar: Bar, first: float, width: float, now: float) -> str:
    end = bar.end if bar.end is not None else now
    left = (bar.start - first) / width * 100 if width > 0 else 0.0
    size = (end - bar.start) / width * 100 if width > 0 else 100.0
    left = min(max(left, 0.0), 100.0)
    size = min(max(size, 0.0), 100.0 - left)
    attempt = f" (attempt {bar.attempt})" if bar.attempt else ""
    tip = f"{bar.step}: {bar.outcome}{attempt}, {format_duration(end - bar.start)}; {bar.detail}"
    return (
        f'<div title="{html_safe(tip)}" style="position:absolute;top:0;bottom:0;'
        f"left:{left:.2f}%;width:{size:.2f}%;min-width:3px;border-radius:2px;"
        f'background:{COLOURS[bar.outcome]}"></div>'
    )
