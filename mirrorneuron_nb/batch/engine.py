"""The papermill engine `mirrorneuron` (entry point group `papermill.engine`).

papermill loads engines while it is still importing itself: this module may only use
papermill names that exist by then (Engine, the client wrapper, utils), and batch.py,
which imports it indirectly, must not import papermill at module level.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from nbclient.exceptions import DeadKernelError
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import Engine
from papermill.utils import merge_kwargs, remove_args

from ..errors import InvalidInput, LeaseHeld, SidecarError, StoreUnavailable
from ..models import Event, Step, StepStatus
from ..notebook import step_name
from ..sidecar import sidecar_of
from ..store import open_store
from .run import (
    ENGINE_NAME,
    KERNEL_DIED,
    LEASE_HELD,
    LOAD_EXT,
    CellOutcome,
    ProgressCallback,
    batch_environment,
    cell_error,
    environ,
)
from .transport import AsyncIPCKernelManager

__all__ = ["ENGINE_NAME", "MirrorNeuronEngine"]

# A gate or a long wait stopped the step on purpose: the run pauses there.
STOPPED = (StepStatus.awaiting_approval, StepStatus.rejected, StepStatus.sleeping)
# This run's events that say what state it left a step in (an event named after it).
STATUSES = frozenset(
    s.value for s in (*STOPPED, StepStatus.succeeded, StepStatus.cached, StepStatus.failed)
)
OUTCOME_WAIT = 30.0
"""Seconds a step's outcome is waited for while the shared database does not answer."""
OUTCOME_RETRY = 0.5
KERNEL_STDOUT = 2
"""The file descriptor a batch run's kernel process writes its stdout to: the driver's
stderr (a Dask worker's log on a cluster)."""


class _Client(PapermillNotebookClient):  # type: ignore[misc]
    """Papermill's client, plus: load the extension if the notebook does not, and report
    each step's outcome (read back from the sidecar: what this run, `run_id`, did) as cells
    complete."""

    def __init__(
        self,
        nb_man: Any,
        sidecar: Path,
        run_id: str,
        progress: ProgressCallback | None,
        **kwargs: Any,
    ) -> None:
        super().__init__(nb_man, **kwargs)
        self.sidecar = sidecar
        self.run_id = run_id
        self.progress = progress
        self.kernel_died = False

    def execute_cell(self, cell: Any, cell_index: int, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().execute_cell(cell, cell_index, *args, **kwargs)
        except DeadKernelError:
            # Seen by cell_complete (papermill calls it in a `finally`) before it propagates.
            self.kernel_died = True
            raise

    def papermill_execute_cells(self) -> None:
        sources = ["".join(c.source) for c in self.nb.cells if c.cell_type == "code"]
        if not any(LOAD_EXT in s for s in sources):
            self.wait_for_reply(self.kc.execute(LOAD_EXT, silent=True))
        start, complete = self.nb_man.cell_start, self.nb_man.cell_complete
        began = [time.perf_counter()]

        def cell_start(cell: Any, cell_index: int | None = None, **kw: Any) -> Any:
            began[0] = time.perf_counter()
            return start(cell, cell_index=cell_index, **kw)

        def cell_complete(cell: Any, cell_index: int | None = None, **kw: Any) -> Any:
            self._mark(cell, time.perf_counter() - began[0])
            return complete(cell, cell_index=cell_index, **kw)

        self.nb_man.cell_start, self.nb_man.cell_complete = cell_start, cell_complete
        try:
            super().papermill_execute_cells()
        finally:
            self.nb_man.cell_start, self.nb_man.cell_complete = start, complete

    def _mark(self, cell: Any, seconds: float) -> None:
        name = step_name("".join(cell.source)) if cell.cell_type == "code" else None
        if name is None:
            return
        if self.kernel_died:
            outcome: CellOutcome | None = CellOutcome(name, "failed", seconds, KERNEL_DIED)
        else:
            outcome = _outcome(self.sidecar, self.run_id, name, cell, seconds)
        if outcome is None:
            return
        cell.metadata["mirrorneuron"] = {"step": name, "outcome": outcome.outcome}
        if self.progress is not None:
            self.progress(outcome)


def _read(sidecar: Path, run_id: str, name: str) -> tuple[Step | None, StepStatus | None]:
    """The step's row, and the status this run left it in (None: this run recorded nothing
    that says). The row alone is not enough: other runs sharing the sidecar (a sweep's other
    combinations) update it too, even between this cell's end and this read.

    A shared database that does not answer (restarting) is asked again for up to
    OUTCOME_WAIT seconds: the cell's outcome is in it, and a run reported without it
    would name a step that succeeded as unfinished. Past that, nothing is known."""
    deadline = time.monotonic() + OUTCOME_WAIT
    while True:
        try:
            store = open_store(sidecar, readonly=True)
            try:
                step, mine = store.step(name), store.run_step_event(run_id, name)
            finally:
                store.close()
            return step, _status(mine)
        except StoreUnavailable:
            if time.monotonic() >= deadline:
                return None, None
            time.sleep(OUTCOME_RETRY)
        except SidecarError:
            return None, None


def _status(event: Event | None) -> StepStatus | None:
    if event is None or event.kind not in STATUSES:
        return None
    return StepStatus(event.kind)


def _outcome(
    sidecar: Path, run_id: str, name: str, cell: Any, duration: float
) -> CellOutcome | None:
    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    failure = cell_error(cell)
    step, mine = _read(sidecar, run_id, name)
    status = mine or (step.status if step is not None else None)
    if step is not None and status in STOPPED:
        return CellOutcome(name, status.value, duration, step.error)
    if errors and errors[0].get("ename") == LeaseHeld.__name__:
        # Another process runs the step: this run stopped waiting (--lease-wait).
        return CellOutcome(name, LEASE_HELD, duration, str(errors[0].get("evalue", "")))
    if failure is not None:
        # A step's own exception is recorded with the step; a cell the magic refused (an
        # invalid name or option, a duplicate name) records nothing, or left an older run's
        # row: its reason is the cell's own (a UsageError on its stderr).
        if errors and step is not None and status is StepStatus.failed and step.error:
            failure = step.error
        return CellOutcome(name, "failed", duration, failure)
    if step is not None and status is StepStatus.failed:
        return CellOutcome(name, "failed", duration, step.error)
    if step is None:
        return None
    return CellOutcome(name, "restored" if status is StepStatus.cached else "ran", duration)


class MirrorNeuronEngine(Engine):  # type: ignore[misc]
    """Registered with papermill as `--engine mirrorneuron` (entry point papermill.engine)."""

    @classmethod
    def execute_managed_notebook(
        cls,
        nb_man: Any,
        kernel_name: str,
        log_output: bool = False,
        stdout_file: Any = None,
        stderr_file: Any = None,
        start_timeout: int = 60,
        execution_timeout: int | None = None,
        **kwargs: Any,
    ) -> Any:
        input_path = kwargs.get("input_path")
        if not input_path or str(input_path).startswith(("-", "http://", "https://", "s3://")):
            raise InvalidInput("the mirrorneuron engine needs a local input notebook path")
        progress: ProgressCallback | None = kwargs.pop("mn_progress", None)
        fresh = bool(kwargs.pop("mn_fresh", False))
        max_sleep: float | None = kwargs.pop("mn_max_sleep", None)
        lease_wait: float | None = kwargs.pop("mn_lease_wait", None)
        notebook = Path(input_path).resolve()
        parameters = dict(nb_man.nb.metadata.get("papermill", {}).get("parameters", {}))
        run_id = uuid.uuid4().hex
        env = batch_environment(notebook, parameters, fresh, max_sleep, lease_wait, run_id)
        kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)
        final = merge_kwargs(
            kwargs,
            timeout=execution_timeout,
            startup_timeout=start_timeout,
            kernel_name=kernel_name,
            log_output=log_output,
            stdout_file=stdout_file,
            stderr_file=stderr_file,
        )
        # Our kernels talk over IPC: no TCP port, no unencrypted-TCP warning (transport.py).
        final.setdefault("kernel_manager_class", AsyncIPCKernelManager)
        with environ(env):
            client = _Client(nb_man, sidecar_of(notebook), run_id, progress, **final)
            # The kernel process's own stdout (what a subprocess prints; the cell keeps a
            # copy) goes to our stderr: stdout is the command's (--json, the sweep's table).
            return client.execute(stdout=KERNEL_STDOUT)
