"""`mn-nb sweep`: every combination of a parameter grid as a resumable batch run.

The grid (`-g lr=0.1,0.01 -g depth=3,5`) is parsed like `mn-nb run -p` values; each
combination is one `run_notebook` (papermill, our engine, the notebook's own sidecar) on a
Dask worker (sweep_dask.py), shown as it goes (sweep_view.py), and summarised as CSV and
JSON in the output directory. Every combination shares the notebook's sidecar: a step
whose inputs (parameters included) are the same in two combinations has one cache key, so
it runs once (its lease makes the other wait, then restore); a second sweep restores what
succeeded and runs only what failed or never finished.
"""

from __future__ import annotations

import csv
import itertools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UsageFailure

MAX_COMBINATIONS = 10_000
SUMMARY_CSV = "summary.csv"
SUMMARY_JSON = "summary.json"
_COLUMNS = (
    *("index", "status", "failed_step", "error", "ran", "restored", "seconds", "output"),
    *("steps", "parameters"),
)
_UNSAFE = re.compile(r"[^A-Za-z0-9._=-]+")


def parse_grid(
    specs: Sequence[str], fixed: dict[str, Any], value: Any, check_name: Any
) -> dict[str, list[Any]]:
    """`NAME=V1,V2,...` per -g (values read by `value`, like -p); one line on bad input."""
    grid: dict[str, list[Any]] = {}
    for spec in specs:
        name, sep, raw = spec.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageFailure(f"-g {spec!r}: expected NAME=VALUE[,VALUE...]")
        check_name(name, "-g")
        if name in grid:
            raise UsageFailure(f"-g {name}: given twice (list every value in one -g)")
        if name in fixed:
            raise UsageFailure(f"-g {name}: also set with -p (a parameter is fixed or swept)")
        items = raw.split(",")
        if any(not item.strip() for item in items):
            raise UsageFailure(f"-g {spec!r}: an empty value (values are separated by commas)")
        values = [value(item.strip()) for item in items]
        seen: list[Any] = []
        for v in values:
            if any(type(v) is type(s) and v == s for s in seen):
                raise UsageFailure(f"-g {name}: the value {v!r} is given twice")
            seen.append(v)
        grid[name] = values
    if not grid:
        raise UsageFailure("give at least one -g NAME=VALUE[,VALUE...] to sweep")
    count = 1
    for values in grid.values():
        count *= len(values)
    if count > MAX_COMBINATIONS:
        raise UsageFailure(f"the grid has {count} combinations (at most {MAX_COMBINATIONS})")
    return grid


@dataclass(frozen=True)
class Combination:
    index: int
    parameters: dict[str, Any]
    """The swept values only (the run also gets the fixed -p ones)."""
    output: Path

    @property
    def label(self) -> str:
        return " ".join(
            f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in self.parameters.items()
        )


def combinations(grid: dict[str, list[Any]], notebook: Path, out: Path) -> list[Combination]:
    """Every combination, in grid order, each with its own output notebook."""
    names = list(grid)
    found = []
    for index, values in enumerate(itertools.product(*grid.values()), start=1):
        params = dict(zip(names, values, strict=True))
        tag = _UNSAFE.sub("_", "_".join(f"{k}={v}" for k, v in params.items()))[:120]
        found.append(Combination(index, params, out / f"{notebook.stem}-{index:03d}-{tag}.ipynb"))
    return found


@dataclass
class Outcome:
    """What one combination's run did (filled in as its cells complete)."""

    combination: Combination
    state: str = "pending"
    """pending, running, succeeded, failed (a step failed or the run stopped) or error
    (the run itself could not happen: its worker died, the kernel did not start...)."""
    step: str | None = None
    """The step running now, or where it failed."""
    error: str | None = None
    ran: int = 0
    restored: int = 0
    seconds: float = 0.0
    steps: dict[str, str] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.state in ("succeeded", "failed", "error")

    def row(self) -> dict[str, Any]:
        c = self.combination
        # A parameter named like one of the columns keeps its value under `param:NAME`.
        params = {f"param:{k}" if k in _COLUMNS else k: v for k, v in c.parameters.items()}
        return {
            "index": c.index,
            **params,
            "status": self.state,
            "failed_step": self.step if self.state != "succeeded" else None,
            "error": self.error,
            "ran": self.ran,
            "restored": self.restored,
            "seconds": round(self.seconds, 3),
            "output": str(c.output),
        }


def write_summary(out: Path, outcomes: Sequence[Outcome]) -> tuple[Path, Path]:
    """summary.csv and summary.json in the output directory: one row per combination."""
    rows = [o.row() for o in outcomes]
    json_path, csv_path = out / SUMMARY_JSON, out / SUMMARY_CSV
    json_path.write_text(json.dumps(rows, indent=2, default=repr) + "\n", encoding="utf-8")
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["index"])
        writer.writeheader()
        writer.writerows(rows)
    return csv_path, json_path


def failure_line(outcomes: Sequence[Outcome]) -> str | None:
    """One line naming each combination that did not succeed, and why; None: all did."""
    failed = [o for o in outcomes if o.state != "succeeded"]
    if not failed:
        return None
    parts = []
    for o in failed:
        where = f"step {o.step}: " if o.step else ""
        why = " ".join(str(o.error or o.state).split())  # the summary stays one line
        parts.append(f"{o.combination.label} ({where}{why})")
    return f"{len(failed)} of {len(outcomes)} combination(s) failed: " + "; ".join(parts)


def as_json(outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
    return [
        {**o.row(), "steps": dict(o.steps), "parameters": dict(o.combination.parameters)}
        for o in outcomes
    ]
