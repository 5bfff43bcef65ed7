"""Wake the writer thread once the cell's reply is on its way, not while it is being sent.

A checkpoint queued by a cell used to wake the writer at once. Under ipykernel the cell's
reply and idle status are sent right after the cell, and a writer landing a checkpoint
then (Python between SQLite calls) takes the GIL from them in turns: a trivial step's
round trip grew by 1-2 ms that way, though the landing itself costs ~0.1 ms of CPU.

So a cell that queues work asks for a wake when the kernel's event loop next runs
callbacks: after the cell's request is answered (ipykernel answers it in one task,
without yielding to the loop in between). Until then the writer takes up no new work,
also when it was busy with an earlier cell's. Outside a running loop (a terminal
IPython, an in-process shell) the wake is immediate. Whoever waits for queued work wakes
the writer first (`now`), and so does every cell as it starts: queued work never waits
behind another cell.
"""

from __future__ import annotations

import asyncio
import threading


class LateWake:
    """Wakes the threads waiting on `cond` soon, or now; `soon` is called holding it."""

    def __init__(self, cond: threading.Condition) -> None:
        self._cond = cond
        self._owed = False
        """Work was queued and nobody was woken for it yet."""

    @property
    def owed(self) -> bool:
        """Work is queued that the waiting threads are not to take up yet."""
        return self._owed

    def soon(self) -> None:
        if self._owed:
            return  # a wake is already on its way
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._cond.notify_all()
            return
        self._owed = True
        loop.call_soon(self.now)

    def now(self) -> None:
        """Wake them if a wake is owed (cheap otherwise: no lock is taken)."""
        if not self._owed:
            return
        with self._cond:
            self._owed = False
            self._cond.notify_all()
