"""Execute one step, as a pipeline: plan (cache key) -> gates -> cache hit -> attempts -> commit.

A cache hit restores the checkpoint's variables and replays its outputs instead of running.
"""

from __future__ import annotations

import sys
import time
from typing import Literal

from .. import config
from ..errors import InvalidInput
from ..models import (
    STATE_VARIABLE,
    Attempt,
    Checkpoint,
    Claimant,
    LeaseOwner,
    Step,
    StepLook,
    StepStart,
    VarEntry,
)
from ..values import libstate
from ..values.libstate import reapply as reapply_state
from ..values.restore import load_into
from ..values.signing import Binding, check_key, checkpoint_untrusted
from . import banners, gates, lease
from .attempts import arun_attempts, run_attempts, run_body, user_traceback
from .capture import replay
from .commit import StepResult, commit, commit_at_once
from .inert import inert_bindings, runs_no_code
from .origins import check_inputs
from .plan import StepPlan, make_plan
from .policy import StepOptions
from .resume import with_notebook
from .session import KernelSession

__all__ = ["StepResult", "arun_step", "run_step", "user_traceback"]

UNLOOKED: Literal["unlooked"] = "unlooked"
"""The lease was not looked at with the cache (--force, --once): `_at_once` reads it."""
Looked = LeaseOwner | None | Literal["unlooked"]


def run_step(session: KernelSession, name: str, body: str, options: StepOptions) -> StepResult:
    """Run one `%%mn_step` cell, or serve it from a checkpoint with the same key."""
    __tracebackhide__ = True
    check_key()  # an unusable signing key stops the step before anything runs
    session.notice_location()
    config.check_write_settings()  # so do bad settings of the writer
    session.writer.wait(name)  # its own pending checkpoint may serve it
    plan = make_plan(session, name, body, options)
    if plan.analysis.is_async:
        # The extension's input transformer sends awaiting bodies to arun_step; here
        # IPython's autoawait is off.
        raise InvalidInput(
            f"step {name!r} awaits at top level, which needs IPython's autoawait (%autoawait on)"
        )
    claimed = _claimed(session, plan)
    if isinstance(claimed, StepResult):
        return claimed
    first, who, previous = claimed
    outcome = "failed"
    try:
        before = {k: id(v) for k, v in session.shell.user_ns.items()}
        state_before = _library_state(session, plan)
        ran = run_attempts(session, plan, first, lambda: lease.again(session, plan, who), previous)
        result = commit(session, plan, ran, before, state_before)
        outcome = "ended"
        return result
    finally:
        lease.release(session, plan, outcome)


async def arun_step(
    session: KernelSession, name: str, body: str, options: StepOptions
) -> StepResult:
    """`run_step` for a body that awaits at top level, on the kernel's running loop."""
    __tracebackhide__ = True
    check_key()
    session.notice_location()
    config.check_write_settings()
    session.writer.wait(name)
    plan = make_plan(session, name, body, options)
    claimed = _claimed(session, plan)
    if isinstance(claimed, StepResult):
        return claimed
    first, who, previous = claimed
    outcome = "failed"
    try:
        before = {k: id(v) for k, v in session.shell.user_ns.items()}
        state_before = _library_state(session, plan)
        ran = await arun_attempts(
            session, plan, first, lambda: lease.again(session, plan, who), previous
        )
        result = commit(session, plan, ran, before, state_before)
        outcome = "ended"
        return result
    finally:
        lease.release(session, plan, outcome)


def _library_state(session: KernelSession, plan: StepPlan) -> libstate.Reading:
    """The library state before the body; empty (not read, nor after it: commit.py) when
    the body runs no code that could change it (inert.py)."""
    return {} if runs_no_code(plan.code, session.shell.user_ns) else libstate.read_all()


def _claimed(
    session: KernelSession, plan: StepPlan
) -> StepResult | tuple[Attempt, Claimant, Step | None]:
    """The step served from a checkpoint, or its first attempt begun under its lease (with
    who claimed it and its row before). While another process holds the step this waits;
    when that owner is done the step is looked at again: its checkpoint may serve it."""
    __tracebackhide__ = True
    while True:
        served, seen, holder = _before_running(session, plan)
        if served is not None:
            return served
        # The row an abandoned attempt puts back: only --outputs can abandon one.
        previous = session.store.step(plan.name) if plan.options.outputs is not None else None
        who = lease.claimant(session, plan, seen)
        if _at_once(session, plan, who, holder):
            done = _run_at_once(session, plan, who)
            if done is not None:
                return done
        first = lease.claim(session, plan, who)
        if first is not None:
            return first, who, previous
        session.store.forget_looks()  # the claim found what the look did not: ask next


def _at_once(session: KernelSession, plan: StepPlan, who: Claimant, holder: Looked) -> bool:
    """Whether the step may run before it is claimed, and be claimed and committed in one
    transaction behind the cell: its body binds names to constants and can run no other
    code (inert.py), so nothing outside this namespace can see it ran before its lease
    was taken. Not while another process holds the step (`holder`, as the cache lookup
    found it, else read here: such a step waits, or fails under --no-wait, as any), nor
    --once (its claim may find it interrupted), nor --outputs, nor --approve: those keep
    the two transactions. Nor behind a checkpoint still writing its blobs: claimed now,
    the step shows `checkpointing` meanwhile rather than nothing for that long."""
    options = plan.options
    return (
        not options.once
        and options.outputs is None
        and options.approve is None
        and session.writer.quick()
        and runs_no_code(plan.code, session.shell.user_ns)
        and (
            holder is None
            if holder is not UNLOOKED
            else session.store.lease_holder(plan.name, plan.cache_key, who.run_id) is None
        )
    )


def _run_at_once(session: KernelSession, plan: StepPlan, who: Claimant) -> StepResult | None:
    """Run an inert body, then have the writer claim and commit its step in one
    transaction; None (the names it bound put back, nothing recorded) when the body
    failed (a name it reads is unbound): the caller then claims it as any step, and its
    failure is recorded."""
    __tracebackhide__ = True
    session.store.check_writable()  # a damaged sidecar fails the cell, as a write would
    ns = session.shell.user_ns
    bound = inert_bindings(plan.code) or frozenset()
    kept = {n: ns[n] for n in bound if n in ns}
    began = time.perf_counter()
    done: StepResult | None = None
    try:
        run_body(session.shell, plan)
        done = commit_at_once(session, plan, who, time.perf_counter() - began, bound)
    except Exception:
        done = None  # the body runs again, claimed, and its failure is recorded
    finally:
        if done is None:  # also when interrupted: the step never began
            for name in bound:
                if name in kept:
                    ns[name] = kept[name]
                else:
                    ns.pop(name, None)
    return done


def _before_running(
    session: KernelSession, plan: StepPlan
) -> tuple[StepResult | None, int | None, Looked]:
    """Gates, then the checkpoint that serves the step; None when the body has to run, with
    the newest checkpoint of its key that was looked at (None: none is ever served), and
    the live owner of its lease elsewhere that the same look found (UNLOOKED: none)."""
    __tracebackhide__ = True
    look = _look(session, plan)
    if look is None:
        gates.check_upstream(session.store, plan.start)
    else:
        gates.stop_if_rejected(plan.start, look.rejected)
    hit, seen = _cache_hit(session, plan, look)
    holder: Looked = UNLOOKED if look is None else look.holder
    if hit is not None:
        return hit, seen, holder
    check_inputs(session, plan)
    if plan.always_runs and session.announce(plan.name, plan.always_runs):
        print(f"mn_step {plan.name}: always runs: {'; '.join(plan.always_runs)}", file=sys.stderr)
    if plan.options.approve is not None:
        gates.approval_gate(
            session.store,
            plan.run_id,
            plan.start,
            plan.options.approve,
            session.batch,
            session.location.notebook,
        )
    return None, seen, holder


# -- cache hit ------------------------------------------------------------------------------


def _look(session: KernelSession, plan: StepPlan) -> StepLook | None:
    """The store's one look before the step runs (cache, leases, rejected steps), or None
    when no checkpoint may serve the step (--once, --force, always runs): read apart."""
    options = plan.options
    if options.once or options.force or session.force_all or plan.always_runs:
        return None
    return session.store.look_to_run(plan.name, plan.cache_key, plan.run_id, plan.start.position)


def _cache_hit(
    session: KernelSession, plan: StepPlan, look: StepLook | None
) -> tuple[StepResult | None, int | None]:
    """The result served from a checkpoint, or None when the body has to run; and the id
    of the newest checkpoint with the step's key (0: none; None: none may serve it)."""
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
        return hit, None
    if look is None:
        return None, None
    found = look.checkpoint
    if found is None:
        return None, 0
    return _serve_from_checkpoint(session, plan.start, found), found.id


def _serve_from_checkpoint(
    session: KernelSession, start: StepStart, checkpoint: Checkpoint
) -> StepResult | None:
    """Restore a checkpoint's variables and replay its outputs; None if it cannot be used.
    Nothing of it is served (values or outputs) unless its signature verifies."""
    store = session.store
    entries, state = store.variables(checkpoint.id), store.library_state(checkpoint.id)
    sidecar = store.sidecar_id()
    untrusted = checkpoint_untrusted(
        checkpoint.signature,
        sidecar,
        start.name,
        checkpoint.cache_key,
        checkpoint.code_hash,
        checkpoint.outputs,
        entries if state is None else [*entries, state],
    )
    if untrusted is not None:
        _unusable(session, start.name, with_notebook(untrusted, store))
        return None
    # All or nothing: after a failure the step runs, on the namespace exactly as it was.
    restored = load_into(
        session.shell.user_ns,
        entries,
        store.blobs,
        lambda v: Binding(sidecar, start.name, v.name),
        all_or_nothing=True,
    )
    if restored.rolled_back is not None:
        _unusable(session, start.name, with_notebook(str(restored.rolled_back), store))
        return None
    loaded = list(restored.loaded)
    session.sharing.learn(restored.groups)
    if state is not None:
        _reapply(session, Binding(sidecar, start.name, STATE_VARIABLE), state)
    store.record_cache_hit(session.ensure_run(), start, checkpoint, loaded)
    replay(checkpoint.outputs)
    unsaved = [(v.name, v.error or "") for v in entries if v.error is not None]
    banners.restored(start.name, checkpoint, len(loaded), unsaved)
    return StepResult(start.name, cached=True, saved=loaded, unsaved=unsaved)


def _unusable(session: KernelSession, step: str, why: str) -> None:
    print(f"mn_step {step}: checkpoint unusable ({why}); running the step instead", file=sys.stderr)


def _reapply(session: KernelSession, binding: Binding, state: VarEntry) -> None:
    """Set the library state the step set when it ran (fonts, seeds, options, cwd...)."""
    _, failures = reapply_state(session.store.blobs, state, session.shell.user_ns, binding)
    step = binding.step
    for failure in failures:
        print(
            f"mn_step {step}: library state not re-applied: {failure}; "
            f"use --force to run the step again",
            file=sys.stderr,
        )
