"""Helpers shared by the kernel and CLI tests."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from mirrorneuron_nb.store import Store
from mirrorneuron_nb.values import codec
from mirrorneuron_nb.values.signing import Binding

from .kernels import Execution, Kernel


def run(kernel: Kernel, code: str) -> Execution:
    """Run a cell that must succeed (a UsageError is not an iopub error: check stderr too).
    After a step cell the test kernel waits for its checkpoint (tests/kernels.py)."""
    out = kernel.run(code)
    assert "UsageError" not in out.stderr, out.stderr
    return out


def value(kernel: Kernel, expr: str) -> str:
    return run(kernel, f"print(repr({expr}))").stdout.strip()


def checks(kernel: Kernel, code: str, *, as_bool: bool = False) -> dict[str, Any]:
    """Run code that builds a dict `checks` and return it, its values as JSON (each made
    a bool first with `as_bool`: numpy's bools are not JSON)."""
    shown = "{k: bool(v) for k, v in checks.items()}" if as_bool else "checks"
    report = f"\nimport json as _json\nprint(_json.dumps({shown}))\n"
    out = run(kernel, code + report)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def not_restored(report: str) -> dict[str, str]:
    """The "not restored:" section of a resume report: name -> the rest of its line."""
    lines = report.splitlines()
    if "not restored:" not in lines:
        return {}
    out: dict[str, str] = {}
    for line in lines[lines.index("not restored:") + 1 :]:
        if not line.startswith("  "):
            break
        name, _, rest = line.strip().partition(" ")
        out[name] = rest
    return out


def mn(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`mn-nb ARGS` as a user runs it: a real process, real exit codes."""
    return subprocess.run(
        [sys.executable, "-m", "mirrorneuron_nb.batch.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def sidecar(workdir: Path) -> Path:
    """The sidecar of a kernel with no notebook known: `./mirrorneuron.mn` in its cwd."""
    return workdir / "mirrorneuron.mn"


def tick(counter: str) -> str:
    """Step-body lines that append one character to a counter file: one char per body run."""
    return f"with open({counter!r}, 'a') as _fh:\n    _fh.write('x')\ndel _fh\n"


def runs_of(workdir: Path, counter: str) -> int:
    path = workdir / counter
    return len(path.read_text()) if path.exists() else 0


def fresh(kernel: Kernel) -> None:
    """Restart the kernel and load the extension again."""
    kernel.restart()
    run(kernel, "%load_ext mirrorneuron_nb")


def usage_error(kernel: Kernel, code: str) -> str:
    """Run a cell that must fail with a one-line UsageError; return its message.

    IPython prints a UsageError to stderr and sends no iopub `error`: the execute reply
    is where the failure shows.
    """
    reply = kernel.kc.execute_interactive(code, output_hook=lambda msg: None, timeout=60)
    content: dict[str, Any] = reply["content"]
    assert content["status"] == "error", f"expected a UsageError from {code!r}"
    assert content["ename"] == "UsageError", content
    message = str(content["evalue"]).strip()
    assert message and "\n" not in message, message
    return message


def db_content(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of a sidecar database, plus its schema version."""
    conn = sqlite3.connect(path / "state.sqlite")
    try:
        tables = [
            r[0]
            for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")
        ]
        content = {t: conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall() for t in tables}
        content["user_version"] = conn.execute("PRAGMA user_version").fetchall()
        return content
    finally:
        conn.close()


def stored(workdir: Path, step: str) -> tuple[str, int]:
    """(the step's stored status, how many checkpoints it has), read by this process."""
    store = Store(sidecar(workdir), readonly=True)
    try:
        row = store.step(step)
        assert row is not None
        count = store.conn.execute("SELECT COUNT(*) FROM checkpoints WHERE step=?", (step,))
        return row.status.value, int(count.fetchone()[0])
    finally:
        store.close()


def checkpointed(workdir: Path, step: str, name: str) -> object:
    """The value of `name` in the step's current checkpoint, loaded and verified here."""
    store = Store(sidecar(workdir), readonly=True)
    try:
        row = store.step(step)
        assert row is not None and row.checkpoint_id is not None, row
        var = next(v for v in store.variables(row.checkpoint_id) if v.name == name)
        place = Binding(store.sidecar_id(), step, name)
        return codec.load(store.blobs, var, {}, place)
    finally:
        store.close()
