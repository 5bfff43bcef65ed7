"""Values `%mn_resume` bound before their blobs were hashed, or still being unpickled.

Large buffers come back as copy-on-write maps at once; a background thread hashes the
blobs under them. Big pickles are unpickled by another (kernel/loader.py) and bound
between cells. A cell that reads such a value (or binds its name) waits for it first (it
hashes the blobs itself when the thread has not got to them), so no cell computes on
unchecked bytes or misses a value. A blob that does not match is moved aside, and
before the next cell its values are unbound, the store logs a `value_corrupt` event and
one line says which step to re-run. `pending_names()` / `wait_for(names)` are the hooks
a generic read barrier uses.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import CheckpointUnavailable
from ..render import terminal_safe
from ..store import Store
from ..store.blobs import BlobCheck
from .analysis import analyze
from .loader import BackgroundLoad

EVENT = "value_corrupt"
# Names a cell can reach any global through: the cell then waits for every value.
_REACH_ALL = frozenset({"globals", "vars", "locals", "eval", "exec", "get_ipython", "dir"})


@dataclass(frozen=True)
class Corrupt:
    name: str
    step: str
    blob: str
    reason: str

    def message(self) -> str:
        return (
            f"mn_resume: {self.name!r} (step {self.step!r}) failed its background check: "
            f"{self.reason}; it was removed -> re-run step {self.step!r}"
        )


class _Blob:
    def __init__(self, check: BlobCheck) -> None:
        self.check = check
        self.claimed = False
        self.done = threading.Event()
        self.error: CheckpointUnavailable | None = None


class Verification:
    """The blob checks of one resume, run once each by the thread or a waiting cell."""

    def __init__(self) -> None:
        self._uses: dict[str, tuple[str, Any, list[str]]] = {}
        self._blobs: dict[str, _Blob] = {}
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="mn-verify", daemon=True)

    def add(self, key: str, check: BlobCheck) -> None:
        """Before start(): one check per blob (a second mapping of it is not checked)."""
        if key in self._blobs:
            check.close()
        else:
            self._blobs[key] = _Blob(check)

    def uses(self, uses: dict[str, tuple[str, Any, list[str]]]) -> None:
        """`uses`: name -> (step, the value bound, keys of the blobs under it)."""
        self._uses = {n: u for n, u in uses.items() if any(k in self._blobs for k in u[2])}
        for key in [k for k in self._blobs if not any(k in u[2] for u in self._uses.values())]:
            self._blobs.pop(key).check.close()  # its value failed to load: nothing uses it

    def start(self) -> None:
        if self._thread.ident is None:
            self._thread.start()

    def names(self) -> list[str]:
        """Every name bound over a blob this checks."""
        return sorted(self._uses)

    def pending(self) -> frozenset[str]:
        return frozenset(
            name
            for name, (_, _, keys) in self._uses.items()
            if any(not self._blobs[k].done.is_set() for k in keys if k in self._blobs)
        )

    def wait_for(self, names: Iterable[str]) -> None:
        for name in names:
            use = self._uses.get(name)
            for key in use[2] if use else ():
                if key in self._blobs:
                    self._verify(self._blobs[key])

    def finished(self) -> bool:
        return all(b.done.is_set() for b in self._blobs.values())

    def corrupt(self) -> list[tuple[Corrupt, Any]]:
        """Values over a blob found bad, with the object bound (only that one is unbound)."""
        found = []
        for name, (step, value, keys) in self._uses.items():
            for key in keys:
                error = self._blobs[key].error if key in self._blobs else None
                if error is not None:
                    found.append((Corrupt(name, step, key, error.reason), value))
                    break
        return found

    def _run(self) -> None:
        for blob in list(self._blobs.values()):
            self._verify(blob)

    def _verify(self, blob: _Blob) -> None:
        with self._lock:
            mine = not blob.claimed
            blob.claimed = True
        if not mine:
            blob.done.wait()
            return
        try:
            blob.error = blob.check.run()
        except Exception as exc:  # unreadable now: as bad as corrupted, never used
            blob.error = CheckpointUnavailable(blob.check.key, f"could not be checked: {exc}")
        finally:
            blob.done.set()


_active: list[Verification] = []
_loads: list[BackgroundLoad] = []


def track(verification: Verification, load: BackgroundLoad | None = None) -> None:
    """Register a resume's work; start() runs it (after the resume has printed its report:
    until then the threads would only compete with it for the GIL)."""
    _active.append(verification)
    if load is not None:
        _loads.append(load)


def start() -> None:
    for verification in _active:
        verification.start()
    for load in _loads:
        load.start()


def pending_names() -> frozenset[str]:
    """Names a resume is still checking (bound) or unpickling (not bound yet)."""
    return frozenset().union(*(v.pending() for v in _active), *(b.pending() for b in _loads))


def wait_for(names: Iterable[str]) -> None:
    """Return once the blobs under `names` are checked (checking them in this thread when
    no one has started) and their pickles loaded; then settle() binds and reports."""
    wanted = set(names)
    start()  # (a no-op once started) waiting on a load never started would never end
    for verification in list(_active):
        verification.wait_for(wanted)
    for load in list(_loads):
        load.wait_for(wanted)


def settle(session: Any, *, wait: bool = False) -> list[str]:
    """Main thread only, between cells: bind what background loads finished, unbind what
    was found corrupt (logged in the store), and say what failed, one line each.
    `wait`: first wait for everything pending (a new resume starts from a settled state)."""
    if wait:
        wait_for(pending_names())
    lines: list[str] = []
    namespace = session.shell.user_ns
    for load in list(_loads):
        done = load.finished()  # before take(): nothing finishes unseen
        loaded, failed = load.take()
        for group in loaded:
            namespace.update(group)
            session.sharing.learn([group])
        lines.extend(f.message() for f in failed)
        if done:
            _loads.remove(load)
    return lines + report_corrupt(namespace, session.store, session.run_id)


def report_corrupt(namespace: dict[str, Any], store: Store | None, run_id: str | None) -> list[str]:
    """Unbind every value found corrupt since the last call, log it, and say so; forget
    verifications that are over. Main thread only (the store is not shared)."""
    lines: list[str] = []
    for verification in [v for v in _active if v.finished()]:
        _active.remove(verification)
        for bad, value in verification.corrupt():
            if namespace.get(bad.name) is value:  # not a value the user bound since
                del namespace[bad.name]
            if store is not None:
                store.record_value_corrupt(run_id, bad.step, bad.name, bad.blob, bad.reason)
            lines.append(bad.message())
    return lines


def cell_names(shell: Any, raw_cell: str) -> frozenset[str] | None:
    """Global names a cell may read or bind, or None when it may reach any of them."""
    text = raw_cell
    if text.lstrip().startswith("%%mn_step"):
        text = text.lstrip().partition("\n")[2]  # the body: %%mn_step itself reads nothing
    try:
        found = analyze(shell.transform_cell(text))
    except Exception:  # the cell will fail on its own; waiting for everything is safe
        return None
    if found.opaque or found.reads & _REACH_ALL:
        return None
    namespace = shell.user_ns
    for name in found.reads:
        if _notebook_code(namespace.get(name)):
            return None  # a function or method may read any global
    return found.reads | found.writes


def _notebook_code(value: Any) -> bool:
    if getattr(value, "__module__", None) == "__main__":
        return True
    return getattr(type(value), "__module__", None) == "__main__"


class Barrier:
    """pre_run_cell: wait for what the cell reads or binds; both hooks settle()."""

    def __init__(self, session: Any) -> None:
        self.session = session

    def before(self, info: Any) -> None:
        pending = pending_names()
        if pending:
            names = cell_names(self.session.shell, getattr(info, "raw_cell", "") or "")
            wait_for(pending if names is None else pending & names)
        self.after()

    def after(self, *_: Any) -> None:
        if not _active and not _loads:
            return
        for line in settle(self.session):
            sys.stderr.write(terminal_safe(line) + "\n")


def after_resume(session: Any) -> list[str]:
    """The rest of the cell that ran `%mn_resume` waits as a next cell would: the barrier
    ran before the resume bound anything. settle()'s lines."""
    pending = pending_names()
    history = getattr(session.shell, "history_manager", None)
    raw = history.input_hist_raw[-1] if history is not None and history.input_hist_raw else ""
    rest = "\n".join(x for x in raw.splitlines() if not x.lstrip().startswith("%mn_resume"))
    if pending and rest.strip():
        names = cell_names(session.shell, rest)
        wait_for(pending if names is None else pending & names)
    return settle(session)


_installed: set[int] = set()


def install(session: Any) -> None:
    """Register the barrier's hooks on the session's shell, once."""
    shell = session.shell
    if id(shell) in _installed:
        return
    _installed.add(id(shell))
    barrier = Barrier(session)
    shell.events.register("pre_run_cell", barrier.before)
    shell.events.register("post_run_cell", barrier.after)
