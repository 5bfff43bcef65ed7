"""The one thread per kernel that keeps the leases its run holds alive (store/leases.py)."""

from __future__ import annotations

import threading
from pathlib import Path

from .. import config
from ..errors import MirrorNeuronError
from ..store import Store, open_store


class Heartbeat:
    """One background thread per kernel renewing every lease its run holds, every few
    seconds: one UPDATE in a transaction of its own (never inside the kernel's), and only
    while a lease is held. Its store is its own; on PostgreSQL the connection under it is
    the one the kernel's session and writer use too (postgres_conn.py: one per process),
    taken in turn, so a beat waits at most for one of their transactions."""

    def __init__(self, root: Path, notebook: Path | None = None) -> None:
        self.root = root
        self.notebook = notebook
        self.run_id: str | None = None
        self._held: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def hold(self, step: str) -> None:
        with self._lock:
            self._held.add(step)
        if self._thread is None:
            self._thread = threading.Thread(target=self._beat, name="mn-lease", daemon=True)
            self._thread.start()

    def drop(self, step: str) -> bool:
        """Stop renewing `step`'s lease; whether it was held."""
        with self._lock:
            held = step in self._held
            self._held.discard(step)
            return held

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=5)

    def _beat(self) -> None:
        store: Store | None = None
        interval = config.heartbeat_interval()
        try:
            while not self._stop.wait(interval):
                with self._lock:
                    busy = bool(self._held)
                if not busy or self.run_id is None:
                    continue
                try:
                    if store is None:
                        store = open_store(self.root, notebook=self.notebook, verify=False)
                    store.heartbeat(self.run_id)
                except MirrorNeuronError:
                    continue  # locked or full for now: the next beat tries again
        finally:
            if store is not None:
                store.close()
