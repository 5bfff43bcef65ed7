"""Tracebacks of a step body as the user thinks of it: the body's own lines, shown as its
cell's (`Cell In[N]`), without the frames of the magic machinery or the cell frame holding
`get_ipython().run_cell_magic('mn_step', ...)`."""

from __future__ import annotations

import contextlib
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from IPython.core.error import UsageError

from ..errors import MirrorNeuronError
from ..values.digest import digest

PACKAGE_DIR = str(Path(__file__).resolve().parent.parent)


def cell_number(shell: Any) -> int:
    """The execution count of the cell running now: the `In[N]` its frames are shown as.

    IPython 9 counts the cell before running it, IPython 8 after: the cell's own code name,
    found on the stack, is what its traceback uses."""
    names: dict[str, int] = getattr(shell.compile, "_filename_map", {})
    frame = sys._getframe(1)
    while frame is not None:
        number = names.get(frame.f_code.co_filename)
        if number is not None:
            return number
        frame = frame.f_back  # type: ignore[assignment]
    return int(shell.execution_count)


def cache_body(shell: Any, code: str, number: int) -> str:
    """Register the body's source for tracebacks as cell `In[number]`: the file name to
    compile it with. The name is made from a digest of a longer source, not the source:
    the kernel's compiler hashes what it is given in pure Python (ipykernel: ~0.2 us a
    byte, 0.4 ms for a 2 KB body), and it hashed the whole cell once already."""
    stand_in = code if len(code) <= 32 else digest(code.encode("utf-8", "surrogatepass"))
    return str(shell.compile.cache(code, number, raw_code=stand_in))


def _body_frames(tb: TracebackType | None) -> TracebackType | None:
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(PACKAGE_DIR):
        tb = tb.tb_next
    return tb


def user_traceback(exc: BaseException) -> str:
    """The plain-text traceback from the body's frame down (recorded with the attempt)."""
    return "".join(traceback.format_exception(type(exc), exc, _body_frames(exc.__traceback__)))


def point_at_body(shell: Any, exc: BaseException) -> None:
    """Make IPython show the traceback from the body's frame down (its own `_render_traceback_`
    hook), not from the cell frame that calls the magic."""
    if isinstance(exc, (UsageError, MirrorNeuronError)) or hasattr(type(exc), "_render_traceback_"):
        return
    tb = _body_frames(exc.__traceback__)
    if tb is None:
        return

    def render() -> list[str]:
        return list(shell.InteractiveTB.structured_traceback(type(exc), exc, tb))

    with contextlib.suppress(AttributeError, TypeError):  # an exception without a __dict__
        exc._render_traceback_ = render  # type: ignore[attr-defined]


@contextlib.contextmanager
def shown_from_body(shell: Any) -> Iterator[None]:
    try:
        yield
    except BaseException as exc:
        point_at_body(shell, exc)
        raise
