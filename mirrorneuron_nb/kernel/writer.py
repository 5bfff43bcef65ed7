"""The one background thread per kernel that makes step checkpoints durable (write-behind).

A step's body succeeded: its blobs are kept (staging.py: in memory, in a temp file, or
as views of live memory that are written and verified here), its rows and signature made,
the step marked `checkpointing`, and control returns to the user. Here, first the live
memory of every queued checkpoint is written to temp files, in queue order (a cell may be
waiting for it); then, in FIFO order (so checkpoints commit in step order), each one is
made durable exactly as before write-behind (landing.py): blobs fsynced and renamed into
place, their directories fsynced, then the one transaction that makes the checkpoint
visible (store.commit_checkpoint). A reader never sees it before that; a process killed
before it leaves the previous checkpoint, and the step `checkpointing`, which the next
open recovers as interrupted.

A write that fails is never silent: the attempt is recorded failed (an event in the log),
the lease given back, and the message is shown by the next cell (barrier.py). The writer
is one source of the kernel's read barrier: its pending names are the variables it still
writes from the kernel's live memory. A cell touching one waits until those bytes are
written and checked, not for their fsync and commit (which change no value, and which
`%mn_resume`, the panel, the CLI and `mn.flush()` wait for whole); values frozen in their
cell are never waited for, nor are big arrays a forked child writes from a snapshot of
the kernel taken as the step's cell ended (snapshot.py).

Blobs land through the store's own backend, local or remote (an upload, then), so remote
blobs are written behind the cell as well. Big ones wait in temp files: beside their
place for the local store, in a spool directory for a remote one (spool.py).
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Collection
from pathlib import Path

from .. import config
from ..errors import MirrorNeuronError, SidecarFull
from ..models import Attempt, NewCheckpoint
from ..render import format_bytes
from ..store import Store, open_store
from ..store.blob_backend import Blobs
from . import landing, snapshot
from .heartbeat import Heartbeat
from .jobs import Claim, Job
from .spool import spool_dir
from .staging import StagingBlobs
from .wakeup import LateWake
from .write_failure import record_failure

_NONE: frozenset[str] = frozenset()


class Writer:
    binds_wait = False
    """Binding a pending name changes no value being written (the writer holds it)."""

    def __init__(self, root: Path, notebook: Path | None, heartbeat: Heartbeat) -> None:
        self.root, self.notebook = root, notebook
        self.heartbeat = heartbeat
        self._cond = threading.Condition()
        self._wake = LateWake(self._cond)
        self._queue: deque[Job] = deque()
        """Jobs not yet landed; the first one is being written."""
        self._queued = 0
        self._reserved = 0
        self._keys: Counter[str] = Counter()
        self._failures: list[str] = []
        self._thread: threading.Thread | None = None
        self._stop = False
        self._said = False
        self._landed: set[str] = set()
        """Keys this writer landed or found there (a remote store is not asked again)."""
        self._spool: Path | None = None
        self._live = 0
        """Queued jobs still to write from live memory (staging.py): not `freed`."""

    @property
    def through_code(self) -> bool:
        """Frozen values only: code cannot reach them, a cell waits only for the names it
        reads. A value written from live memory: a cell that may reach any global through
        code (a notebook function) waits for it too (barrier.py)."""
        return self._live > 0

    # -- the cell's side ------------------------------------------------------------------

    def staging(self, blobs: Blobs, live: Callable[[], bool] | None = None) -> StagingBlobs:
        """Where a step's checkpoint keeps its new blobs, for `blobs` (the store's
        backend) to land later (the bound is read as the first one comes: a step of
        constants does not read /proc/meminfo); `live()`: whether big ones may be
        written from live memory (staging.py)."""
        limit: list[int] = []

        def room(size: int) -> bool:
            if not limit:
                limit.append(config.pending_bytes())
            return self._room(size, limit[0])

        return StagingBlobs(
            blobs,
            self.spool(),
            room,
            self._pending_key,
            self._landed,
            live=None if config.freeze() else live,
        )

    def spool(self) -> Path:
        """The local directory a remote store's big blobs wait in (spool.py)."""
        if self._spool is None:
            self._spool = spool_dir(self.root)
        return self._spool

    def submit(
        self,
        attempt: Attempt | Claim,
        checkpoint: NewCheckpoint | Callable[[Blobs], NewCheckpoint],
        staged: StagingBlobs,
        unordered: frozenset[str] = frozenset(),
        names: frozenset[str] = frozenset(),
        behind: bool = True,
    ) -> Job:
        """Queue a checkpoint whose blobs are frozen (or its builder, with the `names` it
        writes); the writer lands it in order. A cell naming one of its variables waits
        for it, except those `unordered` (modules). `behind`: the cell goes on without
        it (else its live memory is not snapshotted: nothing would run meanwhile)."""
        if isinstance(checkpoint, NewCheckpoint):
            names = frozenset(v.name for v in checkpoint.variables)
        names -= unordered
        job = Job(
            attempt,
            checkpoint,
            staged.inner,
            staged.frozen,
            staged.reused,
            names,
            staged.held,
            live=staged.live,
        )
        if job.live and behind:
            return snapshot.queue(job, self.spool(), self._enqueue)
        return self._enqueue(job)

    def submit_built(
        self,
        claim: Claim,
        build: Callable[[Blobs], NewCheckpoint],
        blobs: Blobs,
        names: frozenset[str],
    ) -> Job:
        """Queue the builder of a checkpoint that freezes nothing (constants.py), its
        blobs written to `blobs` here."""
        return self._enqueue(Job(claim, build, blobs, [], [], names, 0))

    def _enqueue(self, job: Job) -> Job:
        if not job.live:
            job.freed.set()  # frozen in its cell: nothing of the kernel's is read later
        with self._cond:
            self._live += job.live
            self._reserved -= job.held
            self._queued += job.held
            if job.frozen:
                self._keys.update(f.key for f in job.frozen)
            self._queue.append(job)
            if self._thread is None:
                self._stop = False
                self._thread = threading.Thread(target=self._run, name="mn-writer", daemon=True)
                self._thread.start()
            self._wake.soon()  # once the cell's reply is sent (wakeup.py)
        return job

    def wake(self) -> None:
        """Start on what is queued now (a cell starts, or waits for it: wakeup.py)."""
        self._wake.now()

    def landed(self, job: Job) -> None:
        """Wait until `job` has landed."""
        self._wake.now()
        job.done.wait()

    def discard(self, staged: StagingBlobs) -> None:
        """A staging that will not be queued: its temp files go, its bytes are free."""
        staged.discard()
        if not staged.held:
            return  # nothing freed: waking the writer thread costs a trivial step ~0.1 ms
        with self._cond:
            self._reserved -= staged.held
            staged.held = 0
            self._cond.notify_all()

    def idle(self) -> bool:
        with self._cond:
            return not self._queue

    def quick(self) -> bool:
        """Nothing queued holds frozen bytes: what is queued commits in milliseconds, so a
        step queued now is not long invisible (an inert step's claim waits for its turn)."""
        with self._cond:
            return not any(job.held for job in self._queue)

    def holds(self, step: str) -> bool:
        """A checkpoint of `step` is pending (its lease is the writer's to release)."""
        with self._cond:
            return any(j.step == step for j in self._queue)

    def wait(self, step: str | None = None) -> bool:
        """Wait until every pending checkpoint of `step` (None: every one) has landed, and
        so every one queued before it. Whether there was anything to wait for."""
        with self._cond:
            last = None
            for job in self._queue:
                if step is None or job.step == step:
                    last = job
        if last is None:
            return False
        self.landed(last)
        return True

    def drain(self) -> None:
        self.wait()

    def reraise(self, job: Job) -> None:
        """For a checkpoint its cell waited for (a batch run, or past the bound): one of
        our errors (the store unavailable, say) fails the cell, as a write in the cell
        would, and the next cell does not repeat it. A full disk does not (commit.py)."""
        exc = job.failure
        if isinstance(exc, MirrorNeuronError) and not isinstance(exc, SidecarFull):
            with self._cond:
                if job.message in self._failures:
                    self._failures.remove(job.message)
            raise exc

    # -- as a source of the read barrier (barrier.py) ---------------------------------

    def pending_names(self) -> frozenset[str]:
        """The variables still to be written from live memory."""
        if not self._live:  # read without the lock: the hot path of every cell
            return _NONE
        with self._cond:
            return frozenset().union(*(j.names for j in self._queue if not j.freed.is_set()))

    def wait_for(self, names: Collection[str] | None) -> None:
        """Return once no value of `names` (None: no value at all) is still to be written
        from live memory; a failure that freed it is then reported by `settle`."""
        with self._cond:
            found = [
                j
                for j in self._queue
                if not j.freed.is_set() and (names is None or not j.names.isdisjoint(names))
            ]
        if found:
            self._wake.now()
            for job in found:
                job.freed.wait()

    def settle(self, session: object) -> list[str]:
        return self.failures()

    def failures(self) -> list[str]:
        """The messages of writes that failed since the last call."""
        if not self._failures:  # read without the lock: the hot path of every cell
            return []
        with self._cond:
            found, self._failures = self._failures, []
        return found

    def close(self) -> None:
        """Land every pending checkpoint, then stop the thread (kernel shutdown)."""
        self.drain()
        with self._cond:
            self._stop = True
            thread, self._thread = self._thread, None
            self._cond.notify_all()
        if thread is not None:
            thread.join(timeout=30)
        for message in self.failures():
            print(message, file=sys.stderr)

    def _pending_key(self, key: str) -> bool:
        with self._cond:
            return self._keys[key] > 0

    def _room(self, size: int, limit: int) -> bool:
        """Reserve `size` bytes for a blob about to be frozen, waiting for the writer while
        pending checkpoints hold too much; False: write this one through."""
        with self._cond:
            if self._queued + self._reserved + size > limit and size <= limit:
                self._say(limit)
                self._wake.now()  # it may not have been woken yet
                while self._queue and self._queued + self._reserved + size > limit:
                    self._cond.wait()
            if self._queued + self._reserved + size > limit:
                if limit:
                    self._say(limit)
                return False
            self._reserved += size
            return True

    def _say(self, limit: int) -> None:
        if not self._said:
            self._said = True
            print(
                f"mn_step: checkpoints being written hold {format_bytes(limit)} "
                f"({config.PENDING_BYTES_ENV}); cells wait for the disk past it",
                file=sys.stderr,
            )

    # -- the thread -----------------------------------------------------------------------

    def _run(self) -> None:
        store: Store | None = None
        try:
            while True:
                with self._cond:
                    while (not self._queue or self._wake.owed) and not self._stop:
                        self._cond.wait()
                    if not self._queue:
                        return
                    job = self._queue[0]
                    # Live memory first, in queue order: a cell may be waiting for it,
                    # none waits for a commit (the pending-bytes bound bounds the lead).
                    ahead = next((j for j in self._queue if not j.freed.is_set()), None)
                if ahead is not None:
                    store = self._stage_ahead(store, ahead)
                    continue
                try:
                    if store is None:
                        store = self._open()
                    if job.failure is None:  # (else it failed ahead of its turn)
                        self._land(store, job)
                except BaseException as exc:  # reported, never silent
                    self._failed(store, job, exc)
                finally:
                    with self._cond:
                        self._queue.popleft()
                        self._queued -= job.held
                        self._keys.subtract(f.key for f in job.frozen)
                        self._keys = +self._keys
                        self._cond.notify_all()
                        idle = not self._queue
                    job.done.set()
                if idle and store is not None:
                    # What the next step's look finds, read now rather than in its cell.
                    with contextlib.suppress(MirrorNeuronError, OSError):
                        store.refresh_looks()
        finally:
            if store is not None:
                store.close()

    def _open(self) -> Store:
        store = open_store(self.root, notebook=self.notebook, verify=False)
        store.keep_looks()
        return store

    def _stage_ahead(self, store: Store | None, job: Job) -> Store | None:
        """Write a checkpoint's live memory before any queued checkpoint lands. A failure
        is recorded at once, for a cell waiting on it to say; its turn only ends it."""
        try:
            self._stage(job)
        except BaseException as exc:  # reported, never silent
            if store is None:
                with contextlib.suppress(MirrorNeuronError, OSError):
                    store = self._open()
            self._failed(store, job, exc)
        return store

    def _stage(self, job: Job) -> None:
        """Its live memory written out; then cells may touch those values again."""
        _delay()
        landing.stage(job, self.spool())
        self._free(job)

    def _land(self, store: Store, job: Job) -> None:
        if job.snapshot is not None:
            snapshot.finish(job, self.spool())  # (its child waits the test delay)
        elif not job.live:
            _delay()  # (a live one's memory was written ahead, after the delay: _stage)
        landing.land(store, job, self._landed, self._cond)
        self.heartbeat.drop(job.step)  # the commit released the lease

    def _free(self, job: Job) -> None:
        with self._cond:
            if not job.freed.is_set():
                job.freed.set()
                self._live -= job.live
                self._cond.notify_all()

    def _failed(self, store: Store | None, job: Job, exc: BaseException) -> None:
        """Recorded, and kept for the next cell to say (write_failure.py). The values stay
        in the kernel."""
        snapshot.abandon(job)
        message = record_failure(store, job, exc, self.heartbeat)
        with self._cond:
            self._failures.append(message)
        self._free(job)  # a cell waiting on it goes on, and says so


def _delay() -> None:
    """Tests only (config.writer_delay): a window before the writer starts on a job."""
    delay = config.writer_delay()
    if delay:
        time.sleep(delay)
