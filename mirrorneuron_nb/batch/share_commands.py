"""`mn-nb push` / `mn-nb pull`: copy a notebook's sidecar to and from the shared store
(MIRRORNEURON_STORE or --store), so a colleague resumes your state. Parsing in cli.py,
the copy in store/transfer.py."""

from __future__ import annotations

import argparse
import json

from .. import config
from ..errors import UsageFailure
from ..render import terminal_safe
from ..sidecar import sidecar_of
from ..store import Store, open_store, sidecar_exists
from ..store.transfer import copy_store
from .commands import _notebook


def push(args: argparse.Namespace) -> int:
    notebook, url = _notebook(args.notebook), _url("push")
    sidecar = sidecar_of(notebook)
    if not sidecar_exists(sidecar):
        raise UsageFailure(f"no sidecar for {notebook.name} yet ({sidecar}): nothing to push")
    source = Store(sidecar, readonly=True, verify=True)
    try:
        target = open_store(sidecar, notebook=notebook, url=url)
        try:
            counts = copy_store(source, target, replace=args.replace)
            where = getattr(target, "where", url)
        finally:
            target.close()
    finally:
        source.close()
    return _report(args, "pushed", f"pushed {notebook.name} to {where}", where, counts)


def pull(args: argparse.Namespace) -> int:
    notebook, url = _notebook(args.notebook), _url("pull")
    sidecar = sidecar_of(notebook)
    source = open_store(sidecar, notebook=notebook, url=url, readonly=True)
    try:
        target = Store(sidecar)
        try:
            counts = copy_store(source, target, replace=args.replace)
        finally:
            target.close()
        where = getattr(source, "where", url)
    finally:
        source.close()
    text = f"pulled {notebook.name} from {where} into {sidecar}"
    return _report(args, "pulled", text, where, counts)


def _url(command: str) -> str:
    url = config.shared_store()
    if url is None:
        raise UsageFailure(f"{command}: no shared store: set MIRRORNEURON_STORE or pass --store")
    return url


def _report(
    args: argparse.Namespace, done: str, what: str, where: str, counts: dict[str, int]
) -> int:
    if args.json:
        rows = {table: n for table, n in counts.items() if table != "meta"}
        out = {done: str(_notebook(args.notebook)), "store": terminal_safe(where), "rows": rows}
        print(json.dumps(out))
        return 0
    shown = ", ".join(f"{n} {table}" for table, n in counts.items() if n and table != "meta")
    print(terminal_safe(f"mn-nb: {what} ({shown or 'nothing recorded'})"))
    return 0
