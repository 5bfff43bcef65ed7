"""What `mn-nb run` shows while it runs and when it ends: one line per step (above a tqdm
progress bar on a terminal), the step table, or with --json one JSON summary on stdout.

A bar is drawn only when stderr is a terminal and `CI` is not set: piped output and CI
logs get the plain lines, with no carriage returns in them.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import Any

from ..render import terminal_safe
from ..status import StepView, status_table
from .progress import bar_wanted
from .run import BatchResult, CellOutcome


class RunReport:
    """Collects and prints a run's step outcomes: lines (and a bar), or JSON at the end."""

    def __init__(self, steps: int, *, as_json: bool) -> None:
        self.as_json = as_json
        self.outcomes: list[CellOutcome] = []
        self.bar: Any = None
        if not as_json and steps and bar_wanted(sys.stderr):
            from tqdm import tqdm

            self.bar = tqdm(total=steps, unit="step", file=sys.stderr, leave=False)

    def header(self, line: str) -> None:
        if not self.as_json:
            print(terminal_safe(line), flush=True)

    def step(self, outcome: CellOutcome) -> None:
        self.outcomes.append(outcome)
        if self.as_json:
            return
        line = f"  {outcome.step:<24} {outcome.outcome:<9} {outcome.seconds:7.1f} s"
        if outcome.error:
            line += f"  {outcome.error}"
        if self.bar is not None:
            self.bar.write(terminal_safe(line), file=sys.stdout)
            self.bar.set_postfix_str(terminal_safe(outcome.step), refresh=False)
            self.bar.update(1)
        else:
            print(terminal_safe(line), flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def table(self, views: list[StepView]) -> None:
        if not self.as_json:
            print()
            print(status_table(views))

    def summary(
        self, result: BatchResult, views: list[StepView], code: int, message: str | None
    ) -> None:
        """--json: the run as one object (the one-line message stays on stderr)."""
        if not self.as_json:
            return
        print(
            json.dumps(
                {
                    "ok": result.ok,
                    "exit_code": code,
                    "output": str(result.output),
                    "seconds": round(result.seconds, 3),
                    "failed_step": result.failed_step,
                    "failed_cell": result.cell,
                    "outcome": result.outcome,
                    "error": result.error,
                    "message": message,
                    "cells": [dataclasses.asdict(o) for o in self.outcomes],
                    "steps": [{**dataclasses.asdict(v), "status": v.status.value} for v in views],
                },
                indent=2,
                default=str,
            )
        )
