"""A checkpoint the writer could not land (writer.py): recorded, never silent.

The attempt is recorded failed (an event in the log) and its lease given back; the
message, for the next cell to show, says that the previous checkpoint is kept and the
values are still in the kernel."""

from __future__ import annotations

import contextlib
import os
import traceback

from ..errors import MirrorNeuronError, one_line
from ..models import Attempt
from ..store import Store
from .heartbeat import Heartbeat
from .jobs import Job


def record_failure(store: Store | None, job: Job, exc: BaseException, heartbeat: Heartbeat) -> str:
    """Record `job` failed with `exc` (its temp files deleted) and return its message."""
    for frozen in job.frozen:
        frozen.live = None
        if frozen.tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(frozen.tmp)
    # Our own errors say what failed already ("store unavailable: ..."); others get
    # their type.
    ours = isinstance(exc, MirrorNeuronError) and str(exc).strip()
    reason = str(exc).strip().splitlines()[0] if ours else one_line(exc)
    job.error, job.failure = reason, exc
    heartbeat.drop(job.step)
    attempt = job.attempt
    if store is not None and isinstance(attempt, Attempt):
        # A full disk may refuse these too: the next open then finds the step
        # `checkpointing` with its process gone, and marks it interrupted.
        with contextlib.suppress(MirrorNeuronError, OSError):
            store.fail_attempt(
                attempt,
                f"checkpoint not written: {reason}",
                "".join(traceback.format_exception(exc)),
            )
        with contextlib.suppress(MirrorNeuronError, OSError):
            store.release(job.step, attempt.run_id, "failed")
    job.message = (
        f"mn_step {job.step}: its checkpoint could not be written ({reason}); the "
        "previous checkpoint is kept and its values are still in this kernel: re-run "
        f"step {job.step!r} to checkpoint them"
    )
    return job.message
