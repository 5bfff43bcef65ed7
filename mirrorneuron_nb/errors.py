"""One exception hierarchy. Translated to UsageError / exit codes / HTTP only at the edges."""

from __future__ import annotations


def one_line(exc: BaseException) -> str:
    """`Type: first line of the message`: how errors appear in tables and warnings."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


class MirrorNeuronError(Exception):
    """Base class: every error this package raises on purpose."""


class InvalidInput(MirrorNeuronError):
    """The caller passed something we reject (bad step name, unknown option, ...)."""


class SidecarError(MirrorNeuronError):
    """The sidecar cannot be used: unreadable, corrupted, or locked."""


class SidecarLocked(SidecarError):
    """Another process holds a lock on the sidecar longer than we are willing to wait."""


class SidecarDamaged(SidecarError):
    """The sidecar's database (or its write-ahead log) is damaged, vanished or replaced:
    nothing is written to it until it is repaired (`mn-nb doctor` says how)."""


class SidecarFull(SidecarError):
    """No space left for the sidecar's database: nothing could be recorded, nothing lost."""


class StoreUnavailable(SidecarError):
    """The store's backing service cannot be reached (the shared database down or
    restarted, the object store of MIRRORNEURON_BLOBS unreachable or refusing): nothing
    half-written is used; the step fails, values stay in memory, the next call tries again."""


class NothingStored(SidecarError):
    """A shared store holds nothing of this notebook yet (no step ran): like no sidecar."""


class ClusterUnavailable(MirrorNeuronError):
    """`mn-nb sweep --dask ADDRESS`: the Dask scheduler cannot be reached (or a cluster
    cannot be started)."""


class NotFound(MirrorNeuronError):
    """A named thing (notebook, sidecar) does not exist."""


class SchemaTooNew(SidecarError):
    """The sidecar was written by a newer mirrorneuron_nb than this one."""

    def __init__(self, path: str, found: int, supported: int) -> None:
        super().__init__(
            f"sidecar {path} has schema version {found}, this mirrorneuron_nb supports up to "
            f"{supported}: upgrade mirrorneuron_nb to use it"
        )
        self.found = found
        self.supported = supported


class DuplicateStep(InvalidInput):
    """Two different cells of one notebook use the same step name."""


class UnknownStep(InvalidInput):
    """A command named a step the sidecar does not know."""


class NotAwaitingApproval(InvalidInput):
    """A decision was sent for a step that is not waiting at its approval gate (never asked,
    already decided, or used up)."""


class UsageFailure(InvalidInput):
    """Bad input on the command line (mn-nb): exit code 2."""


class PathOutsideRoot(InvalidInput):
    """A notebook path (from an HTTP request) that resolves outside the server root."""


class UnsafeSidecar(InvalidInput):
    """A sidecar the server will not open (from an HTTP request): not a directory, or its
    database files are links or not regular files (SQLite would follow or hang on them)."""


class CheckpointUnavailable(MirrorNeuronError):
    """A checkpointed value cannot be loaded (missing/corrupt blob, untrusted signature)."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


class BlobChanged(MirrorNeuronError):
    """Memory written behind the cell changed while it was written (kernel/staging.py)."""


class UntrustedCheckpoint(CheckpointUnavailable):
    """A pickle stream was not signed with this user's key: loading it could run foreign code."""


class NotCheckpointable(MirrorNeuronError):
    """A value cannot be serialized; the reason names what is wrong with it."""


class StepTimeout(TimeoutError):
    """An attempt ran past --timeout. A TimeoutError (not ours), so it retries like any
    other failure of the user's code."""


class WaitTimeout(TimeoutError):
    """`mn.wait_until` reached its recorded deadline without a true value from its
    predicate. A TimeoutError, like StepTimeout: the user's wait failed, not the package."""


class StepStopped(Exception):
    """A gate stopped the cell on purpose. Shown as its message alone (no traceback); the
    cell still ends in an error so "Run All" and batch runs stop at it."""

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


class ApprovalRequired(StepStopped):
    """The step waits for a human's decision before its body runs."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(message)
        self.step = step


class StepRejected(StepStopped):
    """A human rejected the step (or an earlier one): it and later steps do not run."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(message)
        self.step = step


class InputsMissing(StepStopped):
    """A succeeded step's inputs are not in the kernel (after a restart) and no checkpoint
    holds them: its body does not run (it would fail and lose its good status)."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(message)
        self.step = step


class StepSleeping(StepStopped):
    """A batch run reached a wait (`mn.sleep`, `mn.wait_until`) longer than its
    `--max-sleep`: the step is parked `sleeping` until `wake_at` and the run stops, so a
    scheduler can run the same command again later."""

    def __init__(self, step: str, wake_at: float, what: str, message: str) -> None:
        super().__init__(message)
        self.step = step
        self.wake_at = wake_at
        self.what = what


class LeaseHeld(StepStopped):
    """Another live process holds the step (it is running it): not run here, nothing
    recorded as failed (--no-wait, an interrupted wait, a batch run's --lease-wait)."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(message)
        self.step = step


class SigningKeyError(InvalidInput):
    """The per-user signing key cannot be used safely (too short, not a regular file,
    readable by others): nothing is signed or loaded with it."""
