"""Helpers shared by the kernel and CLI tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .kernels import Execution, Kernel


def run(kernel: Kernel, code: str) -> Execution:
    """Run a cell that must succeed (a UsageError is not an iopub error: check stderr too)."""
    out = kernel.run(code)
    assert "UsageError" not in out.stderr, out.stderr
    return out


def value(kernel: Kernel, expr: str) -> str:
    return run(kernel, f"print(repr({expr}))").stdout.strip()


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
        [sys.executable, "-m", "mirrorneuron_nb.cli", *args],
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
