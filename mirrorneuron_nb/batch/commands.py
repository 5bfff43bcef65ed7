"""What each `mn-nb` command does, given its parsed arguments: call the store, the batch
runner or the status views, and print. The parser and the exit codes live in cli.py."""

from __future__ import annotations

import argparse
import dataclasses
import json
import keyword
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import limits
from ..errors import UnknownStep, UsageFailure
from ..models import ApprovalStatus
from ..notebook import step_cells
from ..render import terminal_safe
from ..sidecar import sidecar_of
from ..store import Store, open_store, store_exists

if TYPE_CHECKING:
    pass

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_AWAITING_APPROVAL = 3
EXIT_DAMAGED = 3  # the code for a damaged store; `run` also stops at a gate with 3
EXIT_SLEEPING = 5  # a run stopped at a wait longer than --max-sleep: run it again later
EXIT_LEASE_HELD = 4  # `run` stopped waiting for a step another process is running
EXIT_SIDECAR = 6


def _notebook(path: str) -> Path:
    notebook = Path(path)
    if notebook.is_dir():
        raise UsageFailure(f"{notebook} is a directory, not a notebook")
    if not notebook.is_file():
        raise UsageFailure(f"no such notebook: {notebook}")
    if notebook.suffix != ".ipynb":
        raise UsageFailure(f"not a notebook (expected .ipynb): {notebook}")
    return notebook.resolve()


def _open(notebook: Path, *, readonly: bool = True) -> Store:
    sidecar = sidecar_of(notebook)
    if not store_exists(sidecar, notebook):
        from ..notebook import read_notebook

        read_notebook(notebook)  # a file that is not a notebook: say that, not "no sidecar"
        raise UsageFailure(f"no sidecar for {notebook.name} yet ({sidecar}): run a step first")
    # Every command checks the database's pages as it opens: a damaged file is one line
    # (exit 3), never a traceback halfway through, and never written to.
    return open_store(sidecar, notebook=notebook, readonly=readonly, verify=True)


def _known_steps(store: Store, names: list[str]) -> None:
    """Refuse names the sidecar does not know, listing the ones it does (a typo is easy to
    see next to the real names)."""
    known = [s.name for s in store.steps()]
    unknown = [n for n in names if n not in known]
    if unknown:
        what = "step" if len(unknown) == 1 else "steps"
        listed = ", ".join(known) if known else "none recorded yet"
        raise UnknownStep(f"unknown {what} {', '.join(map(repr, unknown))} (steps: {listed})")


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

        source = args.parameters_file
        try:
            loaded = yaml.safe_load(Path(source).read_text(encoding="utf-8"))
        except OSError as exc:
            raise UsageFailure(f"cannot read parameters file {source}: {exc.strerror}") from None
        except (yaml.YAMLError, ValueError, RecursionError) as exc:
            # ValueError: not UTF-8 text. A YAML error spans lines: keep them, as one.
            why = " ".join(str(exc).split())
            raise UsageFailure(f"parameters file {source} is not YAML: {why}") from None
        if not isinstance(loaded, dict):
            raise UsageFailure(f"parameters file {source} must hold a mapping of names to values")
        for name in loaded:
            _parameter_name(name, f"parameters file {source}")
        params.update(loaded)
    for name, raw in args.parameter or []:
        _parameter_name(name, "-p")
        params[name] = _value(raw)
    return params


def _parameter_name(name: object, where: str) -> None:
    """papermill writes `NAME = VALUE` into the notebook: NAME must be assignable."""
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise UsageFailure(f"{where}: {name!r} is not a valid parameter name")


# -- status, log ----------------------------------------------------------------------------


def status(args: argparse.Namespace) -> int:
    from ..notebook import invalid_cells
    from ..status import status_table, step_views

    notebook = _notebook(args.notebook)
    store = _open(notebook)
    try:
        views = step_views(store, notebook)
    finally:
        store.close()
    # A name the magic refuses is no step: not in the table, named apart.
    invalid = [
        {"cell": c.cell, "cell_id": c.cell_id, "name": c.name, "error": c.name_error}
        for c in invalid_cells(step_cells(notebook))
    ]
    if args.json:
        rows = [{**dataclasses.asdict(v), "status": v.status.value} for v in views]
        out = {"notebook": str(notebook), "steps": rows, "invalid_cells": invalid}
        print(json.dumps(out, indent=2))
        return 0
    print(status_table(views))
    for cell in invalid:
        print(terminal_safe(f"mn-nb: cell {cell['cell']} is not a step: {cell['error']}"))
    return 0


def plan(args: argparse.Namespace) -> int:
    from ..notebook import read_notebook
    from ..planning import plan_notebook, plan_summary, plan_table

    notebook = _notebook(args.notebook)
    read_notebook(notebook)  # not a notebook at all: one line, before the sidecar
    # No sidecar yet is no error here: every step is new.
    store = _open(notebook) if store_exists(sidecar_of(notebook), notebook) else None
    try:
        planned = plan_notebook(notebook, store)
    finally:
        if store is not None:
            store.close()
    if args.json:
        print(json.dumps(planned.as_json(), indent=2))
    elif planned.steps:
        print(plan_table(planned))
        print()
        print(terminal_safe(plan_summary(planned)))
    else:
        print(plan_summary(planned))
    return 0


def log(args: argparse.Namespace) -> int:
    from ..render import clip, table

    limits.count("--limit", args.limit)
    notebook = _notebook(args.notebook)
    store = _open(notebook)
    try:
        if args.step is not None:
            _known_steps(store, [args.step])
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
            clip(json.dumps(e.detail), 70),
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
        if not args.all:
            _known_steps(store, args.steps)
        done = store.reset(None if args.all else args.steps)
    finally:
        store.close()
    if args.json:
        print(json.dumps({"reset": list(done)}))
    else:
        print(terminal_safe(f"mn-nb: dropped checkpoints of {', '.join(done) or 'no steps'}"))
    return 0


def gc(args: argparse.Namespace) -> int:
    from ..render import format_bytes
    from .progress import ItemBar

    # nan would delete files being written right now; a huge count overflows SQLite.
    if args.keep_runs is not None:
        limits.count("--keep-runs", args.keep_runs)
    limits.seconds("--grace-seconds", args.grace_seconds)
    notebook = _notebook(args.notebook)
    store = _open(notebook, readonly=False)
    try:
        plan = store.gc(args.keep_runs)
        with ItemBar("checking blob files", "file", enabled=not args.json) as bar:
            files, freed = store.blobs.collect(plan.referenced, args.grace_seconds, bar)
        store.truncate_wal()
    finally:
        store.close()
    if args.json:
        dropped = plan.checkpoints_dropped
        print(json.dumps({"checkpoints_dropped": dropped, "files": files, "bytes_freed": freed}))
        return 0
    print(
        f"mn-nb: dropped {plan.checkpoints_dropped} checkpoint(s), deleted {files} blob "
        f"file(s), freed {format_bytes(freed)}"
    )
    if store.blobs.remote:
        print(
            terminal_safe(
                f"mn-nb: blobs at {store.blobs.location} are shared with other notebooks: "
                "gc deletes none of them (expire them with the bucket's lifecycle rules)"
            )
        )
    return 0


def approve(args: argparse.Namespace) -> int:
    import getpass

    notebook = _notebook(args.notebook)
    store = _open(notebook, readonly=False)
    try:
        _known_steps(store, [args.step])
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
    if args.json:
        print(json.dumps(decision.model_dump(mode="json")))
    else:
        print(terminal_safe(f"mn-nb: step {args.step!r} {verb} by {decision.decided_by}: {follow}"))
    return 0


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
