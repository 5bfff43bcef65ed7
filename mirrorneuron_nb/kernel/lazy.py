"""Values `%mn_resume` bound before their blobs were hashed, or still being unpickled.

Large buffers come back as copy-on-write maps at once; a background thread hashes the
blobs under them. Big pickles are unpickled by another (kernel/loader.py) and bound
between cells. A cell that reads such a value (or binds its name) waits for it first (it
hashes the blobs itself when the thread has not got to them), so no cell computes on
unchecked bytes or misses a value. A blob that does not match is moved aside, and
before the next cell its values are unbound, the store logs a `value_corrupt` event and
one line says which step to re-run. `VALUES` is this work as one source of the kernel's
read barrier (barrier.py).
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import CheckpointUnavailable
from ..store import Store
from ..store.blobs import BlobCheck
from .loader import BackgroundLoad

EVENT = "value_corrupt"


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


class LazyValues:
    """The resumes' background work, as a source of the read barrier: a value not checked
    or not bound yet may be reached through any code, so such a cell waits for all."""

    through_code = True
    binds_wait = True  # a value bound later would overwrite what the cell binds

    def __init__(self) -> None:
        self._active: list[Verification] = []
        self._loads: list[BackgroundLoad] = []

    def track(self, verification: Verification, load: BackgroundLoad | None = None) -> None:
        """Register a resume's work; start() runs it (after the resume has printed its
        report: until then the threads would only compete with it for the GIL)."""
        self._active.append(verification)
        if load is not None:
            self._loads.append(load)

    def start(self) -> None:
        for verification in self._active:
            verification.start()
        for load in self._loads:
            load.start()

    def pending_names(self) -> frozenset[str]:
        """Names a resume is still checking (bound) or unpickling (not bound yet)."""
        if not self._active and not self._loads:
            return frozenset()
        return frozenset().union(
            *(v.pending() for v in self._active), *(b.pending() for b in self._loads)
        )

    def wait_for(self, names: Collection[str] | None) -> None:
        """Return once the blobs under `names` (None: all) are checked (checking them in
        this thread when no one has started) and their pickles loaded; settle() then
        binds and reports."""
        if not self._active and not self._loads:
            return
        wanted = set(self.pending_names() if names is None else names)
        self.start()  # (a no-op once started) waiting on a load never started never ends
        for verification in list(self._active):
            verification.wait_for(wanted)
        for load in list(self._loads):
            load.wait_for(wanted)

    def drain(self) -> None:
        self.wait_for(None)

    def settle(self, session: Any) -> list[str]:
        """Main thread only, between cells: bind what background loads finished, unbind
        what was found corrupt (logged in the store), and say what failed, one line each."""
        if not self._active and not self._loads:
            return []
        lines: list[str] = []
        namespace = session.shell.user_ns
        for load in list(self._loads):
            done = load.finished()  # before take(): nothing finishes unseen
            loaded, failed = load.take()
            for group in loaded:
                namespace.update(group)
                session.sharing.learn([group])
            lines.extend(f.message() for f in failed)
            if done:
                self._loads.remove(load)
        return lines + self._report_corrupt(namespace, session.store, session.run_id)

    def _report_corrupt(
        self, namespace: dict[str, Any], store: Store | None, run_id: str | None
    ) -> list[str]:
        """Unbind every value found corrupt since the last call, log it, and say so; forget
        verifications that are over. Main thread only (the store is not shared)."""
        lines: list[str] = []
        for verification in [v for v in self._active if v.finished()]:
            self._active.remove(verification)
            for bad, value in verification.corrupt():
                if namespace.get(bad.name) is value:  # not a value the user bound since
                    del namespace[bad.name]
                if store is not None:
                    store.record_value_corrupt(run_id, bad.step, bad.name, bad.blob, bad.reason)
                lines.append(bad.message())
        return lines


VALUES = LazyValues()
"""The kernel's one (a kernel has one shell)."""


def track(verification: Verification, load: BackgroundLoad | None = None) -> None:
    VALUES.track(verification, load)


def start() -> None:
    VALUES.start()
