"""Execute one step, as a pipeline: plan (cache key) -> gates -> cache hit -> attempts -> commit.

A cache hit restores the checkpoint's variables and replays its outputs instead of running.
"""

from __future__ import annotations

import json
import sys
import types
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidInput
from ..models import Checkpoint
from ..notebook import code_hash as notebook_code_hash
from ..notebook import validate_name
from ..render import format_bytes, format_duration, format_when
from ..store import StepStart
from ..values.digest import text_digest
from ..values.fingerprint import fingerprint
from ..values.restore import load_into
from . import gates
from .analysis import CellAnalysis, analyze
from .attempts import run_attempts, user_traceback
from .capture import replay
from .commit import StepResult, commit
from .policy import StepOptions, resolve_exceptions
from .session import KernelSession

__all__ = ["StepPlan", "StepResult", "run_step", "user_traceback"]


@dataclass(frozen=True)
class StepPlan:
    """What a step is keyed on and how it runs, settled before anything executes."""

    name: str
    options: StepOptions
    body: str
    """The cell as written: what is hashed and recorded."""
    code: str
    """The body after IPython's transforms (magics, `!cmd`): what runs."""
    analysis: CellAnalysis
    inputs: dict[str, str]
    """Fingerprints of the values the body reads, by name."""
    start: StepStart
    run_id: str
    retry_on: tuple[type, ...]

    @property
    def cache_key(self) -> str:
        return self.start.cache_key


def run_step(session: KernelSession, name: str, body: str, options: StepOptions) -> StepResult:
    """Run one `%%mn_step` cell, or serve it from a checkpoint with the same key."""
    __tracebackhide__ = True
    plan = _plan(session, name, body, options)
    gates.check_upstream(session.store, plan.start)
    hit = _cache_hit(session, plan)
    if hit is not None:
        return hit
    if options.approve is not None:
        gates.approval_gate(
            session.store,
            plan.run_id,
            plan.start,
            options.approve,
            session.batch,
            session.location.notebook,
        )
    before = {k: id(v) for k, v in session.shell.user_ns.items()}
    ran = run_attempts(session, plan)
    return commit(session, plan, ran, before)


def _plan(session: KernelSession, name: str, body: str, options: StepOptions) -> StepPlan:
    """Claim the name, start the run, fingerprint the inputs and derive the cache key."""
    __tracebackhide__ = True
    validate_name(name)
    ns: dict[str, Any] = session.shell.user_ns
    code = session.shell.transform_cell(body)
    analysis = analyze(code)
    # Validate everything the options name before anything is recorded: bad input
    # changes nothing.
    after = {a: _after_marker(session, a) for a in options.after}
    retry_on = resolve_exceptions(options.retry_on, ns)
    session.claim(name)
    run_id = session.ensure_run()

    reads = _input_names(session, analysis.reads, ns)
    inputs = {n: fingerprint(ns[n]) for n in sorted(reads)}
    code_hash = notebook_code_hash(body)
    cache_key = text_digest(
        name,
        code_hash,
        json.dumps(inputs, sort_keys=True),
        json.dumps(options.cache_dict(), sort_keys=True),
        json.dumps(after),
    )
    start = StepStart(
        name=name,
        cell_id=session.cell_id,
        code=body,
        code_hash=code_hash,
        cache_key=cache_key,
        options=options.as_dict(),
        position=session.notebook_positions().get(name),
    )
    return StepPlan(name, options, body, code, analysis, inputs, start, run_id, retry_on)


def _input_names(session: KernelSession, reads: frozenset[str], ns: dict[str, Any]) -> set[str]:
    """Reads that exist, plus the globals that notebook-defined functions among them use."""
    out: set[str] = set()
    pending = [n for n in reads if n in ns]
    while pending:
        name = pending.pop()
        if name in out or session.hidden(name):
            continue
        out.add(name)
        value = ns[name]
        if isinstance(value, types.FunctionType) and value.__module__ == "__main__":
            pending.extend(n for n in _code_globals(value.__code__) if n in ns)
            # A decorated function (@mn.durable, functools.wraps): the wrapped code's globals.
            wrapped = getattr(value, "__wrapped__", None)
            if isinstance(wrapped, types.FunctionType):
                pending.extend(n for n in _code_globals(wrapped.__code__) if n in ns)
    return out


def _code_globals(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_globals(const)
    return names


def _after_marker(session: KernelSession, step: str) -> int | None:
    validate_name(step)
    found = session.store.step(step)
    if found is None:
        raise InvalidInput(f"--after names unknown step {step!r}: run it first")
    return found.checkpoint_id


# -- cache hit ------------------------------------------------------------------------------


def _cache_hit(session: KernelSession, plan: StepPlan) -> StepResult | None:
    """The result served from a checkpoint, or None when the body has to run."""
    __tracebackhide__ = True
    store, options = session.store, plan.options
    previous = store.step(plan.name) if options.once else None
    if gates.once_gate(previous, options):
        assert previous is not None and previous.checkpoint_id is not None
        checkpoint = store.checkpoint(previous.checkpoint_id)
        hit = _serve_from_checkpoint(session, plan.start, checkpoint) if checkpoint else None
        if hit is None:
            raise InvalidInput(
                f"step {plan.name!r} is --once and already succeeded, but its checkpoint "
                f"cannot be restored; it is not run again (reset it to run it)"
            )
        return hit
    if options.force or session.force_all:
        return None
    found = store.find_checkpoint(plan.name, plan.cache_key)
    return None if found is None else _serve_from_checkpoint(session, plan.start, found)


def _serve_from_checkpoint(
    session: KernelSession, start: StepStart, checkpoint: Checkpoint
) -> StepResult | None:
    """Restore a checkpoint's variables and replay its outputs; None if it cannot be used."""
    store = session.store
    entries = store.variables(checkpoint.id)
    # All or nothing: after a failure the step runs, on the namespace exactly as it was.
    restored = load_into(session.shell.user_ns, entries, store.blobs, all_or_nothing=True)
    if restored.rolled_back is not None:
        print(
            f"mn_step {start.name}: checkpoint unusable ({restored.rolled_back}); "
            f"running the step instead",
            file=sys.stderr,
        )
        return None
    loaded = list(restored.loaded)
    store.record_cache_hit(session.ensure_run(), start, checkpoint, loaded)
    replay(checkpoint.outputs)
    unsaved = [(v.name, v.error or "") for v in entries if v.error is not None]
    banner = (
        f"mn_step {start.name}: restored from checkpoint of "
        f"{format_when(checkpoint.created_at)} (took {format_duration(checkpoint.duration)}"
        f" then; {len(loaded)} variable(s), {format_bytes(checkpoint.size)})"
    )
    print(banner, file=sys.stderr)
    for var_name, reason in unsaved:
        print(
            f"mn_step {start.name}: {var_name!r} is not in the checkpoint ({reason}); "
            f"use --force to run the step again",
            file=sys.stderr,
        )
    return StepResult(start.name, cached=True, saved=loaded, unsaved=unsaved)
