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

from .. import config
from ..errors import (
    ClusterUnavailable,
    InvalidInput,
    MirrorNeuronError,
    NotFound,
    SidecarDamaged,
    SidecarError,
)
from ..render import terminal_safe
from ..store import open_blobs
from .commands import EXIT_DAMAGED, EXIT_FAILED, EXIT_SIDECAR, EXIT_USAGE
from .parser import Parser, build_parser

# The first class in an error's MRO found here decides the exit code.
EXIT_CODES: dict[type[BaseException], int] = {
    InvalidInput: EXIT_USAGE,
    ClusterUnavailable: EXIT_USAGE,  # --dask: an address that answers nothing
    NotFound: EXIT_USAGE,
    SidecarDamaged: EXIT_DAMAGED,
    SidecarError: EXIT_SIDECAR,
    MirrorNeuronError: EXIT_FAILED,
}


def exit_code(exc: MirrorNeuronError) -> int:
    return next(EXIT_CODES[k] for k in type(exc).__mro__ if k in EXIT_CODES)


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
    Parser.json_errors = "--json" in argv
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
