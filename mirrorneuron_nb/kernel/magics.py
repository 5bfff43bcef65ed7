"""%%mn_step, %mn_resume, %mn_status, %mn_reset: parse arguments, call plain functions,
turn our errors into one-line UsageErrors. No logic lives here."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.utils.text import DollarFormatter

from ..errors import MirrorNeuronError
from ..notebook import validate_name
from ..render import terminal_safe
from ..status import step_views
from ..status_html import status_html, status_plain
from ..timeline import MAX_RUNS, timeline
from ..timeline_view import timeline_html, timeline_plain
from . import banners, lazy
from .barrier import after_resume, settle
from .policy import StepOptions
from .resume import resume
from .runner import arun_step, run_step
from .session import KernelSession
from .tracebacks import shown_from_body


@contextlib.contextmanager
def _usage_errors() -> Iterator[None]:
    try:
        yield
    except MirrorNeuronError as exc:
        raise UsageError(str(exc)) from None


def _unquote(text: str | None) -> str | None:
    """IPython splits magic arguments without removing quotes: `--approve "Go?"` arrives
    as '"Go?"'. Drop one surrounding pair."""
    if text is not None and len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def _names(text: str | None, option: str) -> tuple[str, ...]:
    if text is None:
        return ()
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise UsageError(f"{option} needs a comma-separated list of names")
    return names


_DOLLAR = DollarFormatter()


def _expanded(shell: Any, line: str) -> str:
    """IPython's expansion of `$name` and `{expr}` in a `%%mn_step` line, in the user's
    namespace, as run_cell_magic makes it; only for a line that has any (`no_var_expand`):
    IPython copies the whole namespace for it, ~30 us a step, more as `_iN` pile up."""
    if "$" not in line and "{" not in line:
        return line
    try:
        return str(_DOLLAR.vformat(line, args=[], kwargs=dict(shell.user_ns)))
    except Exception:
        return line  # as IPython leaves a line it cannot expand


_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def _plain_name(line: str) -> str | None:
    """The name, when a `%%mn_step` line is only a step name (no option, nothing for
    shlex to unquote)."""
    name = line.strip()
    if name and name[0] != "-" and _NAME_CHARS.issuperset(name):
        return name
    return None


DEFAULT_OPTIONS = StepOptions()
"""A `%%mn_step NAME` line's options (frozen: one for every such step)."""

PARSED_LINES = 1024
"""How many distinct `%%mn_step` lines a kernel keeps parsed."""

# How a rewritten awaiting cell (awaiting.py) reaches MirrorNeuronMagics.mn_step_async.
ASYNC_TWIN = "get_ipython().magics_manager.registry['MirrorNeuronMagics'].mn_step_async"


@magics_class
class MirrorNeuronMagics(Magics):
    def __init__(self, shell: Any, session: KernelSession) -> None:
        super().__init__(shell)
        self.session = session
        # Parsed `%%mn_step` lines: a cell re-run parses its line once (argparse costs
        # ~0.1 ms a step). Only lines that parsed are kept; their options are frozen.
        self._parsed: dict[str, tuple[str, StepOptions]] = {}

    @magic_arguments()
    @argument("name", help="step name: letters, digits, '_' and '-'")
    @argument("--force", action="store_true", help="run even if a checkpoint matches")
    @argument("--outputs", metavar="A,B", help="checkpoint exactly these variables")
    @argument("--after", metavar="A,B", help="upstream steps the data flow does not reveal")
    @argument(
        "--retries",
        type=int,
        default=0,
        metavar="N",
        help="further attempts after a failure (default 0)",
    )
    @argument(
        "--backoff",
        type=float,
        default=1.0,
        metavar="S",
        help="seconds to wait before the first retry (default 1)",
    )
    @argument(
        "--backoff-factor",
        type=float,
        default=2.0,
        metavar="F",
        help="multiply the wait by F after each failed attempt (default 2)",
    )
    @argument(
        "--max-backoff",
        type=float,
        default=300.0,
        metavar="S",
        help="never wait longer than S seconds between attempts (default 300)",
    )
    @argument(
        "--retry-on",
        metavar="EXC,EXC",
        help="retry only these exception classes (default: any Exception)",
    )
    @argument(
        "--timeout",
        type=float,
        metavar="S",
        help="fail an attempt that runs longer than S seconds (TimeoutError)",
    )
    @argument(
        "--once",
        action="store_true",
        help="a side effect: never run again once it succeeded (until reset)",
    )
    @argument(
        "--approve",
        metavar="QUESTION",
        help="ask a human before the body runs (buttons; mn-nb approve in batch)",
    )
    @argument(
        "--no-wait",
        action="store_true",
        help="fail at once if another kernel or run is executing this step",
    )
    @argument(
        "--kind",
        default="compute",
        metavar="KIND",
        help="compute, llm, tool or human: recorded and shown",
    )
    @no_var_expand  # expanded here, only when there is anything to expand
    @cell_magic
    def mn_step(self, line: str, cell: str) -> Any:
        """Run this cell as a named, checkpointed step.

        If the step already succeeded with the same code and inputs, its variables are
        restored and its outputs replayed instead of running it again. Retries, timeouts,
        once-only side effects and approval gates are options. The body may `await`.
        """
        __tracebackhide__ = True
        name, options = self._parse(_expanded(self.shell, line))
        with _usage_errors(), shown_from_body(self.shell):
            result = run_step(self.session, name, cell, options)
        return result.value

    async def mn_step_async(self, line: str, cell: str) -> Any:
        """`%%mn_step` for a body that awaits at top level (see awaiting.py)."""
        __tracebackhide__ = True
        name, options = self._parse(_expanded(self.shell, line))
        with _usage_errors(), shown_from_body(self.shell):
            result = await arun_step(self.session, name, cell, options)
        return result.value

    def _parse(self, line: str) -> tuple[str, StepOptions]:
        parsed = self._parsed.get(line)
        if parsed is not None:
            return parsed
        plain = _plain_name(line)
        if plain is not None:
            # Just a name (most steps): what argparse would make of it, without argparse.
            with _usage_errors():
                parsed = validate_name(plain), DEFAULT_OPTIONS
        else:
            parsed = self._parse_line(line)
        if len(self._parsed) >= PARSED_LINES:
            self._parsed.clear()
        self._parsed[line] = parsed
        return parsed

    def _parse_line(self, line: str) -> tuple[str, StepOptions]:
        args = parse_argstring(self.mn_step, line)
        with _usage_errors():
            options = StepOptions(
                force=args.force,
                outputs=_names(args.outputs, "--outputs") if args.outputs is not None else None,
                after=_names(args.after, "--after"),
                retries=args.retries,
                backoff=args.backoff,
                backoff_factor=args.backoff_factor,
                max_backoff=args.max_backoff,
                retry_on=_names(args.retry_on, "--retry-on"),
                timeout=args.timeout,
                once=args.once,
                approve=_unquote(args.approve),
                kind=args.kind,
                no_wait=args.no_wait,
            )
            validate_name(args.name)
            for name in options.outputs or ():
                if not name.isidentifier():
                    raise UsageError(f"--outputs: {name!r} is not a variable name")
        return str(args.name), options

    @magic_arguments()
    @argument("--to", metavar="NAME", help="restore steps up to and including NAME")
    @line_magic
    def mn_resume(self, line: str) -> None:
        """Restore variables from the checkpoints of every good step, in notebook order."""
        args = parse_argstring(self.mn_resume, line)
        with _usage_errors():
            if args.to is not None:
                validate_name(args.to)
            settle(self.session)  # pending checkpoints and a previous resume's values first
            report = resume(self.session.store, self.session.shell.user_ns, args.to)
            self.session.sharing.learn(report.groups)
            self.session.record_resume(
                report.steps, len(report.restored), [m.name for m in report.missing]
            )
        print(terminal_safe(report.render(), keep_newlines=True))
        lazy.start()
        with _usage_errors():
            after_resume(self.session)

    @magic_arguments()
    @argument("--timeline", action="store_true", help="draw the last run(s) on a time axis")
    @argument(
        "--runs",
        type=int,
        default=1,
        metavar="N",
        help=f"with --timeline: how many of the last runs (1 to {MAX_RUNS}, default 1)",
    )
    @line_magic
    def mn_status(self, line: str) -> None:
        """Show this notebook's steps: status, duration, attempts, checkpoint size, errors.

        With --timeline: each step of the last run as a bar, coloured by outcome (ran,
        restored, failed, retried, waiting), and what restoring saved."""
        args = parse_argstring(self.mn_status, line)
        if not 1 <= args.runs <= MAX_RUNS:
            raise UsageError(f"--runs: give a number from 1 to {MAX_RUNS}, not {args.runs}")
        if args.runs != 1 and not args.timeline:
            raise UsageError("--runs goes with --timeline")
        with _usage_errors():
            settle(self.session)
            if args.timeline:
                drawn = timeline(self.session.store, args.runs)
                plain, markup = timeline_plain(drawn), timeline_html(drawn)
            else:
                views = step_views(self.session.store, self.session.location.notebook)
                sidecar = self.session.location.sidecar
                plain, markup = status_plain(views, sidecar), status_html(views, sidecar)
        banners.publish(plain, markup, "status")

    @magic_arguments()
    @argument("names", nargs="*", help="steps whose checkpoints to drop")
    @argument("--all", action="store_true", help="drop every step's checkpoints")
    @line_magic
    def mn_reset(self, line: str) -> None:
        """Drop the checkpoints of the named steps (or --all) so they run again."""
        args = parse_argstring(self.mn_reset, line)
        if bool(args.names) == bool(args.all):
            raise UsageError("name the steps to reset, or pass --all (not both)")
        with _usage_errors():
            for name in args.names:
                validate_name(name)
            settle(self.session)
            done = self.session.store.reset(None if args.all else args.names, self.session.run_id)
        print(terminal_safe(f"mn_reset: dropped checkpoints of {', '.join(done) or 'no steps'}"))
