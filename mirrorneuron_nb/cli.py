"""mn-nb: notebooks' sidecars from a terminal or a batch job.

Commands parse arguments and print; the logic lives in batch/status/store. Bad input
exits 2 with a one-line message, a failed run exits 1 naming the step and its error.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import MirrorNeuronError
from .sidecar import sidecar_of
from .store import Store

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_AWAITING_APPROVAL = 3


class CliError(MirrorNeuronError):
    """Bad input on the command line: exit 2."""


def _notebook(path: str) -> Path:
    notebook = Path(path)
    if not notebook.is_file():
        raise CliError(f"no such notebook: {notebook}")
    if notebook.suffix != ".ipynb":
        raise CliError(f"not a notebook (expected .ipynb): {notebook}")
    return notebook.resolve()


def _open(notebook: Path, *, readonly: bool = True) -> Store:
    sidecar = sidecar_of(notebook)
    if not (sidecar / "state.sqlite").exists():
        raise CliError(f"no sidecar for {notebook.name} yet ({sidecar}): run a step first")
    return Store(sidecar, readonly=readonly)


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
            raise CliError(f"cannot read parameters file {args.parameters_file}: {exc}") from None
        if not isinstance(loaded, dict):
            raise CliError(f"parameters file {args.parameters_file} must hold a mapping")
        params.update(loaded)
    for name, raw in args.parameter or []:
        if not name.isidentifier():
            raise CliError(f"-p: {name!r} is not a valid parameter name")
        params[name] = _value(raw)
    return params


def _run(args: argparse.Namespace) -> int:
    from .batch import CellOutcome, run_notebook
    from .notebook import step_cells
    from .status import status_table, step_views

    notebook = _notebook(args.notebook)
    if not step_cells(notebook):
        raise CliError(f"{notebook.name} has no %%mn_step cells: nothing would be checkpointed")
    sidecar = sidecar_of(notebook)
    if (sidecar / "state.sqlite").exists():
        Store(sidecar, readonly=True).close()  # refuses a newer schema before running
    output = Path(args.output) if args.output else sidecar / "last-run.ipynb"
    if output.resolve() == notebook:
        raise CliError("OUTPUT is the input notebook: choose another path")
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


def _status(args: argparse.Namespace) -> int:
    from .status import status_table, step_views

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


def _log(args: argparse.Namespace) -> int:
    from .render import table

    notebook = _notebook(args.notebook)
    store = _open(notebook)
    try:
        if args.step is not None and store.step(args.step) is None:
            raise CliError(f"unknown step {args.step!r}")
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


def _reset(args: argparse.Namespace) -> int:
    if bool(args.steps) == bool(args.all):
        raise CliError("name the steps to reset, or pass --all (not both)")
    notebook = _notebook(args.notebook)
    store = _open(notebook, readonly=False)
    try:
        done = store.reset(None if args.all else args.steps)
    finally:
        store.close()
    print(f"mn-nb: dropped checkpoints of {', '.join(done) or 'no steps'}")
    return 0


def _gc(args: argparse.Namespace) -> int:
    from .render import format_bytes

    if args.keep_runs is not None and args.keep_runs < 0:
        raise CliError("--keep-runs must be 0 or more")
    if args.grace_seconds < 0:
        raise CliError("--grace-seconds must be 0 or more")
    notebook = _notebook(args.notebook)
    store = _open(notebook, readonly=False)
    try:
        plan = store.gc(args.keep_runs)
        files, freed = store.blobs.collect(plan.referenced, args.grace_seconds)
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        store.close()
    print(
        f"mn-nb: dropped {plan.checkpoints_dropped} checkpoint(s), deleted {files} blob "
        f"file(s), freed {format_bytes(freed)}"
    )
    return 0


def _approve(args: argparse.Namespace) -> int:
    import getpass

    notebook = _notebook(args.notebook)
    store = _open(notebook, readonly=False)
    try:
        decision = store.decide(args.step, not args.reject, getpass.getuser(), args.note)
    finally:
        store.close()
    verb = "approved" if decision.status == "approved" else "rejected"
    follow = (
        "the next run proceeds past the gate"
        if verb == "approved"
        else "it and later steps will not run (mn-nb reset to ask again)"
    )
    print(f"mn-nb: step {args.step!r} {verb} by {decision.decided_by}: {follow}")
    return 0


def _trust(args: argparse.Namespace) -> int:
    from .trusting import trust_sidecar

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


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(Path(args.dir) if args.dir else None)


# -- parser ---------------------------------------------------------------------------------


def _command(sub: Any, name: str, summary: str, description: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(name, help=summary, description=description)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mn-nb",
        description="Durable execution for Jupyter notebooks: run notebooks that resume "
        "where they failed, and inspect their step sidecars (NOTEBOOK.mn/ beside them).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    nb_help = "path to the .ipynb (its sidecar is NAME.mn/ beside it)"

    run = _command(
        sub,
        "run",
        "run a notebook with papermill, resuming from its checkpoints",
        "Execute NOTEBOOK with papermill. Steps that already succeeded with the same "
        "code and inputs are restored from the sidecar, not re-executed; parameters "
        "are inputs, so changing one re-runs only the steps that read it. Exits 0 "
        "on success, 1 naming the failed step, 2 on bad input, 3 when the run stopped at "
        "a step awaiting approval.",
    )
    run.add_argument("notebook", help=nb_help)
    run.add_argument(
        "output", nargs="?", help="executed notebook to write (default: NAME.mn/last-run.ipynb)"
    )
    run.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        help="a papermill parameter (repeatable); VALUE is read as "
        "True/False/None, int, float, else text",
    )
    run.add_argument(
        "-f",
        "--parameters-file",
        metavar="YAML",
        help="a YAML mapping of parameters (-p values override it)",
    )
    run.add_argument(
        "--fresh",
        action="store_true",
        help="ignore checkpoints: execute every step (new checkpoints are kept)",
    )
    run.set_defaults(func=_run)

    status = _command(
        sub,
        "status",
        "show the steps of a notebook",
        "Show the steps of NOTEBOOK: status (pending, running, succeeded, "
        "cached, failed, interrupted, stale), duration, attempts, checkpoint "
        "size, last run, and the error or why a step is stale.",
    )
    status.add_argument("notebook", help=nb_help)
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")
    status.set_defaults(func=_status)

    log = _command(
        sub,
        "log",
        "show the event history of a notebook",
        "Show the append-only event log of NOTEBOOK's sidecar: runs, attempts, "
        "successes, failures, cache hits, resets, in order.",
    )
    log.add_argument("notebook", help=nb_help)
    log.add_argument("--step", metavar="NAME", help="only the events of this step")
    log.add_argument("--limit", type=int, default=1000, help="at most this many events")
    log.add_argument("--json", action="store_true", help="print JSON instead of a table")
    log.set_defaults(func=_log)

    reset = _command(
        sub,
        "reset",
        "drop checkpoints so steps run again",
        "Drop the checkpoints of the named steps (or --all), so the next run executes them again.",
    )
    reset.add_argument("notebook", help=nb_help)
    reset.add_argument("steps", nargs="*", metavar="STEP", help="steps to reset")
    reset.add_argument("--all", action="store_true", help="reset every step")
    reset.set_defaults(func=_reset)

    gc = _command(
        sub,
        "gc",
        "delete checkpoint data nothing uses any more",
        "Delete blob files no checkpoint references and report the bytes freed. "
        "Each step's current checkpoint is always kept.",
    )
    gc.add_argument("notebook", help=nb_help)
    gc.add_argument(
        "--keep-runs",
        type=int,
        metavar="N",
        help="also drop older checkpoints not written by the newest N runs",
    )
    gc.add_argument(
        "--grace-seconds",
        type=float,
        default=3600.0,
        metavar="S",
        help="only delete unreferenced files older than S seconds (default 3600), "
        "so a checkpoint being written right now is never touched",
    )
    gc.set_defaults(func=_gc)

    approve = _command(
        sub,
        "approve",
        "approve (or reject) a step waiting at its gate",
        "Decide on a step run with --approve QUESTION that is waiting: approve it so the "
        "next run proceeds past the gate, or --reject it so it and the steps after it do "
        "not run.",
    )
    approve.add_argument("notebook", help=nb_help)
    approve.add_argument("step", help="the step awaiting approval")
    approve.add_argument("--reject", action="store_true", help="reject instead of approve")
    approve.add_argument("--note", metavar="TEXT", help="a note recorded with the decision")
    approve.set_defaults(func=_approve)

    trust = _command(
        sub,
        "trust",
        "trust a sidecar copied from another user or machine",
        "Checkpoints are signed with a per-user key, and values signed with another key "
        "are never loaded (unpickling can run code). Re-sign every checkpointed value and "
        "recorded durable-call result of NOTEBOOK's sidecar with your key, so %mn_resume "
        "and cache hits load them. Each blob is checked against its hash first: a value "
        "whose data is missing or corrupted is not signed, and is named (exit 1).",
    )
    trust.add_argument("notebook", help=nb_help)
    trust.set_defaults(func=_trust)

    demo = _command(
        sub,
        "demo",
        "run the demo: a run that fails midway and resumes",
        "Run notebooks/demo.ipynb: a batch run fails midway during a simulated API outage "
        "and the next run resumes at the failed step; then a kernel is killed and a fresh "
        "one gets its state back with %%mn_resume; the step table is printed.",
    )
    demo.add_argument("--dir", help="working directory (default: a new temporary one)")
    demo.set_defaults(func=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except MirrorNeuronError as exc:
        print(f"mn-nb: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
