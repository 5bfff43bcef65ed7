"""Run a step's body until an attempt succeeds or its retry policy gives up."""

from __future__ import annotations

import ast
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import one_line
from ..models import Attempt
from .capture import OutputRecorder, capture, flush_inline_figures
from .plan import StepPlan
from .policy import deadline, retryable
from .recording import recording
from .session import KernelSession


@dataclass(frozen=True)
class Ran:
    """The attempt that succeeded."""

    value: Any
    recorder: OutputRecorder
    attempt: Attempt
    duration: float


def run_attempts(session: KernelSession, plan: StepPlan) -> Ran:
    """Run the body until an attempt succeeds or the retry policy gives up. Every attempt
    is recorded (intent before, outcome after), whatever happens."""
    __tracebackhide__ = True
    store, shell, options = session.store, session.shell, plan.options
    total = options.retries + 1
    number = 0
    while True:
        number += 1
        attempt = store.begin_attempt(plan.run_id, plan.start)
        began = time.perf_counter()
        try:
            with (
                capture(shell) as recorder,
                # Durable calls the body makes are journaled as this attempt's calls.
                recording(
                    store,
                    run_id=plan.run_id,
                    attempt_id=attempt.id,
                    step=plan.name,
                    namespace=shell.user_ns,
                ),
                deadline(options.timeout),
            ):
                value = _execute(shell, plan.code, plan.body, plan.analysis.last_expression)
                flush_inline_figures()
            return Ran(value, recorder, attempt, time.perf_counter() - began)
        except BaseException as exc:
            store.fail_attempt(attempt, one_line(exc), user_traceback(exc))
            if number >= total or not retryable(exc, plan.retry_on):
                raise
            delay = options.delay(number)
            store.mark_retrying(attempt, delay, total)
            print(
                f"mn_step {plan.name}: attempt {number}/{total} failed ({one_line(exc)}); "
                f"attempt {number + 1}/{total} in {delay:.1f} s...",
                file=sys.stderr,
            )
            try:
                time.sleep(delay)
            except BaseException as stop:
                # Interrupted while waiting: the step ends failed, not "retrying" forever.
                store.fail_attempt(
                    attempt, f"{one_line(exc)} (retry cancelled: {type(stop).__name__})", ""
                )
                raise


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


_PACKAGE_DIR = str(Path(__file__).resolve().parent.parent)


def user_traceback(exc: BaseException) -> str:
    """The traceback as the user thinks of it: their cell's frames, not ours."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))
