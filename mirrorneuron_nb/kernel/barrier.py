"""The one read barrier: before a cell runs, wait for the background work on the values it
touches; between cells, apply and report what that work finished.

Background work comes from sources (the `Source` protocol): the checkpoint writer
(writer.py: values still being written from live memory behind their cells) and the lazy
resume (lazy.py: restored values still being hashed or unpickled). Each says which global
names it has pending and waits for some of them. The barrier analyses the cell once (the AST
says which names it may read or bind: analysis.py), and only when some source has
anything pending: a cell with nothing pending pays a few attribute lookups.

A cell the analysis cannot bound (opaque magics, syntax it refuses) waits for every
source's names. A cell that may reach any global through code (a function or method
defined in the notebook, `globals()`, `eval`...) does so for the sources that say so
(`through_code`): the lazy resume, whose values are not checked or not bound yet, and
the writer while it writes some value from live memory (staging.py). The writer orders a
cell that reads a pending value after those bytes are written and checked (the value's
fsync and commit change nothing a cell can see), and a cell that only binds the name
(`x = 2`) not at all (`binds_wait`): binding a name changes no value, and the writer
holds the one it writes.
`%mn_resume`, `%mn_status`, `%mn_reset`, `mn.flush()` and the kernel's shutdown wait for
all the work (`settle`: every checkpoint committed).
"""

from __future__ import annotations

import sys
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ..render import terminal_safe
from . import lazy
from .analysis import analyze

if TYPE_CHECKING:
    from .session import KernelSession

STEP_MAGIC = "%%mn_step"
SESSION_ATTR = "_mirrorneuron_session"
"""Where load_ipython_extension keeps the session on the shell (mirrorneuron_nb/__init__)."""
# Names a cell can reach any global through.
_REACH_ALL = frozenset({"globals", "vars", "locals", "eval", "exec", "get_ipython", "dir"})


class Source(Protocol):
    """Background work on some of the kernel's global names."""

    @property
    def through_code(self) -> bool:
        """Whether a cell that may reach globals through code waits for all of it."""
        ...

    @property
    def binds_wait(self) -> bool:
        """Whether a cell that binds one of its names, without reading it, waits for it."""
        ...

    def pending_names(self) -> frozenset[str]:
        """The names it is still working on (cheap when there are none)."""
        ...

    def wait_for(self, names: Collection[str] | None) -> None:
        """Return once a cell may touch `names` (None: any name)."""
        ...

    def drain(self) -> None:
        """Return once all of its work is done."""
        ...

    def settle(self, session: KernelSession) -> list[str]:
        """Main thread, between cells: apply what finished; one line per failure."""
        ...


@dataclass(frozen=True)
class Touch:
    """What a cell may touch, as far as the barrier cares."""

    names: frozenset[str] | None
    """Global names it may read or bind; None: any (it cannot be analysed)."""
    through_code: bool = False
    """It may read any global through code it calls, or through `globals()` & co."""
    reads: frozenset[str] = frozenset()
    """Of `names`, those it may read (an in-place change reads the name too)."""

    def wanted(self, pending: frozenset[str], source: Source) -> frozenset[str] | None:
        """Which of a source's pending names this cell waits for (None: all)."""
        if self.names is None or (self.through_code and source.through_code):
            return None
        return pending & (self.names if source.binds_wait else self.reads)


def touched(shell: Any, raw_cell: str) -> Touch:
    """Analyse a cell (of a `%%mn_step` cell, its body: the magic line reads nothing; a
    step's own pending checkpoint is waited for by the runner)."""
    source = raw_cell
    stripped = raw_cell.lstrip()
    if stripped.startswith(STEP_MAGIC):
        source = stripped.partition("\n")[2]
    try:
        found = analyze(shell.transform_cell(source))
    except Exception:  # unparsable: the cell fails by itself, after waiting for all
        return Touch(None)
    if found.opaque:
        return Touch(None)
    namespace = shell.user_ns
    code = bool(found.reads & _REACH_ALL) or any(
        _notebook_code(namespace.get(n)) for n in found.reads
    )
    return Touch(found.reads | found.writes, code, found.reads)


def _notebook_code(value: Any) -> bool:
    """A function, class or instance defined in the notebook: its code may read any global."""
    if getattr(value, "__module__", None) == "__main__":
        return True
    return getattr(type(value), "__module__", None) == "__main__"


class Barrier:
    """pre_run_cell waits; pre_ and post_run_cell report."""

    def __init__(self, session: KernelSession) -> None:
        self.session = session

    def sources(self) -> tuple[Source, ...]:
        # Looked up each time: the session replaces its writer when it finds the notebook.
        return (self.session.writer, lazy.VALUES)

    def wait(self, raw_cell: str, sources: tuple[Source, ...] | None = None) -> None:
        """Wait for what this cell touches; analyse it only when something is pending."""
        pending = [(s, names) for s in sources or self.sources() if (names := s.pending_names())]
        if not pending:
            return
        touch = touched(self.session.shell, raw_cell)
        for source, names in pending:
            wanted = touch.wanted(names, source)
            if wanted is None or wanted:
                source.wait_for(wanted)

    def report(self, sources: tuple[Source, ...] | None = None) -> None:
        for source in sources or self.sources():
            for line in source.settle(self.session):
                sys.stderr.write(terminal_safe(line) + "\n")

    def before(self, info: Any) -> None:
        sources = self.sources()
        self.wait(info.raw_cell or "", sources)
        self.report(sources)

    def after(self, result: Any) -> None:
        self.report()

    def settle(self) -> None:
        """Wait for every source whole, then report."""
        for source in self.sources():
            source.drain()
        self.report()


def install(session: KernelSession) -> None:
    """Register the barrier's hooks on the session's shell."""
    barrier = Barrier(session)
    session.shell.events.register("pre_run_cell", barrier.before)
    session.shell.events.register("post_run_cell", barrier.after)


def settle(session: KernelSession) -> None:
    """Wait for all background work (checkpoints being written, resumed values being
    checked or loaded) and report it: what reads the sidecar or namespace whole needs it."""
    Barrier(session).settle()


def after_resume(session: KernelSession) -> None:
    """The rest of the cell that ran `%mn_resume` waits as a next cell would: the barrier
    ran before the resume bound anything."""
    history = getattr(session.shell, "history_manager", None)
    raw = history.input_hist_raw[-1] if history is not None and history.input_hist_raw else ""
    rest = "\n".join(x for x in raw.splitlines() if not x.lstrip().startswith("%mn_resume"))
    barrier = Barrier(session)
    if rest.strip():
        barrier.wait(rest)
    barrier.report()


def flush() -> None:
    """Wait until every checkpoint this kernel is writing behind its cells has committed,
    and every value `%mn_resume` is still checking or loading is ready (and show what
    failed). Returns at once outside a kernel with the extension loaded, or with nothing
    pending."""
    from IPython import get_ipython

    shell = get_ipython()
    session = getattr(shell, SESSION_ATTR, None) if shell is not None else None
    if session is not None:
        settle(session)
