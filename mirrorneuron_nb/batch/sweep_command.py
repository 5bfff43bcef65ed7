"""`mn-nb sweep`: parse, check, run the grid (batch/sweep*.py), print the summary."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .. import limits
from ..errors import UsageFailure
from ..render import terminal_safe
from ..sidecar import sidecar_of
from ..store import Store, sidecar_exists
from .commands import EXIT_FAILED, _notebook, _parameter_name, _parameters, _value
from .sweep import as_json, combinations, failure_line, parse_grid, write_summary


def sweep(args: argparse.Namespace) -> int:
    from ..notebook import read_notebook, step_cells
    from . import sweep_dask
    from .run import check_notebook
    from .sweep_view import view

    notebook = _notebook(args.notebook)
    read_notebook(notebook)
    if not step_cells(notebook):
        raise UsageFailure(f"{notebook.name} has no %%mn_step cells: nothing would be checkpointed")
    fixed = _parameters(args)
    grid = parse_grid(args.grid or [], fixed, _value, _parameter_name)
    if args.workers is not None:
        limits.count("--workers", args.workers)
        if args.workers < 1:
            raise UsageFailure("--workers must be at least 1")
    sidecar = sidecar_of(notebook)
    if sidecar_exists(sidecar):
        Store(sidecar, readonly=True, verify=True).close()  # newer or damaged: refuse now
    check_notebook(notebook)
    out = Path(args.out) if args.out else notebook.with_name(f"{notebook.stem}_sweep")
    if out.exists() and not out.is_dir():
        raise UsageFailure(f"--out {out} is not a directory")
    combos = combinations(grid, notebook, out.resolve())
    workers = args.workers or max(1, min(len(combos), os.cpu_count() or 1))
    where = args.dask or f"a local Dask cluster of {workers} process(es)"
    if not args.json:
        print(
            terminal_safe(
                f"mn-nb sweep {notebook.name}: {len(combos)} combination(s) on {where} -> {out}"
            )
        )
    with sweep_dask.client(args.dask, workers) as dask:
        out.mkdir(parents=True, exist_ok=True)  # only once a cluster is there to run
        with view(combos, json_output=args.json) as shown:
            outcomes = sweep_dask.execute(dask, notebook, combos, fixed, shown.changed)
    csv_path, json_path = write_summary(out, outcomes)
    if args.json:
        print(json.dumps(as_json(outcomes), indent=2, default=repr))
    else:
        print(terminal_safe(f"mn-nb: summary in {csv_path} and {json_path}"))
    failed = failure_line(outcomes)
    if failed is None:
        return 0
    print(terminal_safe(f"mn-nb: {failed}"), file=sys.stderr)
    return EXIT_FAILED
