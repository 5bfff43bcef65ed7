"""Batch runs that resume where the last one failed: what `mn-nb run` calls.

The kernel gets the input notebook's sidecar through its environment, so steps that
already succeeded with the same code and inputs are restored instead of executed.
papermill is imported only when a run starts (its engine lives in papermill_engine.py).
"""

from __future__ import annotations

import contextlib
import os
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import config
from ..errors import InvalidInput, one_line
from ..notebook import read_notebook
from ..render import clip
from ..sidecar import sidecar_of

ENGINE_NAME = "mirrorneuron"
LEASE_HELD = "lease_held"
"""A step's outcome when another process was running it and this run stopped waiting."""
LOAD_EXT = "%load_ext mirrorneuron_nb"
KERNEL_DIED = "the kernel died while it ran (killed by a signal, out of memory, or os._exit)"
USAGE_ERROR = "UsageError: "
STORE_UNAVAILABLE = "store unavailable: "
"""How a store that cannot be reached (database, object storage) starts its message."""


@dataclass(frozen=True)
class CellOutcome:
    """What one step cell did in a batch run, as the sidecar recorded it."""

    step: str
    outcome: str
    """'restored', 'ran', 'failed', 'awaiting_approval', 'rejected', 'sleeping' or
    'lease_held'."""
    seconds: float
    error: str | None = None


ProgressCallback = Callable[[CellOutcome], None]


@contextlib.contextmanager
def environ(values: dict[str, str]) -> Iterator[None]:
    """The kernel inherits the driver's environment: set ours for the run, then restore."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def batch_environment(
    input_path: Path,
    parameters: dict[str, Any],
    fresh: bool,
    max_sleep: float | None = None,
    lease_wait: float | None = None,
    run_id: str | None = None,
) -> dict[str, str]:
    """The environment of a batch run's kernel: the input notebook's sidecar, the run's
    parameters and kind, the longest wait it sleeps through, how long it waits for a step
    another process runs, the id to record its run under (see config.py)."""
    return config.batch_environment(
        input_path, sidecar_of(input_path), parameters, fresh, max_sleep, lease_wait, run_id
    )


def cell_error(cell: Any) -> str | None:
    """Why a cell of an executed notebook failed, in one line: its error output's
    `ename: evalue`, else, for a cell papermill marked as failed, the UsageError IPython
    printed on its stderr (a magic's refusal: an invalid name or option), else None."""
    outputs = cell.get("outputs", [])
    for output in outputs:
        if output.get("output_type") == "error":
            ename, evalue = str(output.get("ename", "Error")), first_line(output.get("evalue"))
            return f"{ename}: {evalue}" if evalue else ename
    if not cell.get("metadata", {}).get("papermill", {}).get("exception"):
        return None
    for output in reversed(outputs):
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            text = output.get("text", "")
            text = "".join(text) if isinstance(text, list) else str(text)
            usage = [line for line in text.splitlines() if line.startswith(USAGE_ERROR)]
            if usage:
                line = usage[-1].strip()
                # The store failed, not the user's input: IPython's label would mislead.
                rest = line[len(USAGE_ERROR) :]
                return rest if rest.startswith(STORE_UNAVAILABLE) else line
    return None


def first_line(text: object) -> str:
    lines = str(text or "").strip().splitlines()
    return lines[0].strip() if lines else ""


def _failed_cell(output: Path) -> tuple[str, str | None]:
    """(a label, the reason) for the cell papermill marked as failed in the output notebook:
    the step's name, else the cell's first line."""
    from .. import notebook as nbfile

    try:
        cells = nbfile.read_notebook(output).get("cells", [])
    except InvalidInput:
        return "a cell", None
    for cell in cells:
        if not isinstance(cell, dict) or not cell.get("metadata", {}).get("papermill", {}).get(
            "exception"
        ):
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        name = nbfile.step_name(source)
        first = next((ln.strip() for ln in source.splitlines() if ln.strip()), "")
        label = f"step {name!r}" if name else f"the cell `{clip(first, 60)}`"
        return label, cell_error(cell)
    return "a cell", None


@dataclass(frozen=True)
class BatchResult:
    ok: bool
    output: Path
    seconds: float
    failed_step: str | None = None
    error: str | None = None
    outcome: str | None = None
    """For a run that did not succeed: the stopping step's outcome."""
    cell: str | None = None
    """For a run that failed at a cell that is not a step: the cell's first line."""


def check_notebook(notebook: Path) -> None:
    """Refuse, with one line, a file papermill could not run as a notebook: not JSON, JSON
    that is not a notebook, or one nbformat cannot read (it raises whatever it meets)."""
    read_notebook(notebook)
    from papermill.iorw import load_notebook_node

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # nbformat's (missing cell ids): the run warns
            node = load_notebook_node(str(notebook))
    except Exception as exc:  # nbformat: KeyError, TypeError, ValidationError...
        raise InvalidInput(
            f"{notebook} is not a notebook papermill can run: {one_line(exc)}"
        ) from None
    kernelspec = node.metadata.get("kernelspec")
    if not (isinstance(kernelspec, dict) and isinstance(kernelspec.get("name"), str)):
        raise InvalidInput(
            f"{notebook} names no kernel (metadata.kernelspec.name): open it in Jupyter, "
            "choose a kernel and save it"
        )


def check_parameters(notebook: Path, names: list[str]) -> None:
    """Refuse parameter names the notebook's cell tagged `parameters` does not define
    (papermill only warns and injects them: a typo runs with the default). A notebook whose
    parameters papermill cannot inspect (no language recorded, a language it cannot parse)
    is not checked."""
    if not names:
        return
    import papermill
    from papermill.iorw import load_notebook_node
    from papermill.utils import find_first_tagged_cell_index

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            node = load_notebook_node(str(notebook))
            known = list(papermill.inspect_notebook(str(notebook)))
    except Exception:  # papermill raises ValueError and its own errors for what it cannot read
        return
    unknown = [n for n in names if n not in known]
    if not unknown:
        return
    what = "parameter" if len(unknown) == 1 else "parameters"
    if find_first_tagged_cell_index(node, "parameters") < 0:
        where = f"{notebook.name} has no cell tagged `parameters`"
    else:
        where = f"the cell tagged `parameters` defines {', '.join(known) or 'nothing'}"
    raise InvalidInput(
        f"unknown {what} {', '.join(unknown)} ({where}); pass --allow-unknown-params to "
        "inject them anyway"
    )


def run_notebook(
    notebook: Path,
    output: Path,
    parameters: dict[str, Any],
    *,
    fresh: bool = False,
    progress: ProgressCallback | None = None,
    kernel_name: str | None = None,
    max_sleep: float | None = None,
    lease_wait: float | None = None,
) -> BatchResult:
    """Execute a notebook with papermill through our engine; never raises for cell errors."""
    import papermill
    from nbclient.exceptions import DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    began = time.perf_counter()
    failed: list[CellOutcome] = []

    def on_cell(outcome: CellOutcome) -> None:
        if outcome.outcome in ("failed", "awaiting_approval", "rejected", "sleeping", LEASE_HELD):
            failed.append(outcome)
        if progress is not None:
            progress(outcome)

    try:
        papermill.execute_notebook(
            str(notebook),
            str(output),
            parameters=parameters,
            engine_name=ENGINE_NAME,
            kernel_name=kernel_name,
            progress_bar=False,
            cwd=str(notebook.parent),
            mn_progress=on_cell,
            mn_fresh=fresh,
            mn_max_sleep=max_sleep,
            mn_lease_wait=lease_wait,
        )
    except PapermillExecutionError as exc:
        # A step's outcome (failed, or stopped at a gate or a long sleep) comes from the
        # sidecar; a reason it lacks, or a cell that is not a step, from the output notebook.
        first = failed[0] if failed else None
        label, reason = (None, None) if first and first.error else _failed_cell(output)
        error = (first.error if first else None) or reason
        if not error:
            error = f"{exc.ename}: {first_line(exc.evalue)}" if exc.evalue else exc.ename
        return BatchResult(
            False,
            output,
            time.perf_counter() - began,
            first.step if first else None,
            error,
            first.outcome if first else "failed",
            None if first else label,
        )
    except DeadKernelError:
        step = failed[0].step if failed else None
        return BatchResult(
            False,
            output,
            time.perf_counter() - began,
            step,
            KERNEL_DIED,
            "failed",
            None if step else "a cell",
        )
    return BatchResult(True, output, time.perf_counter() - began)
