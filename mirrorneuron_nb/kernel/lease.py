"""A step's lease, from the kernel: claimed as its first attempt begins (one transaction),
waited for while another live process holds it, renewed by one heartbeat thread while
the body runs, released when the execution ends (by the commit itself on success).

The waiting line is one live line in the cell (a carriage return rewrites it).
"""

from __future__ import annotations

import contextlib
import sys
import time

from .. import config
from ..errors import LeaseHeld, MirrorNeuronError
from ..models import Attempt, Claimant, LeaseOwner
from ..render import format_elapsed
from .plan import StepPlan
from .session import KernelSession

POLL = 0.2
"""Seconds between cheap looks (PRAGMA data_version) while waiting."""
RECHECK = 1.0
"""Seconds between full looks at the owner (a dead process writes nothing)."""
REDRAW = 1.0


def claimant(session: KernelSession, plan: StepPlan, serve_newer_than: int | None) -> Claimant:
    run = session.ensure_run()
    return Claimant(
        run_id=run,
        kind="batch" if session.batch else "kernel",
        host=session.host,
        pid=session.pid,
        once=plan.options.once,
        serve_newer_than=serve_newer_than,
    )


def claim(session: KernelSession, plan: StepPlan, who: Claimant) -> Attempt | None:
    """The step's first attempt, its lease taken; None when the step must be looked at
    again (its owner finished, or it was done meanwhile: it may be served now)."""
    began = session.store.claim_attempt(plan.run_id, plan.start, who)
    if isinstance(began, Attempt):
        session.heartbeat.hold(plan.name)
        return began
    if began.owner is not None:
        wait(session, plan, who, began.owner)
    return None


def again(session: KernelSession, plan: StepPlan, who: Claimant) -> Attempt:
    """A retry's attempt, under the lease this execution holds."""
    began = session.store.claim_attempt(plan.run_id, plan.start, who)
    if isinstance(began, Attempt):
        return began
    owner = began.owner
    taken = f"; {held_line(plan.name, owner)}" if owner is not None else ""
    raise LeaseHeld(plan.name, f"step `{plan.name}` lost its lease before a retry{taken}")


def release(session: KernelSession, plan: StepPlan, outcome: str) -> None:
    """Give the lease back unless the commit did (success), or will: the writer holds it
    until the checkpoint it is writing commits (writer.py)."""
    if session.writer.holds(plan.name) or not session.heartbeat.drop(plan.name):
        return
    # A lease that cannot be given back expires: its heartbeat stops with this drop.
    with contextlib.suppress(MirrorNeuronError):
        session.store.release(plan.name, plan.run_id, outcome)


def held_line(step: str, owner: LeaseOwner, now: float | None = None) -> str:
    where = "a batch run" if owner.kind == "batch" else "another kernel"
    took = format_elapsed((now or time.time()) - owner.since)
    return f"step `{step}` is running in {where} (pid {owner.pid} on host {owner.host}, for {took})"


def wait(session: KernelSession, plan: StepPlan, who: Claimant, owner: LeaseOwner) -> None:
    """Wait until no live process holds the step, showing who does; LeaseHeld when told not
    to wait (--no-wait), interrupted, or past a batch run's --lease-wait."""
    name, store = plan.name, session.store
    if plan.options.no_wait:
        raise LeaseHeld(name, f"{held_line(name, owner)}; not waiting (--no-wait)")
    limit = config.lease_wait() if session.batch else None
    key = None if who.once else plan.cache_key
    store.start_waiting(who, name, owner)
    outcome = "owner finished"
    began = time.monotonic()
    shown = _show(name, owner, limit, first=True)
    try:
        version, looked = store.data_version(), began
        while True:
            now = time.monotonic()
            if limit is not None and now - began >= limit:
                outcome = "gave up"
                raise LeaseHeld(
                    name,
                    f"{held_line(name, owner)}; gave up after waiting {limit:g} s (--lease-wait)",
                )
            time.sleep(POLL)
            changed = store.data_version() != version
            if not changed and time.monotonic() - looked < RECHECK:
                continue
            version, looked = store.data_version(), time.monotonic()
            current = store.lease_holder(name, key, who.run_id)
            if current is None:
                return
            owner = current
            if looked - shown >= REDRAW:
                shown = _show(name, owner, limit)
    except KeyboardInterrupt:
        outcome = "interrupted"
        raise LeaseHeld(
            name, f"stopped waiting: {held_line(name, owner)}; nothing was run or recorded"
        ) from None
    finally:
        print(file=sys.stderr, flush=True)  # ends the live line
        with contextlib.suppress(MirrorNeuronError):
            store.stop_waiting(who.run_id, name, outcome)


def _show(name: str, owner: LeaseOwner, limit: float | None, *, first: bool = False) -> float:
    bound = "" if limit is None else f" (at most {limit:g} s, --lease-wait)"
    line = f"mn_step {name}: {held_line(name, owner)}; waiting{bound}… — interrupt to stop waiting"
    print(("" if first else "\r") + line, end="", file=sys.stderr, flush=True)
    return time.monotonic()
