"""Records read from and written to the sidecar. Immutable pydantic models."""

from __future__ import annotations

import enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class StepStatus(str, enum.Enum):
    """Stored and displayed step states (stale is derived, never stored)."""

    pending = "pending"
    running = "running"
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

    @property
    def good(self) -> bool:
        return self in (StepStatus.succeeded, StepStatus.cached)


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

    @property
    def saved(self) -> bool:
        return self.error is None


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


class Approval(Record):
    id: int
    step: str
    question: str
    status: str
    """pending, approved or rejected."""
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
