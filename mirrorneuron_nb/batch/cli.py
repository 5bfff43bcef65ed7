"""mn-nb: notebooks' sidecars from a terminal or a batch job.

Commands parse arguments and print; the logic lives in batch/status/store. Exit codes:
0 done; 1 a run failed (naming the step and its error); 2 bad input; 3 the sidecar is
damaged (its database or log is corrupt, vanished or replaced: the line names
`mn-nb doctor`), or a run stopped at a step awaiting approval; 4 a run stopped waiting
(--lease-wait) for a step another kernel or run is executing, naming it; 5 a run stopped at
a step sleeping longer than --max-sleep (run the same command again after its wake-up time);
6 the sidecar cannot be used otherwise (locked, unreadable, newer version). Every error is
one line.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from .. import config
from ..errors import InvalidInput, MirrorNeuronError, NotFound, SidecarDamaged, SidecarError
from ..render import terminal_safe
from ..store import open_blobs
from . import commands, share_commands, sidecar_commands, sweep_command
from .commands import EXIT_DAMAGED, EXIT_FAILED, EXIT_SIDECAR, EXIT_USAGE

# The first class in an error's MRO found here decides the exit code.
EXIT_CODES: dict[type[BaseException], int] = {
    InvalidInput: EXIT_USAGE,
    NotFound: EXIT_USAGE,
    SidecarDamaged: EXIT_DAMAGED,
    SidecarError: EXIT_SIDECAR,
    MirrorNeuronError: EXIT_FAILED,
}


def exit_code(exc: MirrorNeuronError) -> int:
    return next(EXIT_CODES[k] for k in type(exc).__mro__ if k in EXIT_CODES)


# -- parser ---------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad command line is one line (and exit 2) like every other input
    error, not a usage block: `mn-nb: error: MESSAGE (see mn-nb COMMAND --help)`."""

    json_errors = False
    """--json was on the command line: the error goes to stdout as JSON too."""

    def error(self, message: str) -> NoReturn:
        line = f"{terminal_safe(message)} (see {self.prog} --help)"
        if self.json_errors:
            print(json.dumps({"error": {"code": "usage_failure", "message": line}}))
        print(f"mn-nb: error: {line}", file=sys.stderr)
        sys.exit(EXIT_USAGE)


def _command(sub: Any, name: str, summary: str, description: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(name, help=summary, description=description)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mn-nb",
        description="Durable execution for Jupyter notebooks: run notebooks that resume "
        "where they failed, and inspect their step sidecars (NOTEBOOK.mn/ beside them).",
    )
    parser.add_argument(
        "--store",
        metavar="URL",
        help="a shared store (postgresql://...) instead of the sidecar beside the notebook "
        "(default: $MIRRORNEURON_STORE; notebooks are named by $MIRRORNEURON_PROJECT and "
        "their path under $MIRRORNEURON_ROOT)",
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
        "a step awaiting approval (or the sidecar is damaged: see mn-nb doctor), 4 when "
        "it stopped waiting for a step another kernel or run is executing (--lease-wait), "
        "5 when it stopped at a step sleeping longer than --max-sleep.",
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
        "--allow-unknown-params",
        action="store_true",
        help="inject parameters the cell tagged `parameters` does not define (by default "
        "an unknown name is an error, exit 2: usually a typo)",
    )
    run.add_argument(
        "--fresh",
        action="store_true",
        help="ignore checkpoints: execute every step (new checkpoints are kept)",
    )
    run.add_argument(
        "--max-sleep",
        type=float,
        metavar="S",
        help="a wait (mn.sleep, mn.wait_until) longer than S seconds parks its step "
        "`sleeping` and stops the run (exit 5): run the same command again after its "
        "wake-up time (default: sleep through every wait)",
    )
    run.add_argument(
        "--lease-wait",
        type=float,
        metavar="S",
        help="wait at most S seconds for a step another kernel or run is executing, then "
        "stop with exit code 4 naming it (default: wait until it is done)",
    )
    run.add_argument(
        "--json",
        action="store_true",
        help="print one JSON summary of the run instead of lines and a table",
    )
    run.set_defaults(func=commands.run)

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
    status.set_defaults(func=commands.status)

    plan = _command(
        sub,
        "plan",
        "show what the next run of a notebook will do, before anything runs",
        "Show every step of NOTEBOOK in order with what its next run does: restore it "
        "from its checkpoint, run it (and why: new, code changed, input changed, forced, "
        "failed last time, interrupted, always runs), wait for approval, sleep, or blocked "
        "by a rejected step. Reads the notebook and its sidecar only: nothing is run, "
        "loaded or written.",
    )
    plan.add_argument("notebook", help=nb_help)
    plan.add_argument("--json", action="store_true", help="print JSON instead of a table")
    plan.set_defaults(func=commands.plan)

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
    log.set_defaults(func=commands.log)

    reset = _command(
        sub,
        "reset",
        "drop checkpoints so steps run again",
        "Drop the checkpoints of the named steps (or --all), so the next run executes them again.",
    )
    reset.add_argument("notebook", help=nb_help)
    reset.add_argument("steps", nargs="*", metavar="STEP", help="steps to reset")
    reset.add_argument("--all", action="store_true", help="reset every step")
    reset.add_argument("--json", action="store_true", help="print JSON instead of a sentence")
    reset.set_defaults(func=commands.reset)

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
    gc.add_argument("--json", action="store_true", help="print JSON instead of a sentence")
    gc.set_defaults(func=commands.gc)

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
    approve.add_argument("--json", action="store_true", help="print JSON instead of a sentence")
    approve.set_defaults(func=commands.approve)

    trust = _command(
        sub,
        "trust",
        "trust a sidecar copied from another user or machine",
        "Checkpoints are signed with a per-user key, and values signed with another key "
        "are never loaded (unpickling can run code). Re-sign every checkpointed value and "
        "recorded durable-call result of NOTEBOOK's sidecar with your key, so %mn_resume "
        "and cache hits load them, and every checkpoint's outputs, so cache hits show them. "
        "Lists what it signs (steps, variables, types, sizes, output MIME types) and asks "
        "first. Each blob is checked against its hash first: a value whose data is missing "
        "or corrupted is not signed, and is named (exit 1).",
    )
    trust.add_argument("notebook", help=nb_help)
    trust.add_argument(
        "--yes", action="store_true", help="sign without asking (needed without a terminal)"
    )
    trust.add_argument(
        "--json",
        action="store_true",
        help="print what was signed (and what is damaged) as JSON; needs --yes",
    )
    trust.set_defaults(func=sidecar_commands.trust)

    export = _command(
        sub,
        "export",
        "export a notebook's records (runs, steps, attempts, checkpoints, events)",
        "Write the sidecar's records of NOTEBOOK, table by table, as JSON (to standard "
        "output) or as one CSV file per table (--format csv --out DIR). Values are not "
        "exported: checkpoints are described by their metadata.",
    )
    export.add_argument("notebook", help=nb_help)
    export.add_argument(
        "--format", choices=["json", "csv"], default="json", help="json (default) or csv"
    )
    export.add_argument("--out", metavar="DIR", help="where CSV files go (--format csv)")
    export.set_defaults(func=commands.export)

    doctor = _command(
        sub,
        "doctor",
        "check a sidecar and say what can be recovered",
        "Check NOTEBOOK's sidecar without writing to it: the database (integrity_check, "
        "schema version, its write-ahead log) and every blob file (its hash against its "
        "name, its size against the rows). List what is damaged, which steps' checkpoints "
        "are intact, which values lose which blob, and how to recover. Exits 0 when "
        "healthy, 3 when something is damaged.",
    )
    doctor.add_argument("notebook", help=nb_help)
    doctor.add_argument("--json", action="store_true", help="print JSON instead of a report")
    doctor.add_argument(
        "--rebuild",
        action="store_true",
        help="when the database is lost or damaged, build a new one from the manifest log's "
        "checkpoints that are signed with your key (the old files are kept aside)",
    )
    doctor.set_defaults(func=sidecar_commands.doctor)

    for name, verb, func in (
        ("push", "to", share_commands.push),
        ("pull", "from", share_commands.pull),
    ):
        share = _command(
            sub,
            name,
            f"copy a notebook's sidecar {verb} the shared store",
            f"Copy NOTEBOOK's records, with their ids and the blob files, {verb} the shared "
            "store (MIRRORNEURON_STORE or --store), so a kernel on the other side resumes "
            "from them (with the same signing key: MIRRORNEURON_KEY_FILE). Refused when the "
            "destination already records steps of NOTEBOOK, unless --replace.",
        )
        share.add_argument("notebook", help=nb_help)
        share.add_argument(
            "--replace", action="store_true", help="overwrite what the destination records"
        )
        share.add_argument("--json", action="store_true", help="print JSON instead of a sentence")
        share.set_defaults(func=func)

    _sweep_parser(sub, nb_help)

    demo = _command(
        sub,
        "demo",
        "run the demo: a run that fails midway and resumes",
        "Run notebooks/demo.ipynb: a batch run fails midway during a simulated API outage "
        "and the next run resumes at the failed step; then a kernel restores the steps from "
        "their checkpoints, runs an edited cell and is killed, and a fresh one gets its "
        "state back with %%mn_resume; a table shows what each step did in each run.",
    )
    demo.add_argument("--dir", help="working directory (default: a new temporary one)")
    demo.set_defaults(func=commands.demo)
    for name, command in sub.choices.items():
        if name != "demo":
            _store_options(command)
    return parser


def _sweep_parser(sub: Any, nb_help: str) -> None:
    sweep = _command(
        sub,
        "sweep",
        "run a notebook once per combination of parameter values, on Dask",
        "Run NOTEBOOK once per combination of the -g values (each a resumable batch run "
        "like mn-nb run, parameters injected into the cell tagged `parameters`) on a Dask "
        "cluster: a local one of --workers processes, or the scheduler at --dask. Writes one "
        "output notebook per combination and summary.csv/summary.json in --out. Running the "
        "same sweep again restores what succeeded and runs only what failed or never "
        "finished; a step whose inputs are the same in several combinations runs once. "
        "Exits 0 when every combination succeeded, 1 naming each one that did not, 2 on "
        "bad input.",
    )
    sweep.add_argument("notebook", help=nb_help)
    sweep.add_argument(
        "-g",
        "--grid",
        action="append",
        metavar="NAME=V1,V2",
        help="a swept parameter and its values, comma-separated (repeatable; every "
        "combination runs); values are read like -p: True/False/None, int, float, else text",
    )
    sweep.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        help="a parameter with the same value in every combination (repeatable)",
    )
    sweep.add_argument(
        "-f", "--parameters-file", metavar="YAML", help="a YAML mapping of fixed parameters"
    )
    where = sweep.add_mutually_exclusive_group()
    where.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="a Dask scheduler (tcp://host:8786) whose workers see the notebook at the "
        "same path and have mirrorneuron_nb installed",
    )
    where.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="processes of the local Dask cluster (default: one per combination, at most "
        "one per CPU)",
    )
    sweep.add_argument(
        "--out", metavar="DIR", help="output notebooks and the summary (default: NAME_sweep/)"
    )
    sweep.add_argument(
        "--json", action="store_true", help="print the summary as JSON (no progress display)"
    )
    sweep.set_defaults(func=sweep_command.sweep)


def _store_options(command: argparse.ArgumentParser) -> None:
    """Where a command's store keeps its data (the environment's setting otherwise)."""
    command.add_argument(
        "--blobs",
        metavar="URL",
        help="keep checkpoint blobs at this fsspec URL (s3://bucket/prefix, gs://..., "
        "file:///dir) instead of beside the notebook; default: $MIRRORNEURON_BLOBS",
    )


def _apply_store_options(args: argparse.Namespace) -> None:
    """Through the environment: this process's stores and the kernels it starts see it."""
    store = getattr(args, "store", None)
    if store is not None:
        os.environ[config.STORE_ENV] = store
        config.shared_store()  # a bad URL is one line before anything runs
    url = getattr(args, "blobs", None)
    if url is not None:
        if not url.strip():
            raise InvalidInput("--blobs needs a URL (s3://bucket/prefix, file:///dir, ...)")
        os.environ[config.BLOBS_ENV] = url
        open_blobs(Path("."))  # an unknown protocol is one line now, not mid-run


def error_code(exc: BaseException) -> str:
    """An error's `code` under --json: its class in snake_case (`unknown_step`,
    `sidecar_damaged`...), as the HTTP API names them."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(exc).__name__).lower()


def error_json(exc: MirrorNeuronError) -> str:
    """An error under --json, on stdout: {"error": {"code", "message"}}."""
    return json.dumps({"error": {"code": error_code(exc), "message": terminal_safe(str(exc))}})


def wants_json(args: argparse.Namespace) -> bool:
    """--json, or a command whose output is JSON already (export's default format)."""
    return bool(getattr(args, "json", False)) or getattr(args, "format", None) == "json"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Subcommand parsers are made by argparse itself: tell their class.
    _Parser.json_errors = "--json" in argv
    args = build_parser().parse_args(argv)
    try:
        _apply_store_options(args)
        return int(args.func(args))
    except BrokenPipeError:
        # `mn-nb log NB | head`: the reader left. No traceback, and none at exit either
        # (Python flushes stdout again then): point stdout at /dev/null.
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILED
    except MirrorNeuronError as exc:
        code = exit_code(exc)
        if wants_json(args):
            # --json: stdout stays machine-readable; the exit code is the same.
            print(error_json(exc))
        # Input errors read like argparse's; the text may quote what a sidecar stored.
        prefix = "mn-nb: error: " if code == EXIT_USAGE else "mn-nb: "
        print(prefix + terminal_safe(str(exc)), file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
