"""Records read from and written to the sidecar, and one enum per kind of status.

Rows read back are immutable pydantic models; what the kernel hands the store to write
(StepStart, NewCheckpoint, CallRecord) are frozen dataclasses.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .notebook import CELL_ID_RE, NAME_RE


class StepStatus(str, enum.Enum):
    """Stored and displayed step states (stale is derived, never stored)."""

    pending = "pending"
    running = "running"
    checkpointing = "checkpointing"
    """The body succeeded; its checkpoint is being written behind the cell
    (kernel/writer.py). Not good until it commits; left so by a dead process, it is
    recovered like `running` (interrupted), never served."""
    succeeded = "succeeded"
    cached = "cached"
    failed = "failed"
    interrupted = "interrupted"
    retrying = "retrying"
    awaiting_approval = "awaiting_approval"
    approved = "approved"
    """Derived, never stored: approved at its gate, waiting to be run again."""
    rejected = "rejected"
    stale = "stale"
    sleeping = "sleeping"
    """A batch run parked the step at a wait longer than its --max-sleep: neither good nor
    failed; the next run re-runs it, which sleeps only what is left (kernel/waits.py)."""

    @property
    def good(self) -> bool:
        return self in GOOD


GOOD = frozenset({StepStatus.succeeded, StepStatus.cached})
"""A step whose current checkpoint is usable: it ran, or was served from its checkpoint."""
GOOD_NAMES = frozenset(s.value for s in GOOD)
IN_FLIGHT = (StepStatus.running, StepStatus.checkpointing)
"""A process is executing the step (its body, or its checkpoint's write): when that
process is gone, the step is interrupted."""
IN_FLIGHT_NAMES = tuple(s.value for s in IN_FLIGHT)


class ApprovalStatus(str, enum.Enum):
    """Where an approval request stands."""

    pending = "pending"
    approved = "approved"
    rejected = "rejected"


class CallStatus(str, enum.Enum):
    """How a durable call ended."""

    succeeded = "succeeded"
    failed = "failed"
    unsaved = "unsaved"
    """The call returned, but its result could not be serialized: it runs again on replay."""


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Run(Record):
    id: str
    kind: str
    status: str
    started_at: float
    ended_at: float | None = None
    pid: int | None = None
    host: str | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    notebook: str | None = None


class Step(Record):
    name: str
    position: int | None = None
    cell_id: str | None = None
    code: str
    code_hash: str
    status: StepStatus
    options: dict[str, Any] = Field(default_factory=dict)
    checkpoint_id: int | None = None
    run_id: str | None = None
    attempts: int = 0
    started_at: float | None = None
    ended_at: float | None = None
    duration: float | None = None
    error: str | None = None
    traceback: str | None = None
    updated_at: float


class Attempt(Record):
    id: int
    run_id: str
    step: str
    number: int
    cache_key: str
    status: str
    started_at: float
    ended_at: float | None = None
    error: str | None = None
    traceback: str | None = None


UNSTABLE_FINGERPRINT = "unhashable:"
"""Prefix of a fingerprint that is only an object's identity (`unhashable:TYPE:ID`): the
value has no stable content fingerprint, so it differs in every kernel."""

STATE_VARIABLE = "__mn_library_state__"
"""The checkpoint variable that holds the library state a step changed (values/libstate.py):
a dunder name, so never a user variable, and never listed as one."""


class VarEntry(Record):
    """One variable of a checkpoint: how to load it, or why it could not be saved."""

    name: str
    type_name: str
    fingerprint: str | None = None
    serializer: str | None = None
    size: int = 0
    header: bytes | None = None
    stream_blob: str | None = None
    buffers: list[tuple[str, int]] = Field(default_factory=list)
    signature: str | None = None
    error: str | None = None
    cosaved: bool = False
    """Saved by a step that did not write it, because it shares objects with what the
    step wrote: it counts as that step's value only when newer than its writer's."""
    stream_size: int | None = None
    """A group member's row: the bytes of the group's stream (`size` is the member's own
    share). None for a value stored alone, whose stream is `size` less its buffers."""
    stream_hash: str | None = None
    """blake2b-256 of the stream (values/signing.py), which the signature covers: None in
    a row written before schema 4, whose signature binds nothing."""

    @property
    def saved(self) -> bool:
        return self.error is None

    @property
    def stream_bytes(self) -> int:
        if self.stream_size is not None:
            return self.stream_size
        return self.size - sum(n for _, n in self.buffers)


def takes_over(new: VarEntry, new_checkpoint: int, held: tuple[VarEntry, int] | None) -> bool:
    """Whether `new` (of checkpoint `new_checkpoint`, a step later in notebook order than
    the one holding `held`) becomes a name's current value. A step's own value always does;
    a value it only co-saved (it shared objects with what the step wrote) does when it is
    newer than the one held: else the step that wrote the name re-ran since."""
    if not new.cosaved or held is None:
        return True
    return new_checkpoint > held[1]


class Checkpoint(Record):
    id: int
    step: str
    cache_key: str
    code_hash: str
    run_id: str | None = None
    created_at: float
    duration: float
    inputs: dict[str, str] = Field(default_factory=dict)
    outputs: list[dict[str, Any]] = Field(default_factory=list)
    size: int = 0
    signature: str | None = None
    """Covers the checkpoint's place, key, outputs and variable rows (values/signing.py):
    its outputs are replayed only when it verifies."""


class Approval(Record):
    id: int
    step: str
    question: str
    status: ApprovalStatus
    requested_at: float
    run_id: str | None = None
    decided_at: float | None = None
    decided_by: str | None = None
    note: str | None = None
    consumed: bool = False


class Event(Record):
    id: int
    ts: float
    run_id: str | None = None
    step: str | None = None
    kind: str
    detail: dict[str, Any] = Field(default_factory=dict)


INPUTS_MISSING = "inputs_missing"
"""Event kind: a good step was stopped before its body because inputs that came from cells
nobody checkpointed are not in the kernel (kernel/origins.py). It stands until something
else happens to the step (a run, a cache hit, a reset)."""


SLEEPING = "sleeping"
"""Event kind: a step started a wait (`mn.sleep`) or was parked at one (detail `wake_at`,
`parked`); the wake-up time of a `sleeping` step is its latest such event's."""
WOKE = "woke"
"""Event kind: a step's wait ended (its wake-up time passed)."""


class InputOrigin(Record):
    """Where an input missing from the kernel is defined: the step whose checkpoint holds
    it, else the last plain code cell before the step in the saved notebook that binds it.

    Read back from the sidecar (untrusted): every field is validated."""

    name: str = Field(min_length=1, max_length=256)
    step: str | None = Field(default=None, pattern=NAME_RE.pattern)
    """The step whose checkpoint holds the value (None: a plain cell, or unknown)."""
    cell_index: int | None = Field(default=None, ge=0)
    """The defining cell's index in the saved notebook, from 0, every cell counted."""
    cell_id: str | None = Field(default=None, pattern=CELL_ID_RE.pattern)
    """The defining cell's id (nbformat 4.5), when the notebook has ids."""
    label: str = Field(max_length=256)
    """As the cell's message says it: "step load", "parameters cell", "cell 3, not a step"."""


# -- what the kernel hands the store to write -------------------------------------------------


@dataclass(frozen=True)
class StepStart:
    """What the runner knows about a step when it reaches a state (an attempt, a gate)."""

    name: str
    cell_id: str | None
    code: str
    code_hash: str
    cache_key: str
    options: dict[str, Any]
    position: int | None = None


@dataclass(frozen=True)
class NewCheckpoint:
    cache_key: str
    code_hash: str
    duration: float
    inputs: dict[str, str]
    outputs: list[dict[str, Any]]
    variables: list[VarEntry]
    new_blobs: list[tuple[str, int]]
    signature: str | None = None
    """values/signing.py checkpoint_signature: what lets a cache hit replay the outputs."""


@dataclass(frozen=True)
class Claimant:
    """Who claims a step to run it (store/leases.py): this process's run."""

    run_id: str
    kind: str
    """The run's kind: `interactive` (a kernel) or `batch`."""
    host: str
    pid: int
    once: bool = False
    """A --once step: its lease is exclusive per step, whatever the cache key."""
    serve_newer_than: int | None = None
    """Serve rather than run when a checkpoint with the step's cache key newer than this
    id exists (someone finished the same work meanwhile); None: run whatever exists
    (--force, a fresh batch run, a step that always runs)."""


@dataclass(frozen=True)
class LeaseOwner:
    """The process that holds a step's lease (epoch seconds)."""

    run_id: str
    kind: str
    host: str
    pid: int
    since: float
    heartbeat: float


@dataclass(frozen=True)
class LeaseWaiter:
    """A claimant waiting for a step another process holds."""

    run_id: str
    kind: str
    host: str
    pid: int
    since: float


@dataclass(frozen=True)
class StepLook:
    """What a step about to run reads of the store, in one statement (`look_to_run`)."""

    checkpoint: Checkpoint | None
    """Its newest checkpoint with its cache key."""
    holder: LeaseOwner | None
    """The live owner of a lease on it that excludes its key, another run's."""
    rejected: str | None
    """The first rejected step before it in notebook order (its position given)."""


@dataclass(frozen=True)
class LeaseDenied:
    """Why `begin_attempt` did not start an attempt: a live owner holds the step (`owner`),
    or the step changed meanwhile (`owner` None: a checkpoint now serves it, or a --once
    step was found interrupted): look again before running."""

    owner: LeaseOwner | None = None


@dataclass(frozen=True)
class GcPlan:
    checkpoints_dropped: int
    referenced: frozenset[str]
    """Every blob some checkpoint still uses: all other blob files may go."""


@dataclass(frozen=True)
class CallRecord:
    """One finished durable call, ready to be written."""

    step: str
    function: str
    call_key: str
    occurrence: int
    status: CallStatus
    run_id: str | None
    attempt_id: int | None
    started_at: float
    duration: float
    result: VarEntry | None = None
    """How to load the result (succeeded calls only)."""
    error: str | None = None
    """The exception (failed) or why the result could not be saved (unsaved)."""
    blobs: Sequence[tuple[str, int]] = ()
    """Blob files the result uses, already written and fsynced."""


@dataclass(frozen=True)
class CallCounts:
    succeeded: int = 0
    failed: int = 0
    unsaved: int = 0

    @property
    def total(self) -> int:
        return self.succeeded + self.failed + self.unsaved


@dataclass(frozen=True)
class StoredValue:
    """A signed value somewhere in the sidecar (a checkpoint variable or a call result)."""

    table: str
    rowid: int
    label: str
    """Names it for a report: the step, the checkpoint or call, the variable."""
    entry: VarEntry
    step: str = ""
    """The step its signature binds it to (its checkpoint's or its call's)."""
    checkpoint_id: int | None = None
    """A checkpoint variable's checkpoint."""
    call: tuple[str, int] | None = None
    """A durable-call result's (call key, occurrence)."""


@dataclass(frozen=True)
class Resigned:
    """A value's new signature (and the stream hash it covers), to write by `trust`."""

    table: str
    rowid: int
    signature: str
    stream_hash: str
