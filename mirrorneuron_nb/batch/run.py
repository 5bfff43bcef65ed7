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
from ..sidecar import sidecar_of

ENGINE_NAME = "mirrorneuron"
LEASE_HELD = "lease_held"
"""A step's outcome when another process was running it and this run stopped waiting."""
LOAD_EXT = "%load_ext mirrorneuron_nb"


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
) -> dict[str, str]:
    """The environment of a batch run's kernel: the input notebook's sidecar, the run's
    parameters and kind, the longest wait it sleeps through, how long it waits for a step
    another process runs (see config.py)."""
    return config.batch_environment(
        input_path, sidecar_of(input_path), parameters, fresh, max_sleep, lease_wait
    )


@dataclass(frozen=True)
class BatchResult:
    ok: bool
    output: Path
    seconds: float
    failed_step: str | None = None
    error: str | None = None
    outcome: str | None = None
    """For a run that did not succeed: the stopping step's outcome."""


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
        step = failed[0].step if failed else None
        error = failed[0].error if failed and failed[0].error else f"{exc.ename}: {exc.evalue}"
        return BatchResult(
            False,
            output,
            time.perf_counter() - began,
            step,
            error,
            failed[0].outcome if failed else "failed",
        )
    return BatchResult(True, output, time.perf_counter() - began)
