"""Execute one step: cache key, cache hit (restore + replay) or run, capture, checkpoint."""

from __future__ import annotations

import ast
import json
import sys
import time
import traceback
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import gates, persist
from .analysis import analyze
from .capture import OutputRecorder, capture, flush_inline_figures, replay
from .errors import CheckpointUnavailable, InvalidInput, NotCheckpointable, one_line
from .hashing import text_digest
from .models import Attempt, Checkpoint, VarEntry
from .notebook import code_hash as notebook_code_hash
from .notebook import validate_name
from .policy import StepOptions, deadline, resolve_exceptions, retryable
from .recording import recording
from .render import format_bytes, format_duration, format_when
from .session import KernelSession
from .snapshot import (
    Snapshot,
    fingerprint,
    is_immutable,
    snapshot,
    special_fingerprint,
    type_name,
)
from .store import NewCheckpoint, StepStart

_MISSING = object()


@dataclass
class StepResult:
    name: str
    cached: bool
    value: Any = None
    saved: list[str] = field(default_factory=list)
    unsaved: list[tuple[str, str]] = field(default_factory=list)


def run_step(session: KernelSession, name: str, body: str, options: StepOptions) -> StepResult:
    __tracebackhide__ = True
    validate_name(name)
    shell = session.shell
    ns: dict[str, Any] = shell.user_ns
    code = shell.transform_cell(body)
    analysis = analyze(code)
    # Validate everything the options name before anything is recorded: bad input
    # changes nothing.
    after = {a: _after_marker(session, a) for a in options.after}
    retry_on = resolve_exceptions(options.retry_on, ns)
    session.claim(name)
    store = session.store
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

    gates.check_upstream(store, start)
    previous = store.step(name) if options.once else None
    if gates.once_gate(previous, options):
        assert previous is not None and previous.checkpoint_id is not None
        checkpoint = store.checkpoint(previous.checkpoint_id)
        hit = _serve_from_checkpoint(session, start, checkpoint) if checkpoint else None
        if hit is None:
            raise InvalidInput(
                f"step {name!r} is --once and already succeeded, but its checkpoint cannot be "
                f"restored; it is not run again (reset it to run it)"
            )
        return hit
    if not (options.force or session.force_all):
        found = store.find_checkpoint(name, cache_key)
        if found is not None:
            hit = _serve_from_checkpoint(session, start, found)
            if hit is not None:
                return hit
    if options.approve is not None:
        gates.approval_gate(
            store, run_id, start, options.approve, session.batch, session.location.notebook
        )

    before = {k: id(v) for k, v in ns.items()}
    value, recorder, attempt, duration = _attempts(
        session, start, run_id, code, body, analysis.last_expression, options, retry_on
    )
    outputs = list(recorder.outputs)
    if value is not None:
        data, metadata = shell.display_formatter.format(value)
        outputs.append({"output_type": "display_data", "data": data, "metadata": metadata})
    try:
        snaps: dict[str, Snapshot] = {}
        names = _written_names(session, ns, before, analysis.writes, inputs, options, snaps)
        variables, used, result = _checkpoint_variables(session, ns, names, snaps)
        store.blobs.sync_dirs([k for k, _ in used])
        store.commit_checkpoint(
            attempt,
            NewCheckpoint(
                cache_key=cache_key,
                code_hash=code_hash,
                duration=duration,
                inputs=inputs,
                outputs=outputs,
                variables=variables,
                new_blobs=used,
            ),
        )
    except BaseException as exc:
        # Whatever failed while checkpointing, the attempt gets an outcome, and the values
        # the body produced stay in the kernel.
        store.fail_attempt(
            attempt,
            f"checkpoint not written: {one_line(exc)}",
            "".join(traceback.format_exception(exc)),
        )
        if not isinstance(exc, OSError):
            raise
        _warn(
            f"mn_step {name}: ran, but its checkpoint could not be written "
            f"({one_line(exc)}); the previous checkpoint is kept"
        )
        return StepResult(name, cached=False, value=value)
    for var_name, reason in result.unsaved:
        _warn(
            f"mn_step {name}: {var_name!r} was not checkpointed ({reason}); "
            f"re-run step {name!r} after a restart to get it back"
        )
    result.name = name
    result.value = value
    return result


def _attempts(
    session: KernelSession,
    start: StepStart,
    run_id: str,
    code: str,
    body: str,
    last_expression: bool,
    options: StepOptions,
    retry_on: tuple[type, ...],
) -> tuple[Any, OutputRecorder, Attempt, float]:
    """Run the body until an attempt succeeds or the retry policy gives up. Every attempt
    is recorded (intent before, outcome after), whatever happens."""
    __tracebackhide__ = True
    store, shell = session.store, session.shell
    total = options.retries + 1
    number = 0
    while True:
        number += 1
        attempt = store.begin_attempt(run_id, start)
        began = time.perf_counter()
        try:
            with (
                capture(shell) as recorder,
                # Durable calls the body makes are journaled as this attempt's calls.
                recording(
                    store,
                    run_id=run_id,
                    attempt_id=attempt.id,
                    step=start.name,
                    namespace=shell.user_ns,
                ),
                deadline(options.timeout),
            ):
                value = _execute(shell, code, body, last_expression)
                flush_inline_figures()
            return value, recorder, attempt, time.perf_counter() - began
        except BaseException as exc:
            store.fail_attempt(attempt, one_line(exc), user_traceback(exc))
            if number >= total or not retryable(exc, retry_on):
                raise
            delay = options.delay(number)
            store.mark_retrying(attempt, delay, total)
            _warn(
                f"mn_step {start.name}: attempt {number}/{total} failed ({one_line(exc)}); "
                f"attempt {number + 1}/{total} in {delay:.1f} s..."
            )
            try:
                time.sleep(delay)
            except BaseException as stop:
                # Interrupted while waiting: the step ends failed, not "retrying" forever.
                store.fail_attempt(
                    attempt, f"{one_line(exc)} (retry cancelled: {type(stop).__name__})", ""
                )
                raise


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


def _execute(shell: Any, code: str, raw: str, last_expression: bool) -> Any:
    """Run the body like a cell: tracebacks point at its lines; a last expression is returned."""
    __tracebackhide__ = True
    tree = ast.parse(code)
    filename = shell.compile.cache(code, shell.execution_count, raw_code=raw)
    tail: ast.Expression | None = None
    if last_expression and not code.rstrip().endswith(";"):
        last = tree.body.pop()
        assert isinstance(last, ast.Expr)
        tail = ast.Expression(last.value)
    exec(compile(tree, filename, "exec"), shell.user_global_ns, shell.user_ns)
    if tail is not None:
        return eval(compile(tail, filename, "eval"), shell.user_global_ns, shell.user_ns)
    return None


def _written_names(
    session: KernelSession,
    ns: dict[str, Any],
    before: dict[str, int],
    bound: frozenset[str],
    inputs: dict[str, str],
    options: StepOptions,
    snaps: dict[str, Snapshot],
) -> list[str]:
    if options.outputs is not None:
        missing = [n for n in options.outputs if n not in ns]
        if missing:
            raise InvalidInput(f"--outputs names undefined variable(s): {', '.join(missing)}")
        return list(options.outputs)
    changed = {k for k, v in ns.items() if before.get(k) != id(v)}
    changed |= {k for k in bound if k in ns}
    changed |= {k for k in before if k not in ns}  # deleted by the step
    # Names read but not rebound may have been mutated in place: compare fingerprints,
    # keeping the snapshot so a mutated value is not serialized twice.
    for name, fp in inputs.items():
        if name in changed or name not in ns or is_immutable(ns[name]):
            continue
        value = ns[name]
        special = special_fingerprint(value)
        if special is None:
            try:
                snaps[name] = snapshot(value)
            except NotCheckpointable:
                continue  # identity fingerprint: rebinding is all we can see
        if (special or snaps[name].fingerprint) != fp:
            changed.add(name)
    return sorted(n for n in changed if not session.hidden(n))


def _checkpoint_variables(
    session: KernelSession,
    ns: dict[str, Any],
    names: list[str],
    snaps: dict[str, Snapshot],
) -> tuple[list[VarEntry], list[tuple[str, int]], StepResult]:
    blobs = session.store.blobs
    variables: list[VarEntry] = []
    used: list[tuple[str, int]] = []
    result = StepResult(name="", cached=False)
    for name in names:
        if name not in ns:
            variables.append(persist.deleted(name))
            continue
        value = ns[name]
        try:
            snap = snaps.get(name) or snapshot(value)
            entry, blob_refs = persist.save(
                blobs, name, snap, special_fingerprint(value) or snap.fingerprint
            )
        except NotCheckpointable as exc:  # unserializable, or over the size limit
            variables.append(persist.unsaved(name, type_name(value), str(exc)))
            result.unsaved.append((name, str(exc)))
            continue
        variables.append(entry)
        used.extend(blob_refs)
        result.saved.append(name)
    return variables, used, result


def _serve_from_checkpoint(
    session: KernelSession, start: StepStart, checkpoint: Checkpoint
) -> StepResult | None:
    """Restore a checkpoint's variables and replay its outputs; None if it cannot be used."""
    store = session.store
    ns = session.shell.user_ns
    entries = store.variables(checkpoint.id)
    loaded: dict[str, Any] = {}
    # Bind each value as it loads (an instance may refer to a class restored just before),
    # but remember what was there: a checkpoint that fails half-way must leave the
    # namespace exactly as it was, because the step then runs on it.
    previous: dict[str, Any] = {}
    try:
        for var in sorted(entries, key=persist.load_order):
            if var.serializer == persist.DELETED or var.error is not None:
                continue
            value = persist.load(store.blobs, var, ns)
            previous.setdefault(var.name, ns.get(var.name, _MISSING))
            ns[var.name] = loaded[var.name] = value
    except CheckpointUnavailable as exc:
        for var_name, old in previous.items():
            if old is _MISSING:
                ns.pop(var_name, None)
            else:
                ns[var_name] = old
        _warn(f"mn_step {start.name}: checkpoint unusable ({exc}); running the step instead")
        return None
    for var in entries:
        if var.serializer == persist.DELETED:
            ns.pop(var.name, None)
    store.record_cache_hit(session.ensure_run(), start, checkpoint, list(loaded))
    replay(checkpoint.outputs)
    unsaved = [(v.name, v.error or "") for v in entries if v.error is not None]
    banner = (
        f"mn_step {start.name}: restored from checkpoint of "
        f"{format_when(checkpoint.created_at)} (took {format_duration(checkpoint.duration)}"
        f" then; {len(loaded)} variable(s), {format_bytes(checkpoint.size)})"
    )
    print(banner, file=sys.stderr)
    for var_name, reason in unsaved:
        _warn(
            f"mn_step {start.name}: {var_name!r} is not in the checkpoint ({reason}); "
            f"use --force to run the step again"
        )
    return StepResult(start.name, cached=True, saved=list(loaded), unsaved=unsaved)


_PACKAGE_DIR = str(Path(__file__).resolve().parent)


def user_traceback(exc: BaseException) -> str:
    """The traceback as the user thinks of it: their cell's frames, not ours."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


def _warn(message: str) -> None:
    print(message, file=sys.stderr)
