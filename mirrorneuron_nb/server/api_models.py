"""Request and response bodies of the REST API. Every answer is built from these models,
so what the panel receives is validated on the way out.

The TypeScript twins live in labextension/src/api.ts; keep the two in step.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from ..notebook import NAME_RE
from ..timeline import DEFAULT_RUNS, MAX_RUNS
from .paths import MAX_PATH_CHARS

# Every status the panel knows how to draw. The core's StepStatus is a subset (a test
# checks it). `approved` is derived here: a step still parked at its gate whose approval
# was granted (it runs when its cell runs again).
StatusName = Literal[
    "pending",
    "running",
    "checkpointing",
    "succeeded",
    "cached",
    "failed",
    "retrying",
    "interrupted",
    "stale",
    "awaiting_approval",
    "approved",
    "rejected",
    "sleeping",
]

ApprovalState = Literal["pending", "approved", "rejected"]

STEP_NAME = NAME_RE.pattern
# Event ids are SQLite integers: a larger `after` is bad input, not an overflow in the query.
MAX_EVENT_ID = 2**63 - 1
MAX_TOKEN_CHARS = 256


class ApiModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# -- requests -------------------------------------------------------------------------------


class NotebookQuery(ApiModel):
    path: str = Field(
        min_length=1,
        max_length=MAX_PATH_CHARS,
        description="notebook path relative to the server root",
    )


class StepsQuery(NotebookQuery):
    since: str | None = Field(
        default=None,
        max_length=MAX_TOKEN_CHARS,
        description="token of the last answer the client holds",
    )


class StepQuery(NotebookQuery):
    name: str = Field(pattern=STEP_NAME)


class EventsQuery(NotebookQuery):
    after: int = Field(
        default=0, ge=0, le=MAX_EVENT_ID, description="return events with a larger id"
    )
    limit: int = Field(default=100, ge=1, le=500)
    step: str | None = Field(default=None, pattern=STEP_NAME)


class TimelineQuery(NotebookQuery):
    runs: int = Field(
        default=DEFAULT_RUNS, ge=1, le=MAX_RUNS, description="how many of the last runs"
    )


class ResetRequest(NotebookQuery):
    name: str = Field(pattern=STEP_NAME)


class ApproveRequest(NotebookQuery):
    name: str = Field(pattern=STEP_NAME)
    approve: StrictBool = Field(description="true: approve; false: reject")
    note: str | None = Field(default=None, max_length=2000, description="recorded with it")


# -- responses ------------------------------------------------------------------------------


class ErrorBody(ApiModel):
    code: str
    message: str


class ApprovalInfo(ApiModel):
    """The step's approval gate: the question, and the decision once someone took it."""

    question: str
    status: ApprovalState
    requested_at: float = Field(description="unix time")
    decided_at: float | None = Field(description="unix time")
    decided_by: str | None
    note: str | None


class MissingInputInfo(ApiModel):
    """An input the step's last run found missing from the kernel, and where it is defined."""

    name: str
    step: str | None = Field(description="the step whose checkpoint holds it, if any")
    cell_index: int | None = Field(
        description="its defining cell in the saved notebook: index from 0, every cell counted"
    )
    cell_id: str | None = Field(description="that cell's id, when the notebook has ids")
    label: str = Field(description='e.g. "parameters cell", "cell 3, not a step", "step load"')


class LeaseOwnerInfo(ApiModel):
    """The live process running the step now (it holds the step's lease)."""

    run_id: str
    kind: str = Field(description="kernel or batch")
    host: str
    pid: int
    since: float = Field(description="unix time it claimed the step")
    heartbeat: float = Field(description="unix time it last renewed its lease")


class LeaseWaiterInfo(ApiModel):
    """A kernel or run waiting for the step's owner to finish."""

    run_id: str
    kind: str = Field(description="kernel or batch")
    host: str
    pid: int
    since: float = Field(description="unix time it started waiting")


class StepRow(ApiModel):
    name: str
    status: StatusName
    kind: str = Field(description="compute, llm, tool or human (--kind)")
    once: bool = Field(description="--once: a side effect, never executed twice")
    position: int | None
    duration: float | None = Field(description="seconds")
    attempts: int
    checkpoint_bytes: int | None
    last_run: float | None = Field(description="unix time")
    error: str | None = Field(description="one line; the traceback is in /step")
    stale_reason: str | None
    in_notebook: bool
    unsaved: list[str] = Field(description="variables not checkpointed, with the reason")
    approval: ApprovalInfo | None = Field(
        description="the open approval gate: waiting (pending), or decided and not yet used up"
    )
    durable_recorded: int = Field(description="durable calls recorded (replayed on a re-run)")
    durable_failed: int = Field(description="durable calls that raised (they run again)")
    durable_unsaved: int = Field(description="durable calls whose result was not recorded")
    missing_inputs: list[MissingInputInfo] = Field(
        description="inputs from cells nobody checkpointed that stopped the step's last run "
        "(empty once it ran or was served again): run their cells, then the step"
    )
    wake_at: float | None = Field(
        default=None,
        description="unix time a `sleeping` step wakes up (a batch run parked it at a wait "
        "longer than --max-sleep): the next run after it proceeds; null otherwise",
    )
    owner: LeaseOwnerInfo | None = Field(
        default=None, description="who is running the step now (its lease), if anyone"
    )
    waiting: list[LeaseWaiterInfo] = Field(
        default_factory=list, description="kernels or runs waiting for that owner"
    )


class Summary(ApiModel):
    total: int = Field(description="steps in the notebook")
    good: int = Field(description="of those, succeeded or cached")
    first_unfinished: str | None = Field(description="first step in order that is not good")
    text: str


class InvalidCellInfo(ApiModel):
    """A `%%mn_step` cell whose name the magic refuses: no step, a warning on the cell."""

    cell: int = Field(description="the cell's index in the saved notebook (0-based)")
    cell_id: str | None = Field(description="its nbformat cell id, when the notebook has ids")
    name: str = Field(description="the name as written")
    error: str = Field(description="the magic's error, one line")


class StepsResponse(ApiModel):
    path: str
    token: str = Field(description="changes whenever anything this answer shows changes")
    changed: bool = Field(description="false: same token as `since`, nothing else is sent")
    sidecar: bool = Field(description="false until a step of this notebook has run")
    steps: list[StepRow] | None = None
    deleted: list[StepRow] | None = Field(default=None, description="in the sidecar, cell deleted")
    summary: Summary | None = None
    invalid_cells: list[InvalidCellInfo] | None = Field(
        default=None, description="step cells with a name the magic refuses (not counted)"
    )


class RunInfo(ApiModel):
    id: str
    kind: str
    status: str
    started_at: float
    ended_at: float | None
    pid: int | None
    host: str | None
    parameters: dict[str, Any]
    notebook: str | None


class RunsResponse(ApiModel):
    path: str
    runs: list[RunInfo]


class EventInfo(ApiModel):
    id: int
    ts: float
    run_id: str | None
    step: str | None
    kind: str
    detail: dict[str, Any]


class EventsResponse(ApiModel):
    path: str
    events: list[EventInfo]
    next_after: int = Field(description="pass as `after` to get the next page")
    has_more: bool


class VariableInfo(ApiModel):
    """Metadata of one checkpointed variable: the value itself is never loaded."""

    name: str
    type_name: str
    size: int
    serializer: str | None
    saved: bool
    error: str | None


class OutputInfo(ApiModel):
    output_type: str
    summary: str


class AttemptInfo(ApiModel):
    number: int
    run_id: str
    status: str
    started_at: float
    ended_at: float | None
    error: str | None


class CheckpointInfo(ApiModel):
    id: int
    created_at: float
    duration: float
    size: int
    inputs: list[str]


class StepDetail(ApiModel):
    path: str
    step: StepRow
    traceback: str | None
    code: str | None
    checkpoint: CheckpointInfo | None
    variables: list[VariableInfo]
    outputs: list[OutputInfo]
    attempts: list[AttemptInfo]


class ResetResponse(ApiModel):
    path: str
    reset: list[str]


class ApproveResponse(ApiModel):
    path: str
    name: str
    approval: ApprovalInfo


PlanAction = Literal["restore", "run", "approval", "sleep", "blocked"]


class PlanStep(ApiModel):
    """What the next run does with one step (mirrorneuron_nb/planning.py)."""

    name: str
    position: int = Field(description="index among the notebook's step cells, from 0")
    action: PlanAction
    reason: str = Field(
        description="for run: new, code changed, input changed, forced, failed last time, "
        "interrupted, always runs, approved, running now"
    )
    detail: str | None = Field(
        description="e.g. the input that changed, the question asked, the wake-up time, "
        "the rejected step; 'may run ...' where the plan cannot know"
    )


class PlanResponse(ApiModel):
    notebook: str = Field(description="the notebook's path relative to the server root")
    steps: list[PlanStep]
