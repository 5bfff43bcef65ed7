"""A step's plan, settled before anything runs: what it reads, its cache key, its options.

Bad input (an unknown --after step, an unknown --retry-on class, a duplicate name) is
refused here, before anything is recorded.
"""

from __future__ import annotations

import json
import types
from dataclasses import dataclass, replace
from typing import Any

from ..errors import InvalidInput
from ..models import StepStart
from ..notebook import code_hash as notebook_code_hash
from ..notebook import validate_name
from ..values.codec import DELETED
from ..values.digest import text_digest
from .analysis import CellAnalysis, analyze
from .magic_effects import foreign
from .outputs import check_bindable
from .policy import StepOptions, resolve_exceptions
from .readonly import effects
from .session import KernelSession
from .tracebacks import cell_number


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
    always_runs: tuple[str, ...] = ()
    """Why what the body reads or writes cannot be known: it is never served from a checkpoint."""
    cell: int = 0
    """The cell's execution count (`In[N]` in tracebacks)."""
    reads_only: bool = False
    """Nothing in the body can write into a value (readonly.py): the fingerprints of its
    inputs taken before it still hold after it."""

    @property
    def cache_key(self) -> str:
        return self.start.cache_key


def make_plan(session: KernelSession, name: str, body: str, options: StepOptions) -> StepPlan:
    """Claim the name, start the run, fingerprint the inputs and derive the cache key."""
    __tracebackhide__ = True
    validate_name(name)
    ns: dict[str, Any] = session.shell.user_ns
    code = session.known.transform(body)
    analysis = analyze(code)
    always_runs = (*analysis.opaque, *foreign(session.shell, analysis.magics))
    # Validate everything the options name before anything is recorded: bad input
    # changes nothing.
    after = {a: _after_marker(session, a) for a in options.after}
    retry_on = resolve_exceptions(options.retry_on, ns)
    check_bindable(options.outputs, code, analysis, bool(always_runs), ns)
    session.claim(name)
    run_id = session.ensure_run()
    if always_runs:
        # What an opaque body binds is unknown, and rebinding a name to the very same
        # object (a small int) shows no change: what it wrote last time counts as written.
        analysis = replace(analysis, writes=analysis.writes | _last_written(session, name))

    reads = _input_names(session, analysis.reads, ns)
    inputs = {n: session.known.before_body(n, ns[n]) for n in sorted(reads)}
    session.known.body_starts()
    reads_only = not always_runs and effects(code).mutation(ns) is None
    code_hash = notebook_code_hash(body)
    cache_key = text_digest(
        name,
        code_hash,
        json.dumps(inputs, sort_keys=True) if inputs else "{}",  # (json.dumps is slow cold)
        options.cache_json,
        json.dumps(after) if after else "{}",
    )
    recorded = options.as_dict()
    if always_runs:
        recorded["always_runs"] = list(always_runs)  # shown by %mn_status and mn-nb status
    start = StepStart(
        name=name,
        cell_id=session.cell_id,
        code=body,
        code_hash=code_hash,
        cache_key=cache_key,
        options=recorded,
        position=session.notebook_positions().get(name),
    )
    return StepPlan(
        name,
        options,
        body,
        code,
        analysis,
        inputs,
        start,
        run_id,
        retry_on,
        always_runs,
        cell_number(session.shell),
        reads_only,
    )


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


def _last_written(session: KernelSession, step: str) -> frozenset[str]:
    found = session.store.step(step)
    if found is None or found.checkpoint_id is None:
        return frozenset()
    entries = session.store.variables(found.checkpoint_id)
    return frozenset(v.name for v in entries if v.serializer != DELETED)


def _after_marker(session: KernelSession, step: str) -> int | None:
    validate_name(step)
    found = session.store.step(step)
    if found is None:
        raise InvalidInput(f"--after names unknown step {step!r}: run it first")
    return found.checkpoint_id
