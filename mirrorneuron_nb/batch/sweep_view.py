"""How a sweep shows its progress: a bar and a live table on a terminal (rich), one plain
line per change otherwise (a log file, CI), nothing with --json."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, Protocol, TextIO

from ..render import terminal_safe
from .sweep import Combination, Outcome

_STYLE = {"succeeded": "green", "failed": "red", "error": "red", "running": "yellow"}


class View(Protocol):
    def __enter__(self) -> View: ...

    def __exit__(self, *exc: object) -> None: ...

    def changed(self, outcome: Outcome) -> None: ...


class Silent:
    def __enter__(self) -> Silent:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def changed(self, outcome: Outcome) -> None:
        pass


class Lines:
    """One line per step completed and per combination finished."""

    def __init__(self, combos: Sequence[Combination], out: TextIO = sys.stdout) -> None:
        self.total, self.out, self.finished = len(combos), out, 0
        self._seen: dict[int, int] = {}

    def __enter__(self) -> Lines:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def changed(self, o: Outcome) -> None:
        c = o.combination
        steps = list(o.steps.items())
        shown = self._seen.get(c.index, 0)
        for step, what in steps[shown:]:
            self._print(f"  [{c.index}/{self.total}] {c.label}: {step} {what}")
        self._seen[c.index] = len(steps)
        if o.done:
            self.finished += 1
            why = f": step {o.step}: {o.error}" if o.state != "succeeded" and o.step else ""
            if o.state != "succeeded" and not o.step and o.error:
                why = f": {o.error}"
            self._print(
                f"[{self.finished}/{self.total} done] {c.label}: {o.state} "
                f"(ran {o.ran}, restored {o.restored}, {o.seconds:.1f} s){why}"
            )

    def _print(self, line: str) -> None:
        print(terminal_safe(line), file=self.out, flush=True)


class Live:
    """A progress bar over the combinations and a table of them, redrawn as they change."""

    def __init__(self, combos: Sequence[Combination], console: Any = None) -> None:
        from rich.console import Console
        from rich.live import Live as RichLive
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        self.outcomes = {c.index: Outcome(c) for c in combos}
        self.progress = Progress(
            "sweep", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), auto_refresh=False
        )
        self.task = self.progress.add_task("sweep", total=len(combos))
        self.live = RichLive(
            self._render(), console=console or Console(), refresh_per_second=4, transient=False
        )

    def __enter__(self) -> Live:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.update(self._render(), refresh=True)
        self.live.__exit__(None, None, None)

    def changed(self, outcome: Outcome) -> None:
        self.outcomes[outcome.combination.index] = outcome
        done = sum(1 for o in self.outcomes.values() if o.done)
        self.progress.update(self.task, completed=done)
        self.live.update(self._render())

    def _render(self) -> Any:
        from rich.console import Group
        from rich.markup import escape
        from rich.table import Table

        table = Table(expand=False)
        for column in ("#", "parameters", "status", "step", "ran", "restored", "seconds", "error"):
            table.add_column(column, overflow="ellipsis", no_wrap=column == "error")
        for o in self.outcomes.values():
            style = _STYLE.get(o.state, "")
            table.add_row(
                str(o.combination.index),
                escape(o.combination.label),
                f"[{style}]{o.state}[/]" if style else o.state,
                escape(o.step or ""),
                str(o.ran),
                str(o.restored),
                f"{o.seconds:.1f}",
                escape((o.error or "")[:80]),
            )
        return Group(self.progress, table)


def view(combos: Sequence[Combination], *, json_output: bool) -> View:
    if json_output:
        return Silent()
    if sys.stdout.isatty():
        return Live(combos)
    return Lines(combos)
