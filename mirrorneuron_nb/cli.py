"""mn-nb: the sidecar from a terminal. Parses arguments and prints; the logic lives in
the store/status modules. Bad input exits 2 with a one-line message."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from .errors import MirrorNeuronError
from .sidecar import sidecar_for
from .store import Store


def _status(args: argparse.Namespace) -> int:
    from .status import status_table, step_views

    notebook = Path(args.notebook)
    if not notebook.exists():
        raise MirrorNeuronError(f"no such notebook: {notebook}")
    store = Store(sidecar_for(notebook), readonly=True)
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


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(Path(args.dir) if args.dir else None)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mn-nb", description="Durable execution for Jupyter notebooks: inspect sidecars."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    status = sub.add_parser(
        "status",
        help="show the steps of a notebook",
        description="Show the steps of NOTEBOOK as a table.",
    )
    status.add_argument("notebook", help="path to the .ipynb (its sidecar is NAME.mn/ beside it)")
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")
    status.set_defaults(func=_status)
    demo = sub.add_parser(
        "demo",
        help="run the demo: a run that fails midway, a kernel crash, resume",
        description="Run notebooks/demo.ipynb in a real kernel: it fails midway, the kernel "
        "is killed, a new kernel resumes, the run finishes, and the step table is printed.",
    )
    demo.add_argument("--dir", help="working directory (default: a new temporary one)")
    demo.set_defaults(func=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except MirrorNeuronError as exc:
        print(f"mn-nb: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
