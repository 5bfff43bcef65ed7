"""What the writer thread (writer.py) does with one queued checkpoint: its live memory
written out, then the checkpoint made durable and visible, exactly as a cell did it
before write-behind."""

from __future__ import annotations

import threading
from pathlib import Path

from ..errors import CheckpointUnavailable
from ..models import NewCheckpoint
from ..store import Store
from .jobs import Claim, Job


def stage(job: Job, spool: Path) -> None:
    """Write the values it still reads from live memory to temp files, hashed as written
    (BlobChanged when those bytes moved meanwhile: the checkpoint fails, never lands)."""
    for frozen in job.frozen:
        if frozen.live is not None:
            frozen.tmp = job.blobs.stage(frozen.key, frozen.live, spool, verify=True)
            frozen.live = None


def land(store: Store, job: Job, landed: set[str], lock: threading.Condition) -> None:
    """Its blobs fsynced and renamed into place (or uploaded), their directories fsynced,
    then the one transaction that makes the checkpoint visible. `landed`: the keys known
    to be in a remote store (guarded by `lock`)."""
    blobs = job.blobs
    made = job.checkpoint
    checkpoint = made if isinstance(made, NewCheckpoint) else made(blobs)
    for frozen in job.frozen:
        if frozen.tmp is not None:
            blobs.land(frozen.key, frozen.tmp)
            frozen.tmp = None
        elif frozen.data is not None:
            blobs.put(frozen.key, [frozen.data])
            frozen.data = None  # the memory goes as soon as it is stored
    for key, size in job.reused:
        if not blobs.exists(key, size):
            with lock:  # (set aside as corrupt since, say): frozen next time
                landed.discard(key)
            raise CheckpointUnavailable(key, f"blob {key} it reuses is gone")
    blobs.sync_dirs([f.key for f in job.frozen])
    found = job.attempt
    if isinstance(found, Claim):
        done = store.claim_and_commit(found.run_id, found.start, found.who, checkpoint)
        if isinstance(done, tuple):
            job.attempt = done[0]
        elif done.owner is not None:
            raise found.denied(done.owner)
        # else a checkpoint with its key appeared meanwhile: the same constants.
    else:
        store.commit_checkpoint(found, checkpoint)
    if blobs.remote:  # (a local blob is looked at again: gc may delete it)
        with lock:
            landed.update(f.key for f in job.frozen)
            landed.update(k for k, _ in job.reused)
