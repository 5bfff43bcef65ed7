"""What the next run of a notebook will do, step by step, before anything runs.

One function (`plan_notebook`) for `mn-nb plan`, the server's plan endpoint and the panel.
It reads the saved notebook and the sidecar's rows (read-only, through status.py's views,
which already derive staleness): it never unpickles a value and never starts a kernel.
It follows the runner's order for each step (kernel/runner.py): a rejected step upstream,
then --once, --force and always-running bodies, then the cache key's parts (code, inputs),
then the approval gate. What it cannot know (values set by plain cells or batch
parameters) it says as "may run", never as a guess.
"""

from __future__ import annotations

import ast
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .models import Step, StepStatus
from .notebook import NAME_RE, StepCell, step_cells
from .render import table
from .status import StepView, step_views
from .store import Store

Action = Literal["restore", "run", "approval", "sleep", "blocked"]

ALWAYS = "always runs: "
"""How status.py words the note of a body the analysis cannot see into."""
SLEEPING = "sleeping"
"""The sleep scope's StepStatus value (compared by value: works before and after it lands)."""
LIVE = (StepStatus.running, StepStatus.checkpointing, StepStatus.retrying)


@dataclass(frozen=True)
class PlannedStep:
    name: str
    position: int
    action: Action
    reason: str
    """For `run`: new, code changed, input changed, forced, failed last time, interrupted,
    always runs, approved, running now; for the other actions a short word."""
    detail: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "position": self.position,
            "action": self.action,
            "reason": self.reason,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Plan:
    notebook: Path
    steps: tuple[PlannedStep, ...]

    def as_json(self, notebook: str | None = None) -> dict[str, Any]:
        return {
            "notebook": notebook if notebook is not None else str(self.notebook),
            "steps": [s.as_json() for s in self.steps],
        }


@dataclass
class _Upstream:
    """What the steps above the one being planned will do, as far as it matters below."""

    writes: dict[str, str]
    """Variable name -> the latest step above that runs and (may) write it."""
    runs: set[str]
    unknown: str | None = None
    """The first step above that runs and whose writes cannot be read from its code."""
    rejected: str | None = None
    gate: str | None = None
    """The first step above that stops the run at its approval gate."""


def plan_notebook(notebook: Path, store: Store | None) -> Plan:
    """Every step cell of `notebook`, in order, with what the next run does with it.

    `store` is the sidecar opened read-only (None: no step ran yet)."""
    cells = _valid_cells(step_cells(notebook))
    views = {v.name: v for v in step_views(store, notebook)} if store is not None else {}
    records = {s.name: s for s in store.steps()} if store is not None else {}
    variables = store.current_variables() if store is not None else {}
    produced = {var.name for entries in variables.values() for var in entries}
    upstream = _Upstream(writes={}, runs=set())
    planned: list[PlannedStep] = []
    for cell in cells:
        known = _Known(views.get(cell.name), records.get(cell.name), store)
        step = _plan_step(cell, parse_step_line(cell.line), known, upstream, produced)
        if upstream.gate is not None and step.action in ("run", "approval", "sleep"):
            wait = f"after {upstream.gate!r} is approved"
            step = _with_detail(step, wait)
        planned.append(step)
        if step.action in ("run", "sleep"):
            upstream.runs.add(cell.name)
            parsed = _writes(cell.body)
            if parsed is None and cell.name not in variables:
                upstream.unknown = upstream.unknown or cell.name
            written = (parsed or frozenset()) | {v.name for v in variables.get(cell.name, [])}
            upstream.writes.update(dict.fromkeys(written, cell.name))
        if step.action == "approval" and upstream.gate is None:
            upstream.gate = cell.name
        if step.action == "blocked" and step.reason == "rejected":
            upstream.rejected = upstream.rejected or cell.name
    return Plan(notebook, tuple(planned))


def _valid_cells(cells: list[StepCell]) -> list[StepCell]:
    """The first cell of each valid name: an invalid name is refused by the magic, a
    duplicate fails when it runs (neither is a step)."""
    seen: set[str] = set()
    out: list[StepCell] = []
    for cell in cells:
        if NAME_RE.match(cell.name) and cell.name not in seen:
            seen.add(cell.name)
            out.append(cell)
    return out


@dataclass(frozen=True)
class _Known:
    """What the sidecar knows of one step: its view (derived status), its row, and the
    inputs its current checkpoint was keyed on (names and fingerprints, never values)."""

    view: StepView | None
    record: Step | None
    store: Store | None

    @property
    def status(self) -> str:
        return self.view.status.value if self.view is not None else StepStatus.pending.value

    @property
    def checkpointed(self) -> bool:
        return self.record is not None and self.record.checkpoint_id is not None

    def inputs(self) -> dict[str, str]:
        if self.store is None or self.record is None or self.record.checkpoint_id is None:
            return {}
        found = self.store.checkpoint(self.record.checkpoint_id)
        return dict(found.inputs) if found is not None else {}


def _plan_step(
    cell: StepCell, line: StepLine, known: _Known, upstream: _Upstream, produced: set[str]
) -> PlannedStep:
    def planned(action: Action, reason: str, detail: str | None = None) -> PlannedStep:
        return PlannedStep(cell.name, cell.position, action, reason, detail)

    view = known.view
    if upstream.rejected is not None:
        return planned("blocked", "rejected upstream", f"step {upstream.rejected!r} was rejected")
    if known.status == StepStatus.rejected.value:
        why = view.error if view is not None and view.error else "rejected"
        return planned("blocked", "rejected", f"step {cell.name!r} {why}")
    if line.error is not None:
        return planned("blocked", "invalid options", line.error)
    if known.status == SLEEPING:
        return planned("sleep", "sleeping", _wake(view))
    if line.once and known.checkpointed:
        if line.force:
            return planned(
                "blocked", "once", "--once already succeeded: --force does not run it again"
            )
        return planned("restore", "once", "--once: succeeded, never runs again until reset")
    if line.once and known.status == StepStatus.interrupted.value and not line.force:
        return planned(
            "blocked",
            "interrupted",
            "--once step was interrupted: check its side effect, then run it with --force",
        )
    action, reason, detail = _run_or_restore(cell, line, known, upstream, produced)
    if action == "run" and line.approve is not None:
        return _gate(cell, line.approve, view, reason)
    return planned(action, reason, detail)


def _run_or_restore(
    cell: StepCell, line: StepLine, known: _Known, upstream: _Upstream, produced: set[str]
) -> tuple[Action, str, str | None]:
    """The cache key's verdict: the step runs (and why) or is restored."""
    view = known.view
    if view is not None and view.status in LIVE:
        return "run", "running now", "running elsewhere now: the next run may restore its result"
    if line.force:
        return "run", "forced", "--force"
    opaque = _opaque(view)
    if opaque:
        return "run", "always runs", opaque
    if view is not None and view.status is StepStatus.failed:
        return "run", "failed last time", view.error
    if view is not None and view.status is StepStatus.interrupted:
        return "run", "interrupted", None
    if view is None or not known.checkpointed:
        return "run", "new", None
    if view.stale_reason is not None:
        if view.stale_reason.startswith("code changed"):
            return "run", "code changed", None
        return "run", "input changed", view.stale_reason
    inputs = known.inputs()
    changed = [n for n in inputs if n in upstream.writes]
    if changed:
        first = changed[0]
        return "run", "input changed", f"reads {first} from {upstream.writes[first]!r}, which runs"
    after = [a for a in line.after if a in upstream.runs]
    if after:
        return "run", "input changed", f"--after {after[0]!r}, which runs"
    if view.note is not None:
        return "run", "input changed", view.note
    outside = [n for n, fp in inputs.items() if n not in produced and not fp.startswith("module:")]
    if outside:
        return (
            "restore",
            "unchanged",
            f"may run if {', '.join(outside)} changed (set outside steps)",
        )
    return "restore", "unchanged", None


def _gate(cell: StepCell, question: str, view: StepView | None, reason: str) -> PlannedStep:
    """A step that runs passes its --approve gate only once someone approved it."""
    if view is not None and view.status is StepStatus.approved:
        by = f"approved by {view.decided_by}" if view.decided_by else "approved"
        return PlannedStep(cell.name, cell.position, "run", "approved", by)
    waiting = view is not None and view.status is StepStatus.awaiting_approval
    return PlannedStep(
        cell.name,
        cell.position,
        "approval",
        "awaiting approval" if waiting else reason,
        f"asks: {question}",
    )


def _opaque(view: StepView | None) -> str | None:
    """Why the body always runs (a magic or call the analysis could not see into), as its
    last run recorded it: a body whose code changed since runs anyway."""
    if view is not None and view.note is not None and view.note.startswith(ALWAYS):
        return view.note.removeprefix(ALWAYS)
    return None


def _writes(body: str) -> frozenset[str] | None:
    """Global names the body binds, by Python's own parser (IPython stays out of the
    server): None when the body is not plain Python (magics, `!cmd`), so unknown."""
    try:
        tree = ast.parse(body)
    except (SyntaxError, ValueError, RecursionError):
        return None
    names: set[str] = set()
    pending: list[ast.AST] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            continue  # their bodies bind local names
        if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp)):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        pending.extend(ast.iter_child_nodes(node))
    return frozenset(names)


def _wake(view: StepView | None) -> str | None:
    import time

    wake_at = getattr(view, "wake_at", None)
    if not isinstance(wake_at, (int, float)):
        return None
    return f"until {time.strftime('%H:%M', time.localtime(wake_at))}"


def _with_detail(step: PlannedStep, more: str) -> PlannedStep:
    detail = f"{step.detail}; {more}" if step.detail else more
    return PlannedStep(step.name, step.position, step.action, step.reason, detail)


# -- the %%mn_step line --------------------------------------------------------------------


@dataclass(frozen=True)
class StepLine:
    """The options of a `%%mn_step` line that decide what a run does (the others, such as
    --retries or --kind, change how it runs, not whether)."""

    force: bool = False
    once: bool = False
    approve: str | None = None
    after: tuple[str, ...] = ()
    error: str | None = None
    """Why the magic will refuse the line (the step then does not run)."""


_FLAGS = ("--force", "--once")
_VALUED = ("--approve", "--after")


def parse_step_line(line: str) -> StepLine:
    """Read the options as the magic's parser does (shell-like words, one pair of quotes
    dropped), tolerating the options that do not change whether a step runs."""
    try:
        tokens = shlex.split(line)[1:]
    except ValueError as exc:
        return StepLine(error=f"the %%mn_step line cannot be read: {exc}")
    found: dict[str, Any] = {}
    i = 0
    while i < len(tokens):
        option, eq, value = tokens[i].partition("=")
        if option in _FLAGS and not eq:
            found[option] = True
        elif option in _VALUED:
            if not eq:
                i += 1
                if i >= len(tokens) or tokens[i].startswith("--"):
                    return StepLine(error=f"{option} needs a value")
                value = tokens[i]
            found[option] = _unquote(value)
        i += 1
    after = str(found.get("--after") or "")
    return StepLine(
        force=bool(found.get("--force")),
        once=bool(found.get("--once")),
        approve=found.get("--approve"),
        after=tuple(n.strip() for n in after.split(",") if n.strip()),
    )


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


# -- text ---------------------------------------------------------------------------------


def plan_summary(plan: Plan) -> str:
    """E.g. "2 of 5 steps will run: fit (code changed), report (input changed)"."""
    steps = plan.steps
    if not steps:
        return "no steps yet: mark a cell with %%mn_step NAME"
    runs = [s for s in steps if s.action == "run"]
    listed = ", ".join(f"{s.name} ({s.reason})" for s in runs)
    text = f"{len(runs)} of {len(steps)} steps will run" + (f": {listed}" if listed else "")
    for action, label in (
        ("approval", "await approval"),
        ("sleep", "sleeping"),
        ("blocked", "blocked"),
    ):
        names = [s.name for s in steps if s.action == action]
        if names:
            text += f"; {len(names)} {label}: {', '.join(names)}"
    return text


def plan_table(plan: Plan) -> str:
    rows = [
        [s.name, s.action, s.reason + (f": {s.detail}" if s.detail else "")] for s in plan.steps
    ]
    return table(["step", "action", "why"], rows)
