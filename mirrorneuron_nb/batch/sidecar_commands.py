"""`mn-nb trust` and `mn-nb doctor`: commands that vouch for or repair a sidecar as a
whole. Parsing lives in cli.py, the logic in values/trust.py, batch/doctor.py and
batch/rebuild.py; these only call and print."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import UsageFailure
from ..render import terminal_safe
from ..sidecar import sidecar_of
from ..store import is_shared
from .commands import EXIT_DAMAGED, EXIT_FAILED, _notebook, _open

if TYPE_CHECKING:
    from ..values.trust import TrustPlan, TrustReport
    from .doctor import DoctorReport


def trust(args: argparse.Namespace) -> int:
    from ..values import trust as trusting
    from ..values.signing import check_key
    from .progress import ItemBar

    notebook = _notebook(args.notebook)
    check_key()
    if args.json and not args.yes:
        raise UsageFailure("mn-nb trust --json does not ask before signing: pass --yes too")
    if not args.yes and not sys.stdin.isatty():
        raise UsageFailure(
            "mn-nb trust asks before signing and standard input is not a terminal: "
            "pass --yes to sign without asking"
        )
    store = _open(notebook, readonly=False)
    try:
        with ItemBar("checking values", "value", enabled=not args.json) as bar:
            plan = trusting.plan_trust(store, bar)
        print(
            f"mn-nb: WARNING: trusting {store.root} lets its checkpoints run code in your "
            "kernels (they are unpickled) and its outputs show in your browser; only trust "
            "a sidecar that you, or someone you trust, wrote.",
            file=sys.stderr,
        )
        if not args.json:
            print(f"mn-nb: to be signed with your key ({store.root}):")
            for line in trusting.describe(plan):
                print(f"  {line}")
        if not args.yes and not _confirmed("sign all of this with your key? [y/N] "):
            print("mn-nb: not trusted; nothing was signed", file=sys.stderr)
            return EXIT_FAILED
        report = trusting.apply_trust(store, plan)
    finally:
        store.close()
    if args.json:
        return _trust_json(notebook, plan, report)
    print(
        f"mn-nb: signed {report.signed} value(s) with your key "
        f"({report.already} already were) and {report.checkpoints} checkpoint(s)' outputs; "
        "%mn_resume and cache hits now load them"
    )
    if report.damaged:
        print(
            f"mn-nb: {len(report.damaged)} value(s) not signed, their data is damaged "
            "(re-run their steps to write them again):",
            file=sys.stderr,
        )
        for label, reason in report.damaged:
            print(f"  {trusting.shown(label)}: {terminal_safe(reason)}", file=sys.stderr)
        return EXIT_FAILED
    return 0


def _trust_json(notebook: Path, plan: TrustPlan, report: TrustReport) -> int:
    """What was signed, as one JSON object; damaged values are an `error` too (exit 1)."""
    from ..values.trust import plan_json, shown

    out = {
        "notebook": str(notebook),
        **plan_json(plan),
        "signed": report.signed,
        "already": report.already,
        "checkpoints_signed": report.checkpoints,
        "damaged": [{"value": shown(label), "reason": reason} for label, reason in report.damaged],
    }
    if report.damaged:
        message = f"{len(report.damaged)} value(s) not signed, their data is damaged"
        out["error"] = {"code": "damaged_values", "message": message}
    print(json.dumps(out, indent=2))
    if report.damaged:
        print(f"mn-nb: {message} (re-run their steps to write them again)", file=sys.stderr)
        return EXIT_FAILED
    return 0


def _confirmed(question: str) -> bool:
    try:
        answer = input(question)
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def doctor(args: argparse.Namespace) -> int:
    from .doctor import diagnose, render

    notebook = _notebook(args.notebook)
    if is_shared():
        raise UsageFailure("doctor: not available for a PostgreSQL store; use pg_dump/pg_amcheck")
    sidecar = sidecar_of(notebook)
    if not sidecar.is_dir():
        raise UsageFailure(f"no sidecar for {notebook.name} yet ({sidecar}): run a step first")
    report = diagnose(sidecar, notebook)
    if args.rebuild:
        return _rebuild(sidecar, report)
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


def _rebuild(sidecar: Path, report: DoctorReport) -> int:
    from .rebuild import rebuild

    rebuilt = rebuild(sidecar, report.manifests, report.database.healthy)
    kept = ", ".join(p.name for p in rebuilt.moved_aside) or "none"
    print(
        terminal_safe(
            f"mn-nb: rebuilt the database of {sidecar} from {rebuilt.checkpoints} checkpoint "
            f"manifest(s): step(s) {', '.join(rebuilt.steps)} restored (old files kept: "
            f"{kept}); run history, approvals and unfinished steps' call journals are not "
            "recovered"
        )
    )
    return 0
