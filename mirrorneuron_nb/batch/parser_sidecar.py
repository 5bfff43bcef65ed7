"""`mn-nb` commands on a sidecar as a whole (trust, export, doctor, push, pull) and on a
grid of runs (sweep): their arguments. The top parser is parser.py."""

from __future__ import annotations

from typing import Any

from . import commands, share_commands, sidecar_commands, sweep_command
from .parser import command


def sidecar_parsers(sub: Any, nb_help: str) -> None:
    trust = command(
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

    export = command(
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

    doctor = command(
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
        share = command(
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


def _sweep_parser(sub: Any, nb_help: str) -> None:
    sweep = command(
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
