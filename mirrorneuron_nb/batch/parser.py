"""The `mn-nb` command line: the top parser and the commands on a notebook's steps (run,
status, plan, log, reset, gc, approve). Commands on a sidecar as a whole and sweeps are
in parser_sidecar.py; what each command does is in commands.py and its siblings; main()
and the exit codes in cli.py."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, NoReturn

from ..render import terminal_safe
from . import commands, run_command
from .commands import EXIT_USAGE


class Parser(argparse.ArgumentParser):
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


def command(sub: Any, name: str, summary: str, description: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(name, help=summary, description=description)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
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

    run = command(
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
    run.set_defaults(func=run_command.run)

    status = command(
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

    plan = command(
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

    log = command(
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

    reset = command(
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

    gc = command(
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

    approve = command(
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

    # Its commands use command() from here.
    from .parser_sidecar import sidecar_parsers

    sidecar_parsers(sub, nb_help)

    demo = command(
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
    for name, each in sub.choices.items():
        if name != "demo":
            _store_options(each)
    return parser


def _store_options(command: argparse.ArgumentParser) -> None:
    """Where a command's store keeps its data (the environment's setting otherwise)."""
    command.add_argument(
        "--blobs",
        metavar="URL",
        help="keep checkpoint blobs at this fsspec URL (s3://bucket/prefix, gs://..., "
        "file:///dir) instead of beside the notebook; default: $MIRRORNEURON_BLOBS",
    )
