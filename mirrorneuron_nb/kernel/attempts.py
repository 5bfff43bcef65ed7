"""Run a step's body until an attempt succeeds or its retry policy gives up.

A body that awaits at top level runs as a coroutine on the kernel's loop (`arun_attempts`):
the same attempts, with --timeout as a cancelled task instead of SIGALRM (a signal would
land in the event loop, not the body) and retry delays as `asyncio.sleep`.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import functools
import inspect
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from types import CodeType
from typing import Any, TypeVar

from ..errors import InvalidInput, SidecarFull, StepSleeping, StepTimeout, one_line
from ..models import Attempt, Step
from .capture import OutputRecorder, capture, flush_inline_figures
from .outputs import unbound
from .plan import StepPlan
from .policy import deadline, retryable
from .recording import recording
from .session import KernelSession
from .tracebacks import cache_body, user_traceback

__all__ = ["Ran", "arun_attempts", "run_attempts", "run_body", "user_traceback"]

T = TypeVar("T")


@dataclass(frozen=True)
class Ran:
    """The attempt that succeeded."""

    value: Any
    recorder: OutputRecorder
    attempt: Attempt
    duration: float


def run_attempts(
    session: KernelSession,
    plan: StepPlan,
    first: Attempt,
    again: Callable[[], Attempt],
    previous: Step | None,
) -> Ran:
    """Run the body until an attempt succeeds or the retry policy gives up. Every attempt
    is recorded (intent before, outcome after), whatever happens. `first` was begun with
    the step's lease; `again` begins each retry under it; `previous` is the step's row
    before `first` (what an abandoned attempt puts back)."""
    __tracebackhide__ = True
    number = 0
    while True:
        number += 1
        attempt = first if number == 1 else again()
        began = time.perf_counter()
        try:
            with _running(session, plan, attempt) as recorder, deadline(plan.options.timeout):
                value = run_body(session.shell, plan)
                flush_inline_figures()
            _check_outputs(session, plan, attempt, previous)
            return Ran(value, recorder, attempt, time.perf_counter() - began)
        except OutputsUnbound:
            raise
        except StepSleeping as parked:
            # A batch run's wait beyond --max-sleep: not a failure, never retried.
            session.store.park_attempt(attempt, parked.wake_at, parked.what)
            raise
        except BaseException as exc:
            delay = _failed(session, plan, attempt, number, exc)
            if delay is None:
                raise
            try:
                time.sleep(delay)
            except BaseException as stop:
                _cancelled(session, attempt, exc, stop)
                raise


async def arun_attempts(
    session: KernelSession,
    plan: StepPlan,
    first: Attempt,
    again: Callable[[], Attempt],
    previous: Step | None,
) -> Ran:
    """`run_attempts` for a body that awaits at top level."""
    __tracebackhide__ = True
    number = 0
    while True:
        number += 1
        attempt = first if number == 1 else again()
        began = time.perf_counter()
        try:
            with _running(session, plan, attempt) as recorder:
                value = await _within(plan.options.timeout, _aexecute(session.shell, plan))
                flush_inline_figures()
            _check_outputs(session, plan, attempt, previous)
            return Ran(value, recorder, attempt, time.perf_counter() - began)
        except OutputsUnbound:
            raise
        except StepSleeping as parked:
            # A batch run's wait beyond --max-sleep: not a failure, never retried.
            session.store.park_attempt(attempt, parked.wake_at, parked.what)
            raise
        except BaseException as exc:
            delay = _failed(session, plan, attempt, number, exc)
            if delay is None:
                raise
            try:
                await asyncio.sleep(delay)
            except BaseException as stop:
                _cancelled(session, attempt, exc, stop)
                raise


class OutputsUnbound(InvalidInput):
    """The body ran but left an --outputs name unbound: not a failure of the step."""


def _check_outputs(
    session: KernelSession, plan: StepPlan, attempt: Attempt, previous: Step | None
) -> None:
    """After a body that ran: every --outputs name must be bound, else the attempt is
    abandoned (not failed, nothing checkpointed) and the cell shows one line."""
    message = unbound(plan.options.outputs, session.shell.user_ns)
    if message is not None:
        session.store.abandon_attempt(attempt, previous, message)
        raise OutputsUnbound(message)


@contextlib.contextmanager
def _running(session: KernelSession, plan: StepPlan, attempt: Attempt) -> Iterator[OutputRecorder]:
    with (
        capture(session.shell) as recorder,
        # Durable calls the body makes are journaled as this attempt's calls.
        recording(
            session.store,
            run_id=plan.run_id,
            attempt_id=attempt.id,
            step=plan.name,
            namespace=session.shell.user_ns,
        ),
    ):
        yield recorder


def _failed(
    session: KernelSession, plan: StepPlan, attempt: Attempt, number: int, exc: BaseException
) -> float | None:
    """Record the failed attempt; the delay before the next one, or None to give up."""
    store, options = session.store, plan.options
    total = options.retries + 1
    try:
        store.fail_attempt(attempt, one_line(exc), user_traceback(exc))
    except SidecarFull as full:
        # The body's own error is what the cell shows; no retry can be recorded either.
        print(f"mn_step {plan.name}: its failure could not be recorded ({full})", file=sys.stderr)
        return None
    if number >= total or not retryable(exc, plan.retry_on):
        return None
    delay = options.delay(number)
    store.mark_retrying(attempt, delay, total)
    print(
        f"mn_step {plan.name}: attempt {number}/{total} failed ({one_line(exc)}); "
        f"attempt {number + 1}/{total} in {delay:.1f} s...",
        file=sys.stderr,
    )
    return delay


def _cancelled(
    session: KernelSession, attempt: Attempt, exc: BaseException, stop: BaseException
) -> None:
    # Interrupted while waiting: the step ends failed, not "retrying" forever.
    session.store.fail_attempt(
        attempt, f"{one_line(exc)} (retry cancelled: {type(stop).__name__})", ""
    )


def _compile(shell: Any, plan: StepPlan) -> tuple[CodeType, CodeType | None]:
    """The body and its last expression (if displayed), compiled under the cell's name."""
    filename = cache_body(shell, plan.code, plan.cell)
    # The __future__ flags of the user's own cells, as IPython compiles them, never this
    # module's (`from __future__ import annotations` would change what the body does).
    flags = int(getattr(shell.compile, "flags", 0))
    if plan.analysis.is_async:
        flags |= ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    displayed = plan.analysis.last_expression and not plan.code.rstrip().endswith(";")
    body, tail = _compiled(plan.code, flags, displayed)
    return _named(body, filename), None if tail is None else _named(tail, filename)


@functools.lru_cache(maxsize=256)
def _compiled(code: str, flags: int, displayed: bool) -> tuple[CodeType, CodeType | None]:
    """Compiled once per body text: a re-run (and every trivial step's `x = 1`) reuses it
    under its own cell's file name (`_named`); code objects are immutable."""
    tree = ast.parse(code)
    tail = None
    if displayed:
        last = tree.body.pop()
        assert isinstance(last, ast.Expr)
        tail = compile(ast.Expression(last.value), "<body>", "eval", flags=flags, dont_inherit=True)
    return compile(tree, "<body>", "exec", flags=flags, dont_inherit=True), tail


@functools.lru_cache(maxsize=256)  # a re-run of a body is named as before (same digest)
def _named(code: CodeType, filename: str) -> CodeType:
    """`code` and the code objects inside it (functions, classes, comprehensions) under
    `filename`, which tracebacks show as the cell."""
    consts = tuple(_named(c, filename) if isinstance(c, CodeType) else c for c in code.co_consts)
    return code.replace(co_filename=filename, co_consts=consts)


def run_body(shell: Any, plan: StepPlan) -> Any:
    """Run the body like a cell: a last expression is returned."""
    __tracebackhide__ = True
    body, tail = _compile(shell, plan)
    exec(body, shell.user_global_ns, shell.user_ns)
    if tail is not None:
        return eval(tail, shell.user_global_ns, shell.user_ns)
    return None


async def _aexecute(shell: Any, plan: StepPlan) -> Any:
    """Run a body that awaits at top level, like IPython runs such a cell."""
    __tracebackhide__ = True
    body, tail = _compile(shell, plan)
    # eval() of code compiled with top-level await returns its coroutine.
    running = eval(body, shell.user_global_ns, shell.user_ns)
    if inspect.iscoroutine(running):
        await running
    if tail is None:
        return None
    value = eval(tail, shell.user_global_ns, shell.user_ns)
    return await value if tail.co_flags & inspect.CO_COROUTINE else value


async def _within(seconds: float | None, body: Awaitable[T]) -> T:
    """Await `body`, cancelled and StepTimeout after `seconds`."""
    __tracebackhide__ = True
    if seconds is None:
        return await body
    task = asyncio.ensure_future(body)
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
    finally:
        if not task.done():
            task.cancel()  # timed out, or the step itself was cancelled
    if task in done:
        return task.result()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    raise StepTimeout(f"attempt exceeded --timeout {seconds:g} s")
