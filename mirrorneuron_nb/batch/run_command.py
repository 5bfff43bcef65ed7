"""`mn-nb run`: check the notebook and its parameters, run it with papermill through the
batch runner, and end with the step table and one line (the exit code names what
stopped it). Parsing is in parser.py; parameters are read in commands.py."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .. import limits
from ..errors import UsageFailure
from ..notebook import step_cells, valid_cells
from ..render import format_wake, terminal_safe
from ..sidecar import sidecar_of
from ..store import open_store, run_output_dir, store_exists
from .commands import (
    EXIT_AWAITING_APPROVAL,
    EXIT_FAILED,
    EXIT_LEASE_HELD,
    EXIT_SLEEPING,
    _notebook,
    _parameters,
)
from .run import LEASE_HELD, BatchResult

if TYPE_CHECKING:
    from ..status import StepView


def run(args: argparse.Namespace) -> int:
    from ..notebook import read_notebook
    from ..status import step_views
    from .reporting import RunReport
    from .run import check_notebook, check_parameters, run_notebook

    max_sleep = None if args.max_sleep is None else limits.seconds("--max-sleep", args.max_sleep)
    lease_wait = (
        None if args.lease_wait is None else limits.seconds("--lease-wait", args.lease_wait)
    )
    notebook = _notebook(args.notebook)
    read_notebook(notebook)  # not a notebook at all: say so before anything else
    if not step_cells(notebook):
        raise UsageFailure(f"{notebook.name} has no %%mn_step cells: nothing would be checkpointed")
    sidecar = sidecar_of(notebook)
    if store_exists(sidecar, notebook):
        # Refuses a newer schema or a damaged database before running.
        open_store(sidecar, notebook=notebook, readonly=True, verify=True).close()
    check_notebook(notebook)
    output = (
        Path(args.output) if args.output else run_output_dir(sidecar, notebook) / "last-run.ipynb"
    )
    if output.resolve() == notebook:
        raise UsageFailure("OUTPUT is the input notebook: choose another path")
    params = _parameters(args)
    if not args.allow_unknown_params:
        check_parameters(notebook, list(params))
    if args.lease_wait is not None:
        limits.seconds("--lease-wait", args.lease_wait)
    output.parent.mkdir(parents=True, exist_ok=True)

    report = RunReport(len(valid_cells(step_cells(notebook))), as_json=args.json)
    fresh = " (fresh)" if args.fresh else ""
    report.header(f"mn-nb run {notebook.name} -> {output}{fresh}")
    try:
        result = run_notebook(
            notebook,
            output,
            params,
            fresh=args.fresh,
            progress=report.step,
            max_sleep=max_sleep,
            lease_wait=lease_wait,
        )
    finally:
        report.close()
    # A run that stopped before any step recorded anything (a cell the magic refused) has
    # no sidecar yet: its steps are all pending.
    store = (
        open_store(sidecar, notebook=notebook, readonly=True)
        if store_exists(sidecar, notebook)
        else None
    )
    try:
        views = step_views(store, notebook)
    finally:
        if store is not None:
            store.close()
    report.table(views)
    code, message = _run_ending(notebook, result, views)
    report.summary(result, views, code, message)
    if code == 0:
        if not args.json:
            print()
            print(terminal_safe(message))
    else:
        print(terminal_safe(message), file=sys.stderr)
    return code


def _run_ending(notebook: Path, result: BatchResult, views: list[StepView]) -> tuple[int, str]:
    """The exit code and the one line that ends a run."""
    step = result.failed_step
    if not result.ok and result.outcome == "sleeping":
        wake = next((v.wake_at for v in views if v.name == step), None)
        until = format_wake(wake) if wake is not None else "its wake-up time"
        return EXIT_SLEEPING, (
            f"mn-nb: step `{step}` sleeps until {until}: run the same command again after that"
        )
    if not result.ok and result.outcome == "awaiting_approval":
        return EXIT_AWAITING_APPROVAL, (
            f"mn-nb: run paused at step {step!r}, which awaits approval. "
            f"Approve it with `mn-nb approve {notebook.name} {step}` "
            "(or --reject), then run the same command again."
        )
    if not result.ok and result.outcome == LEASE_HELD:
        return EXIT_LEASE_HELD, (
            f"mn-nb: run stopped at step {step!r}: {result.error}. Run the "
            "same command again when it is done: its checkpoint will be restored."
        )
    if not result.ok:
        where = f"step {step!r}" if step else result.cell
        return EXIT_FAILED, (
            f"mn-nb: run failed at {where}: {result.error}. Fix it and run the same "
            "command again: steps that succeeded will be restored, not re-run."
        )
    return 0, f"mn-nb: run succeeded in {result.seconds:.1f} s; output: {result.output}"
