"""`mn.sleep(seconds)` and `mn.wait_until(predicate, every=, timeout=)`: waits a step
records, so a re-run waits only what is left.

Inside a `%%mn_step`, the wake-up time of a sleep, the deadline of a wait and each poll
are entries of the step's durable-call journal (recording.Recording.journaled): a step
re-run after a crash, an interrupt or a parked batch run finds them and waits only the
remainder; once the step succeeds its journal is closed, so a forced or changed run waits
afresh. In a batch run, a wait longer than `--max-sleep` (config.MAX_SLEEP_ENV) parks the
step `sleeping` and stops the run (StepSleeping; the runner records it, `mn-nb run` exits 5).

Outside a step nothing can be recorded: `mn.sleep` sleeps like `time.sleep` and
`mn.wait_until` polls plainly, after a one-line note.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

from .. import config, limits
from ..errors import InvalidInput, StepSleeping, WaitTimeout
from ..models import SLEEPING, WOKE
from ..render import format_duration, format_wake
from .countdown import sleep_until
from .recording import Recording, active, call_key

__all__ = ["sleep", "wait_until"]

T = TypeVar("T")

_noted: set[str] = set()


def sleep(seconds: float) -> None:
    """Sleep `seconds`, durably inside a step: the wake-up time is recorded, so a re-run
    of the step (after a crash, an interrupt, or a batch run parked by --max-sleep) sleeps
    only what is left, and not at all once it has passed."""
    __tracebackhide__ = True
    seconds = _seconds("mn.sleep", "seconds", seconds)
    what = f"mn.sleep({seconds:g})"
    rec = active()
    if rec is None:
        _outside("mn.sleep", "nothing is recorded; it sleeps like time.sleep")
        sleep_until(time.time() + seconds, "mn.sleep", what)
        return
    wake_at, replayed = rec.journaled("sleep", (seconds,), lambda: time.time() + seconds)
    _pause(rec, float(wake_at), replayed, what, events=True)


def wait_until(
    predicate: Callable[[], T], *, every: float = 5.0, timeout: float | None = None
) -> T:
    """Call `predicate()` every `every` seconds until it returns a true value, and return
    that value. Inside a step each poll is recorded (a re-run replays the polls made and
    continues), and the deadline `timeout` seconds after the first poll is recorded too, so
    a re-run does not restart it. Past the deadline: WaitTimeout (a TimeoutError)."""
    __tracebackhide__ = True
    if not callable(predicate):
        raise InvalidInput(
            f"mn.wait_until needs a function to call, got {type(predicate).__name__}"
        )
    every = _seconds("mn.wait_until", "every", every, positive=True)
    if timeout is not None:
        timeout = _seconds("mn.wait_until", "timeout", timeout)
    name, identity, _ = call_key(predicate, (), {})
    name = name.rsplit(".", 1)[-1]
    what = f"mn.wait_until({name})"
    rec = active()
    if rec is None:
        _outside("mn.wait_until", "nothing is recorded; it polls plainly")
        return _poll_plainly(predicate, every, timeout, what)
    deadline: float | None = None
    if timeout is not None:
        recorded, _ = rec.journaled(
            "wait_until.deadline", (identity, every, timeout), lambda: time.time() + timeout
        )
        deadline = float(recorded)
    polls, resumed = 0, False
    while True:
        (value, at), replayed = rec.journaled(
            "wait_until.poll", (identity,), lambda: _poll_once(predicate)
        )
        polls += 1
        resumed = resumed or replayed
        if value:
            if resumed:
                rec.event(WOKE, float(at), what)
            return value  # type: ignore[no-any-return]
        if deadline is not None and at >= deadline:
            raise WaitTimeout(
                f"{what}: no true value within {timeout:g} s ({polls} poll(s)); the deadline "
                f"is recorded: reset step {rec.step!r} to wait again"
            )
        next_at = at + every if deadline is None else min(at + every, deadline)
        _pause(rec, next_at, replayed, f"{what}: next poll", events=False)


def _poll_once(predicate: Callable[[], T]) -> tuple[T, float]:
    __tracebackhide__ = True
    at = time.time()  # polls keep their cadence, however long the predicate takes
    return predicate(), at


def _pause(rec: Recording, wake_at: float, replayed: bool, what: str, *, events: bool) -> None:
    """Wait until `wake_at`, or park the step when a batch run's --max-sleep is shorter."""
    __tracebackhide__ = True
    left = wake_at - time.time()
    if left <= 0:
        if replayed and events:
            rec.event(WOKE, wake_at, what)  # a recorded wait that passed meanwhile
        return
    limit = config.max_sleep() if config.is_batch() else None
    if limit is not None and left > limit:
        raise StepSleeping(
            rec.step,
            wake_at,
            what,
            f"step `{rec.step}` sleeps until {format_wake(wake_at)}: run the same command "
            f"again after that ({what}: {format_duration(left)} left, more than --max-sleep "
            f"{limit:g} s)",
        )
    if events:
        rec.event(SLEEPING, wake_at, what)
    sleep_until(wake_at, f"mn_step {rec.step}", what)
    if events:
        rec.event(WOKE, wake_at, what)


def _poll_plainly(predicate: Callable[[], T], every: float, timeout: float | None, what: str) -> T:
    __tracebackhide__ = True
    deadline = None if timeout is None else time.time() + timeout
    polls = 0
    while True:
        value, at = _poll_once(predicate)
        polls += 1
        if value:
            return value
        if deadline is not None and at >= deadline:
            raise WaitTimeout(f"{what}: no true value within {timeout:g} s ({polls} poll(s))")
        next_at = at + every if deadline is None else min(at + every, deadline)
        time.sleep(max(next_at - time.time(), 0.0))


def _seconds(function: str, name: str, value: Any, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(f"{function}: {name} must be a number of seconds, not {value!r}")
    return limits.seconds(f"{function}: {name}", value, positive=positive)


def _outside(function: str, what: str) -> None:
    if function not in _noted:
        _noted.add(function)
        print(f"{function} outside a %%mn_step: {what}", file=sys.stderr)
