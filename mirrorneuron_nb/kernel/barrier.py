"""Read barriers: a cell that touches a value whose checkpoint is still being written
waits for that checkpoint to land first.

What a pending checkpoint writes is frozen already (staging.py), so no cell can corrupt
it; the barrier orders the rest: a cell that reads or binds one of its variables (the AST
says which: analysis.py) runs after it committed, so a kernel dying in that cell has the
checkpoint; a cell the analysis cannot bound (opaque magics, `get_ipython()`, syntax it
refuses) waits for every pending checkpoint, and so do `%mn_resume`, `%mn_status`,
`%mn_reset` and the kernel's shutdown. A write that failed is reported by the next cell.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from .analysis import analyze

if TYPE_CHECKING:
    from .session import KernelSession

STEP_MAGIC = "%%mn_step"
SESSION_ATTR = "_mirrorneuron_session"
"""Where load_ipython_extension keeps the session on the shell (mirrorneuron_nb/__init__)."""


def touched(shell: Any, raw_cell: str) -> tuple[frozenset[str] | None, str | None]:
    """(the global names a cell may read or bind, None when that cannot be known; the
    step it runs, for a `%%mn_step` cell)."""
    source, step = raw_cell, None
    stripped = raw_cell.lstrip()
    if stripped.startswith(STEP_MAGIC):
        first, _, source = stripped.partition("\n")
        words = first.split()
        step = words[1] if len(words) > 1 and not words[1].startswith("-") else None
        if step is None:
            return None, None
    try:
        found = analyze(shell.transform_cell(source))
    except Exception:  # unparsable: the cell fails by itself, after waiting for all
        return None, step
    if found.opaque:
        return None, step
    return found.reads | found.writes, step


def install(session: KernelSession) -> None:
    """Wait before each cell as it needs; report failed writes before and after it."""
    shell = session.shell

    def before(info: Any) -> None:
        if not session.writer.idle():
            names, step = touched(shell, getattr(info, "raw_cell", "") or "")
            session.writer.wait(names, step)
        report(session)

    def after(result: Any) -> None:
        report(session)

    shell.events.register("pre_run_cell", before)
    shell.events.register("post_run_cell", after)


def settle(session: KernelSession) -> None:
    """Wait for every pending checkpoint (what reads the sidecar whole needs it)."""
    session.writer.drain()
    report(session)


def flush() -> None:
    """Wait until every checkpoint this kernel is writing behind its cells has committed
    (and show the ones that failed). Returns at once outside a kernel with the extension
    loaded, or with nothing pending."""
    from IPython import get_ipython

    shell = get_ipython()
    session = getattr(shell, SESSION_ATTR, None) if shell is not None else None
    if session is not None:
        settle(session)


def report(session: KernelSession) -> None:
    for message in session.writer.failures():
        print(message, file=sys.stderr)
