"""What each `mn-nb` command does, given its parsed arguments: call the store, the batch
runner or the status views, and print. The parser and the exit codes live in cli.py."""

from __future__ import annotations

import argparse
import dataclasses
import json
import keyword
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import limits
from ..errors import UnknownStep, UsageFailure
from ..models import ApprovalStatus
from ..render import format_wake, terminal_safe
from ..sidecar import sidecar_of
from ..store import Store, open_store, run_output_dir, store_exists
from .run import LEASE_HELD, BatchResult

if TYPE_CHECKING:
    from ..status import StepView

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


def run(args: argparse.Namespace) -> int:
    from ..notebook import read_notebook, step_cells
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

    report = RunReport(len(step_cells(notebook)), as_json=args.json)
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
