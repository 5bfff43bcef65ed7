"""Rebuild a namespace from checkpoints, in notebook order, and say what came back."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

from ..errors import CheckpointUnavailable, UnknownStep
from ..models import STATE_VARIABLE, VarEntry, takes_over
from ..render import describe, format_bytes, format_duration, table
from ..store import Store
from ..values.codec import DELETED
from ..values.libstate import reapply
from ..values.restore import load_into
from ..values.signing import TRUST_HINT, Binding, check_key, checkpoint_untrusted
from .lazy import Verification, track
from .loader import BackgroundLoad, in_background


@dataclass(frozen=True)
class Restored:
    name: str
    step: str
    summary: str
    size: int


@dataclass(frozen=True)
class Missing:
    name: str
    step: str
    reason: str


@dataclass
class ResumeReport:
    restored: list[Restored] = field(default_factory=list)
    missing: list[Missing] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    earlier: list[tuple[str, str]] = field(default_factory=list)
    """Steps whose last run did not succeed, restored from their last good checkpoint."""
    state: list[tuple[str, str]] = field(default_factory=list)
    """(step, what) for each step whose library-state changes were re-applied."""
    state_failures: list[tuple[str, str]] = field(default_factory=list)
    """(step, why) for library state that could not be re-applied."""
    seconds: float = 0.0
    groups: list[dict[str, Any]] = field(default_factory=list)
    """The values restored, by the group they were saved in (the sharing index's)."""
    checking: list[str] = field(default_factory=list)
    """Names bound over mapped blobs whose hash a background thread is checking."""
    loading: list[str] = field(default_factory=list)
    """Names whose (verified) pickles a background thread is unpickling, bound later."""

    def render(self) -> str:
        if not self.steps and not self.skipped:
            return "mn_resume: nothing to restore (no step has succeeded yet)"
        total = sum(r.size for r in self.restored)
        lines = [
            f"mn_resume: restored {len(self.restored)} variable(s) from {len(self.steps)} "
            f"step(s) in {format_duration(self.seconds)} ({format_bytes(total)})"
        ]
        if self.restored:
            rows = [[r.name, r.summary, format_bytes(r.size), r.step] for r in self.restored]
            lines.append(table(["name", "type", "size", "step"], rows))
        if self.loading:
            lines.append(
                f"loading {', '.join(self.loading)} in the background;"
                " a cell that uses one waits for it"
            )
        if self.checking:
            lines.append(
                f"checking the blobs of {len(self.checking)} variable(s) in the background;"
                " a cell that reads one waits for its check"
            )
        if self.missing:
            lines.append("not restored:")
            for m in self.missing:
                lines.append(f"  {m.name} (step {m.step}): {m.reason} -> re-run step {m.step!r}")
        if self.state:
            applied = "; ".join(f"{step}: {what}" for step, what in self.state)
            lines.append(f"library state re-applied ({applied})")
        for step, why in self.state_failures:
            lines.append(
                f"library state of step {step!r} not re-applied: {why} -> re-run step {step!r}"
            )
        for step, status in self.earlier:
            lines.append(
                f"step {step!r}: its last run is {status}; restored its last good checkpoint"
            )
        for step, why in self.skipped:
            lines.append(f"step {step!r} not restored: {why}")
        return "\n".join(lines)


def resume(store: Store, namespace: dict[str, Any], to: str | None = None) -> ResumeReport:
    check_key()  # an unusable signing key stops here, before anything is bound
    began = time.perf_counter()
    report = ResumeReport()
    sidecar = store.sidecar_id()
    steps = store.steps()
    names = [s.name for s in steps]
    if to is not None:
        if to not in names:
            raise UnknownStep(
                f"--to names unknown step {to!r}; known: {', '.join(names) or 'none'}"
            )
        steps = steps[: names.index(to) + 1]
    variables = store.current_variables()
    library_states = store.current_library_states()
    # Later steps override earlier ones: decide the final owner of each name first,
    # so a value that a later step replaced is never loaded at all.
    final: dict[str, tuple[str, VarEntry]] = {}
    held: dict[str, tuple[VarEntry, int]] = {}
    states: list[tuple[str, VarEntry]] = []
    for s in steps:
        if s.checkpoint_id is None:
            if not s.status.good:
                report.skipped.append((s.name, f"its last run is {s.status.value}"))
            continue
        if not s.status.good:
            # A re-run failed or was cut short: its last good checkpoint is still whole.
            report.earlier.append((s.name, s.status.value))
        report.steps.append(s.name)
        rows = variables.get(s.name, [])
        state = library_states.get(s.name)
        if not _vouched(store, sidecar, s.name, s.checkpoint_id, rows, state):
            # Each value is checked by its own signature when loaded; a row without one
            # (a deletion) counts only when its checkpoint's signature vouches for it.
            rows = [v for v in rows if v.serializer != DELETED]
        for var in rows:
            if takes_over(var, s.checkpoint_id, held.get(var.name)):
                final[var.name] = (s.name, var)
                held[var.name] = (var, s.checkpoint_id)
        if state is not None:
            states.append((s.name, state))
    # Large buffers are mapped and bound now, hashed by a thread (kernel/lazy.py); big
    # pickles are verified now and unpickled by another (kernel/loader.py).
    verification = Verification()
    background = BackgroundLoad(store.blobs, namespace)
    later = in_background(var for _, var in final.values())
    for var in sorted((v for _, v in final.values() if v.name in later), key=lambda v: v.name):
        step = final[var.name][0]
        try:
            background.add(var, Binding(sidecar, step, var.name), step)
        except CheckpointUnavailable as exc:
            report.missing.append(Missing(var.name, step, with_notebook(exc.reason, store)))
        else:
            report.restored.append(Restored(var.name, step, f"{var.type_name} (loading)", var.size))
            report.loading.append(var.name)
    result = load_into(
        namespace,
        [var for _, var in final.values() if var.name not in later],
        store.blobs,
        lambda v: Binding(sidecar, final[v.name][0], v.name),
        all_or_nothing=False,
        defer=verification.add,
    )
    verification.uses(
        {
            name: (final[name][0], value, [k for k, _ in final[name][1].buffers])
            for name, value in result.loaded.items()
        }
    )
    track(verification, background)  # started by lazy.start(), once reported
    report.checking = verification.names()
    report.groups = result.groups
    for m in result.missing:
        reason = m.reason if m.error is None else with_notebook(m.reason, store)
        report.missing.append(Missing(m.name, final[m.name][0], reason))
    for name, value in result.loaded.items():
        step, var = final[name]
        report.restored.append(Restored(name, step, describe(value), var.size))
    # Library state after the values, in notebook order: a later step's settings win.
    for step, state in states:
        applied, failures = reapply(
            store.blobs, state, namespace, Binding(sidecar, step, STATE_VARIABLE)
        )
        if applied:
            report.state.append((step, applied))
        report.state_failures.extend((step, f) for f in failures)
    report.restored.sort(key=lambda r: (report.steps.index(r.step), r.name))
    report.seconds = time.perf_counter() - began
    return report


def _vouched(
    store: Store,
    sidecar: str,
    step: str,
    checkpoint_id: int,
    rows: list[VarEntry],
    state: VarEntry | None,
) -> bool:
    """Whether the checkpoint's own signature covers exactly these rows."""
    checkpoint = store.checkpoint(checkpoint_id)
    if checkpoint is None:
        return False
    covered = rows if state is None else [*rows, state]
    why = checkpoint_untrusted(
        checkpoint.signature,
        sidecar,
        step,
        checkpoint.cache_key,
        checkpoint.code_hash,
        checkpoint.outputs,
        covered,
    )
    return why is None


def with_notebook(reason: str, store: Store) -> str:
    """Put the notebook's path into the `mn-nb trust NOTEBOOK` hint when the sidecar is
    the `NAME.mn` beside it."""
    notebook = store.root.with_suffix(".ipynb")
    if TRUST_HINT not in reason or store.root.suffix != ".mn" or not notebook.is_file():
        return reason
    relative = os.path.relpath(notebook)
    shown = notebook if relative.startswith("..") else relative
    return reason.replace(TRUST_HINT, TRUST_HINT.replace("NOTEBOOK", str(shown)))
