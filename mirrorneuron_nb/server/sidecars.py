"""Read-only sidecar connections, kept open between requests.

Polling is cheap because a connection stays open: `PRAGMA data_version` on it changes
exactly when another connection (a kernel, the CLI, a reset) commits, so "has anything
changed?" costs one pragma and two stat() calls, with no query and no notebook parse.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import NothingStored, SidecarError, SidecarLocked
from ..store import Store, database_path, is_shared, open_store, pid_alive

# A request waits this long for another process's lock, then answers 503 (the kernel's own
# connections wait much longer: a server thread should not hang on a busy sidecar).
BUSY_TIMEOUT_MS = 2000
MAX_OPEN = 16

_generations = itertools.count(1)


@dataclass
class OpenSidecar:
    store: Store
    identity: tuple[int, int]
    """(st_dev, st_ino) of the database file when opened: a replaced file is reopened."""
    generation: int
    """Distinguishes data_version values of different connections (they are per connection)."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    watched_pids: tuple[int, ...] = ()
    """Processes of runs with a step `running` at the last read: their death changes the
    status shown (running -> interrupted) without any write to the sidecar."""

    def data_version(self) -> int:
        return self.store.data_version()


class Sidecars:
    """A small LRU of open read-only stores, safe to use from the server's worker threads."""

    def __init__(self, max_open: int = MAX_OPEN, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
        self.max_open = max_open
        self.busy_timeout_ms = busy_timeout_ms
        self._open: OrderedDict[Path, OpenSidecar] = OrderedDict()
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def reading(self, sidecar: Path) -> Iterator[OpenSidecar | None]:
        """The open sidecar, locked for this thread; None if no step has run yet."""
        entry = self._get(sidecar)
        if entry is None:
            yield None
            return
        try:
            with entry.lock:
                yield entry
        except SidecarError as exc:
            if not isinstance(exc, SidecarLocked):
                # Corrupted or replaced underneath us: start afresh next time.
                self._drop(sidecar, entry)
            raise

    def _get(self, sidecar: Path) -> OpenSidecar | None:
        if is_shared():
            return self._get_shared(sidecar)
        db = database_path(sidecar)
        try:
            st = db.stat()
        except FileNotFoundError:
            self._drop(sidecar)
            return None
        except OSError as exc:
            raise SidecarError(f"cannot read sidecar {sidecar}: {exc}") from exc
        if st.st_size == 0:
            # Created but never initialized by a kernel: nothing to show yet.
            return None
        identity = (st.st_dev, st.st_ino)
        with self._lock:
            entry = self._open.get(sidecar)
            if entry is not None and entry.identity == identity:
                self._open.move_to_end(sidecar)
                return entry
        if entry is not None:
            self._drop(sidecar, entry)
        store = Store(sidecar, readonly=True, busy_timeout_ms=self.busy_timeout_ms)
        entry = OpenSidecar(store, identity, next(_generations))
        with self._lock:
            self._open[sidecar] = entry
            evicted = []
            while len(self._open) > self.max_open:
                evicted.append(self._open.popitem(last=False)[1])
        for old in evicted:
            _close(old)
        return entry

    def _get_shared(self, sidecar: Path) -> OpenSidecar | None:
        """The notebook's rows in the shared store (no file to watch); None until a step ran."""
        with self._lock:
            entry = self._open.get(sidecar)
            if entry is not None:
                self._open.move_to_end(sidecar)
                return entry
        try:
            store = open_store(sidecar, readonly=True)
        except NothingStored:
            return None
        return self._keep(sidecar, OpenSidecar(store, (0, 0), next(_generations)))

    def _keep(self, sidecar: Path, entry: OpenSidecar) -> OpenSidecar:
        with self._lock:
            self._open[sidecar] = entry
            evicted = []
            while len(self._open) > self.max_open:
                evicted.append(self._open.popitem(last=False)[1])
        for old in evicted:
            _close(old)
        return entry

    def _drop(self, sidecar: Path, entry: OpenSidecar | None = None) -> None:
        with self._lock:
            current = self._open.get(sidecar)
            if current is None or (entry is not None and current is not entry):
                return
            del self._open[sidecar]
        _close(current)

    def close(self) -> None:
        with self._lock:
            entries = list(self._open.values())
            self._open.clear()
        for entry in entries:
            _close(entry)


def _close(entry: OpenSidecar) -> None:
    with entry.lock:
        entry.store.close()


def pid_fingerprint(pids: tuple[int, ...]) -> str:
    """One character per watched process: alive or gone."""
    return "".join("1" if pid_alive(p) else "0" for p in pids) if pids else ""


def stat_token(path: Path) -> str:
    try:
        st = os.stat(path)
    except OSError:
        return "-"
    return f"{st.st_mtime_ns:x}-{st.st_size:x}"
