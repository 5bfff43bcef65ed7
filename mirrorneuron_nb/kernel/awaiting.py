"""Top-level `await` in a `%%mn_step` body, exactly as in a plain cell.

IPython runs a cell magic synchronously, so a body that awaits cannot run inside one. An
input transformer (registered while the extension is loaded) rewrites such a cell into
an awaited call of the magic's async twin; IPython then sees top-level await in the cell
and runs it on the kernel's loop, as it runs any awaiting cell.
"""

from __future__ import annotations

from typing import Any

from .analysis import analyze
from .barrier import SESSION_ATTR

MAGIC = "mn_step"


class AwaitingSteps:
    """`%%mn_step NAME ...` + an awaiting body -> `await <async twin>(line, body)`."""

    # IPython's check_complete skips transforms with side effects: a `%%` cell is complete
    # at a blank line, not when its first awaiting line makes it one.
    has_side_effects = True

    def __init__(self, shell: Any, twin: str) -> None:
        self.shell = shell
        self.twin = twin
        """The expression (in the user's namespace) of the async twin to call."""

    def __call__(self, lines: list[str]) -> list[str]:
        if not lines or not lines[0].startswith(f"%%{MAGIC}") or not self.shell.autoawait:
            return lines
        # Split as IPython's own cell-magic transform does.
        name, _, line = lines[0][2:].rstrip().partition(" ")
        body = "".join(lines[1:])
        # (A body without the words cannot await at top level: most skip the analysis.)
        if name != MAGIC or ("await" not in body and "async" not in body):
            return lines
        if not _awaits(self.shell, body):
            return lines
        return [f"await {self.twin}({line!r}, {body!r})\n"]


def _awaits(shell: Any, body: str) -> bool:
    # The session's transform is remembered: the cell's hooks and its plan transform the
    # same body again (IPython's tokenizer costs a trivial step ~0.1 ms each time).
    session = getattr(shell, SESSION_ATTR, None)
    transform = shell.transform_cell if session is None else session.known.transform
    try:
        return analyze(transform(body)).is_async
    except Exception:
        return False  # the magic reports what is wrong with the body


def install(shell: Any, twin: str) -> None:
    uninstall(shell)
    shell.input_transformers_cleanup.append(AwaitingSteps(shell, twin))


def uninstall(shell: Any) -> None:
    cleanup: list[Any] = shell.input_transformers_cleanup
    cleanup[:] = [t for t in cleanup if not isinstance(t, AwaitingSteps)]
