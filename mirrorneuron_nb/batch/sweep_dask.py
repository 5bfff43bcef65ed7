"""Sweep combinations on Dask distributed: a LocalCluster of N processes, or a scheduler.

Each combination is one task, `run_combination`, on a worker: a papermill run of the
notebook through our engine (batch/run.py), exactly what `mn-nb run` does. The worker
reports each step as it completes through a distributed Queue, so the driver can show the
combination live. A worker on another machine needs mirrorneuron_nb installed and the
notebook (and its sidecar, or a shared store) at the same path.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..errors import ClusterUnavailable, one_line
from .sweep import Combination, Outcome

# Settings the driver passes to every worker (a remote worker has its own environment).
FORWARDED_PREFIX = "MIRRORNEURON_"
# A run sets the kernel's environment in its process: one run at a time per worker process.
_RUN_LOCK = threading.Lock()

Event = tuple[Any, ...]


def run_combination(
    notebook: str,
    output: str,
    parameters: dict[str, Any],
    settings: dict[str, str],
    queue: str,
    index: int,
) -> dict[str, Any]:
    """The task: one batch run; returns what it did (never raises for a failed step)."""
    from .run import CellOutcome, environ, run_notebook

    report = _reporter(queue)
    report(("start", index))

    def progress(cell: CellOutcome) -> None:
        report(("cell", index, cell.step, cell.outcome, cell.seconds, cell.error))

    with _RUN_LOCK, environ(settings):
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        result = run_notebook(Path(notebook), Path(output), parameters, progress=progress)
    return {
        "ok": result.ok,
        "seconds": result.seconds,
        "failed_step": result.failed_step,
        "error": result.error,
        "outcome": result.outcome,
    }


def _reporter(name: str) -> Callable[[Event], None]:
    """Events to the driver; progress is best effort: a lost event never fails a run."""
    try:
        from distributed import Queue

        queue = Queue(name)
    except Exception:
        return lambda event: None

    def put(event: Event) -> None:
        with contextlib.suppress(Exception):
            queue.put(event)

    return put


@contextlib.contextmanager
def client(address: str | None, workers: int) -> Iterator[Any]:
    """A client of the scheduler at `address`, or of a new LocalCluster of `workers`
    single-threaded processes (stopped on the way out)."""
    from distributed import Client, LocalCluster

    quiet = logging.ERROR
    for name in ("distributed", "tornado", "bokeh"):
        logging.getLogger(name).setLevel(quiet)
    if address is not None:
        try:
            c = Client(address, timeout="10s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise ClusterUnavailable(
                f"cannot reach the Dask scheduler at {address}: {one_line(exc)}"
            ) from None
        try:
            yield c
        finally:
            c.close()
        return
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=quiet,
    )
    try:
        with Client(cluster) as c:
            yield c
    finally:
        cluster.close()


def execute(
    dask: Any,
    notebook: Path,
    combos: list[Combination],
    fixed: dict[str, Any],
    on_change: Callable[[Outcome], None],
) -> list[Outcome]:
    """Submit every combination, follow them to the end; the outcomes in grid order."""
    from distributed import Queue

    name = f"mn-sweep-{uuid.uuid4().hex}"
    events = Queue(name, client=dask)
    settings = {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_PREFIX)}
    outcomes = {c.index: Outcome(c) for c in combos}
    futures = {
        dask.submit(
            run_combination,
            str(notebook),
            str(c.output),
            {**fixed, **c.parameters},
            settings,
            name,
            c.index,
            key=f"{name}-{c.index}",
            pure=False,
        ): c.index
        for c in combos
    }
    pending = dict(futures)
    while pending:
        for event in _drain(events):
            _apply(outcomes, event, on_change)
        for future, index in list(pending.items()):
            if future.done():
                del pending[future]
                for event in _drain(events, wait=0.0):
                    _apply(outcomes, event, on_change)
                _finish(outcomes[index], future)
                on_change(outcomes[index])
    return [outcomes[c.index] for c in combos]


def _drain(events: Any, wait: float = 0.25) -> list[Event]:
    """The events in the queue, after `wait` s if there are none yet. Polls the size:
    a get() that times out is logged as an error by the scheduler."""
    with contextlib.suppress(Exception):
        size = int(events.qsize())
        if not size and wait:
            time.sleep(wait)
            size = int(events.qsize())
        if size:
            return [tuple(e) for e in events.get(batch=size)]
    return []


def _apply(
    outcomes: dict[int, Outcome], event: Event, on_change: Callable[[Outcome], None]
) -> None:
    outcome = outcomes.get(int(event[1])) if len(event) > 1 else None
    if outcome is None or outcome.done:
        return
    if event[0] == "start":
        outcome.state = "running"
    elif event[0] == "cell":
        _, _, step, what, seconds, error = event
        outcome.state = "running"
        outcome.steps[str(step)] = str(what)
        outcome.step = str(step)
        if what == "ran":
            outcome.ran += 1
        elif what == "restored":
            outcome.restored += 1
        elif error:
            outcome.error = str(error)
        outcome.seconds += float(seconds)
    on_change(outcome)


def _finish(outcome: Outcome, future: Any) -> None:
    try:
        result = future.result()
    except Exception as exc:  # the task itself failed: its worker died, papermill crashed
        outcome.state, outcome.error = "error", one_line(exc)
        return
    outcome.seconds = float(result["seconds"])
    if result["ok"]:
        outcome.state, outcome.step, outcome.error = "succeeded", None, None
        return
    outcome.state = "failed"
    outcome.step = result["failed_step"] or outcome.step
    outcome.error = result["error"] or result["outcome"]
