"""What the writer thread is given to land (writer.py): a checkpoint and its attempt."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import LeaseHeld
from ..models import Attempt, Claimant, LeaseOwner, NewCheckpoint, StepStart
from ..store.blob_backend import Blobs
from .staging import Frozen

if TYPE_CHECKING:
    from .snapshot import Child


@dataclass(frozen=True)
class Claim:
    """A step whose inert body ran before it was claimed (runner.py): the writer takes its
    lease, begins its attempt and commits its checkpoint in one transaction."""

    run_id: str
    start: StepStart
    who: Claimant

    def denied(self, owner: LeaseOwner) -> LeaseHeld:
        """The error of this claim denied at its commit: another process took the step in
        the moment between the cell's look and the commit (runner._at_once)."""
        name = self.start.name
        return LeaseHeld(
            name,
            f"step {name!r} was claimed meanwhile by {owner.kind} run {owner.run_id} "
            f"(pid {owner.pid} on {owner.host}), so this run is not recorded",
        )


@dataclass
class Job:
    """One checkpoint waiting for the writer."""

    attempt: Attempt | Claim
    """The attempt it checkpoints; a Claim: the attempt is begun with the commit."""
    checkpoint: NewCheckpoint | Callable[[Blobs], NewCheckpoint]
    """Or what builds it here, writing its blobs (constants.py: nothing to freeze)."""
    blobs: Blobs
    """The backend its blobs land through (the store's, in the kernel)."""
    frozen: list[Frozen]
    reused: list[tuple[str, int]]
    names: frozenset[str]
    """The variables it writes: a cell touching one of them waits for it (barrier.py)."""
    held: int
    live: bool = False
    """Some blob is written from live memory (staging.py)."""
    snapshot: Child | None = None
    """The forked child writing its live blobs from a snapshot (snapshot.py): the
    kernel's memory is not read for it, it is not `live`."""
    done: threading.Event = field(default_factory=threading.Event)
    """Landed (committed, or failed and recorded)."""
    freed: threading.Event = field(default_factory=threading.Event)
    """The writer reads none of the kernel's memory for it any more: its values are frozen
    (at once for a checkpoint with nothing `live`), or it failed."""
    error: str | None = None
    failure: BaseException | None = None
    message: str | None = None

    @property
    def step(self) -> str:
        found = self.attempt
        return found.start.name if isinstance(found, Claim) else found.step
