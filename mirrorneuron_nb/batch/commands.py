"""What each `mn-nb` command does, given its parsed arguments: call the store, the batch
runner or the status views, and print. The parser and the exit codes live in cli.py."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

from ..errors import UsageFailure
from ..models import ApprovalStatus
from ..sidecar import sidecar_of
from ..store import Store, sidecar_exists

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_AWAITING_APPROVAL = 3
EXIT_DAMAGED = 3  # the code for a damaged store; `run` also stops at a gate with 3
EXIT_SIDECAR = 6


def _notebook(path: str) -> Path:
    notebook = Path(path)
    if not notebook.is_file():
        raise UsageFailure(f"no such notebook: {notebook}")
    if notebook.suffix != ".ipynb":
        raise UsageFailure(f"not a notebook (expected .ipynb): {notebook}")
    return notebook.resolve()


def _open(notebook: Path, *, readonly: bool = True) -> Store:
    sidecar = sidecar_of(notebook)
    if not sidecar_exists(sidecar):
        raise UsageFailure(f"no sidecar for {notebook.name} yet ({sidecar}): run a step first")
    # Every command checks the database's pages as it opens: a damaged file is one line
    # (exit 3), never a traceback halfway through, and never written to.
    return Store(sidecar, readonly=readonly, verify=True)


# -- run ------------------------------------------------------------------------------------


def _value(text: str) -> Any:
    """Parameter values as papermill's CLI reads them: bool, None, int, float, else str."""
    if text in ("True", "False", "None"):
        return {"True": True, "False": False, "None": None}[text]
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _parameters(args: argparse.Namespace) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if args.parameters_file:
        import yaml

        try:
            loaded = yaml.safe_load(Path(args.parameters_file).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise UsageFailure(
                f"cannot read parameters file {args.parameters_file}: {exc}"
            ) from None
        if not isinstance(loaded, dict):
            raise UsageFailure(f"parameters file {args.parameters_file} must hold a mapping")
        params.update(loaded)
    for name, raw in args.parameter or []:
        if not name.isidentifier():
            raise UsageFailure(f"-p: {name!r} is not a valid parameter name")
        params[name] = _value(raw)
    return params


def run(args: argparse.Namespace) -> int:
    from ..notebook import step_cells
    from ..status import status_table, step_views
    from .run import CellOutcome, run_notebook

    notebook = _notebook(args.notebook)
    if not step_cells(notebook):
        raise UsageFailure(f"{notebook.name} has no %%mn_step cells: nothing would be checkpointed")
    sidecar = sidecar_of(notebook)
    if sidecar_exists(sidecar):
        # Refuses a newer schema or a damaged database before running.
        Store(sidecar, readonly=True, verify=True).close()
    output = Path(args.output) if args.output else sidecar / "last-run.ipynb"
    if output.resolve() == notebook:
        raise UsageFailure("OUTPUT is the input notebook: choose another path")
    params = _parameters(args)
    output.parent.mkdir(parents=True, exist_ok=True)

    def progress(outcome: CellOutcome) -> None:
        line = f"  {outcome.step:<24} {outcome.outcome:<9} {outcome.seconds:7.1f} s"
        if outcome.error:
            line += f"  {outcome.error}"
        print(line, flush=True)

    print(f"mn-nb run {notebook.name} -> {output}" + (" (fresh)" if args.fresh else ""))
    result = run_notebook(notebook, output, params, fresh=args.fresh, progress=progress)
    store = Store(sidecar, readonly=True)
    try:
        print()
        print(status_table(step_views(store, notebook)))
    finally:
        store.close()
    if not result.ok and result.outcome == "awaiting_approval":
        print(
            f"mn-nb: run paused at step {result.failed_step!r}, which awaits approval. "
            f"Approve it with `mn-nb approve {notebook.name} {result.failed_step}` "
            "(or --reject), then run the same command again.",
            file=sys.stderr,
        )
        return EXIT_AWAITING_APPROVAL
    if not result.ok:
        where = f"step {result.failed_step!r}" if result.failed_step else "a cell"
        print(
            f"mn-nb: run failed at {where}: {result.error}. Fix it and run the same "
            "command again: steps that succeeded will be restored, not re-run.",
            file=sys.stderr,
        )
        return EXIT_FAILED
    print(f"\nmn-nb: run succeeded in {result.seconds:.1f} s; output: {output}")
    return 0


# -- status, log ----------------------------------------------------------------------------


def status(args: argparse.Namespace) -> int:
    from ..status import status_table, step_views

    notebook = _notebook(args.notebook)
    store = _open(notebook)
    try:
        views = step_views(store, notebook)
    finally:
        store.close()
    if args.json:
        rows = [{**dataclasses.asdict(v), "status": v.status.value} for v in views]
        print(json.dumps({"notebook": str(notebook), "steps": rows}, indent=2))
    else:
        print(status_table(views))
    return 0


def log(args: argparse.Namespace) -> int:
    from ..render import table

    notebook = _notebook(args.notebook)
    store = _open(notebook)
    try:
        if args.step is not None and store.step(args.step) is None:
            raise UsageFailure(f"unknown step {args.step!r}")
        events = store.events(step=args.step, limit=args.limit)
    finally:
        store.close()
    if args.json:
        print(json.dumps([e.model_dump() for e in events], indent=2))
        return 0
    rows = [
        [
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.ts)),
            e.step or "-",
            e.kind,
            (e.run_id or "-")[:8],
            json.dumps(e.detail)[:70],
        ]
        for e in events
    ]
    print(table(["time", "step", "event", "run", "detail"], rows) if rows else "no events")
    return 0


# -- reset, gc ------------------------------------------------------------------------------


def reset(args: argparse.Namespace) -> int:
    if bool(args.steps) == bool(args.all):
        raise UsageFailure("name the steps to reset, or pass --all (not both)")
    notebook = _notebook(args.notebook)
    store = _open(notebook, readonly=False)
    try:
        done = store.reset(None if args.all else args.steps)
    finally:
        store.close()
    print(f"mn-nb: dropped checkpoints of {', '.join(done) or 'no steps'}")
    return 0


def gc(args: argparse.Namespace) -> int:
    from ..render import format_bytes

    if args.keep_runs is not None and args.keep_runs < 0:
        raise UsageFailure("--keep-runs must be 0 or more")
    if args.grace_seconds < 0:
        raise UsageFailure("--grace-seconds must be 0 or more")
    notebook = _notebook(args.notebook)
    store = _open(notebook, readonly=False)
    try:
        plan = store.gc(args.keep_runs)
        files, freed = store.blobs.collect(plan.referenced, args.grace_seconds)
        store.truncate_wal()
    finally:
        store.close()
    print(
        f"mn-nb: dropped {plan.checkpoints_dropped} checkpoint(s), deleted {files} blob "
        f"file(s), freed {format_bytes(freed)}"
    )
    return 0


def approve(args: argparse.Namespace) -> int:
    import getpass

    notebook = _notebook(args.notebook)
    store = _open(notebook, readonly=False)
    try:
        decision = store.decide(args.step, not args.reject, getpass.getuser(), args.note)
    finally:
        store.close()
    approved = decision.status is ApprovalStatus.approved
    verb = decision.status.value
    follow = (
        "the next run proceeds past the gate"
        if approved
        else "it and later steps will not run (mn-nb reset to ask again)"
    )
    print(f"mn-nb: step {args.step!r} {verb} by {decision.decided_by}: {follow}")
    return 0


def trust(args: argparse.Namespace) -> int:
    from ..values.trust import trust_sidecar

    notebook = _notebook(args.notebook)
    store = _open(notebook, readonly=False)
    print(
        f"mn-nb: WARNING: trusting {store.root} lets its checkpoints run code in your kernels "
        "(they are unpickled); only trust a sidecar that you, or someone you trust, wrote.",
        file=sys.stderr,
    )
    try:
        report = trust_sidecar(store)
    finally:
        store.close()
    print(
        f"mn-nb: signed {report.signed} value(s) with your key "
        f"({report.already} already were); %mn_resume and cache hits now load them"
    )
    if report.damaged:
        print(
            f"mn-nb: {len(report.damaged)} value(s) not signed, their data is damaged "
            "(re-run their steps to write them again):",
            file=sys.stderr,
        )
        for label, reason in report.damaged:
            print(f"  {label}: {reason}", file=sys.stderr)
        return EXIT_FAILED
    return 0


def doctor(args: argparse.Namespace) -> int:
    from .doctor import diagnose, render

    notebook = _notebook(args.notebook)
    sidecar = sidecar_of(notebook)
    if not sidecar.is_dir():
        raise UsageFailure(f"no sidecar for {notebook.name} yet ({sidecar}): run a step first")
    report = diagnose(sidecar, notebook)
    if args.json:
        print(json.dumps({"notebook": str(notebook), **report.as_json()}, indent=2))
    else:
        print(render(report))
    if report.healthy:
        return 0
    print(
        f"mn-nb: sidecar {sidecar} is damaged: see the report above for what can be recovered",
        file=sys.stderr,
    )
    return EXIT_DAMAGED


def demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(Path(args.dir) if args.dir else None)


def export(args: argparse.Namespace) -> int:
    notebook = _notebook(args.notebook)
    store = _open(notebook)
    try:
        tables = store.export()
    finally:
        store.close()
    if args.format == "json":
        print(json.dumps({"notebook": str(notebook), **tables}, indent=2, default=str))
        return 0
    import csv

    if not args.out:
        raise UsageFailure("--format csv writes one file per table: give --out DIR")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        with open(out / f"{name}.csv", "w", newline="", encoding="utf-8") as fh:
            columns = list(rows[0]) if rows else []
            writer = csv.DictWriter(fh, fieldnames=columns)
            writer.writeheader()
            for row in rows:
                writer.writerow(
                    {k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in row.items()}
                )
    print(f"mn-nb: wrote {', '.join(f'{n}.csv' for n in tables)} to {out}")
    return 0
