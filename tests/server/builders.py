"""Build notebooks and sidecars the way a kernel would, with the Store API directly."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import nbformat

from mirrorneuron_nb.models import (
    Approval,
    Attempt,
    CallRecord,
    CallStatus,
    NewCheckpoint,
    Run,
    StepStart,
    VarEntry,
)
from mirrorneuron_nb.notebook import code_hash
from mirrorneuron_nb.sidecar import sidecar_of
from mirrorneuron_nb.store import Store


def body(response: Any) -> Any:
    """A server response's JSON body."""
    return json.loads(response.body)


def notebook(path: Path, steps: dict[str, str], extra_cells: int = 0) -> Path:
    """A notebook with one `%%mn_step NAME` cell per item, in order."""
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("%load_ext mirrorneuron_nb"))
    for name, body in steps.items():
        nb.cells.append(nbformat.v4.new_code_cell(f"%%mn_step {name}\n{body}"))
    for i in range(extra_cells):
        nb.cells.append(nbformat.v4.new_code_cell(f"print({i})"))
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


class Kernelish:
    """Writes to a notebook's sidecar what a kernel running its steps would write."""

    def __init__(self, nb_path: Path, pid: int | None = None) -> None:
        self.nb_path = nb_path
        self.store = Store(sidecar_of(nb_path))
        self.run = Run(
            id=uuid.uuid4().hex,
            kind="interactive",
            status="running",
            started_at=time.time(),
            pid=os.getpid() if pid is None else pid,
            host=socket.gethostname(),
            notebook=str(nb_path),
        )
        self.store.start_run(self.run)

    def close(self) -> None:
        self.store.close()

    def start(self, name: str, body: str, position: int | None = None, **options: Any) -> StepStart:
        return StepStart(
            name=name,
            cell_id=f"cell-{name}",
            code=body,
            code_hash=code_hash(body),
            cache_key=f"key-{name}-{code_hash(body)}",
            options=options,
            position=position,
        )

    def begin(self, name: str, body: str, position: int | None = None, **options: Any) -> Attempt:
        return self.store.begin_attempt(self.run.id, self.start(name, body, position, **options))

    def ask(
        self, name: str, body: str, question: str, position: int | None = None, **options: Any
    ) -> Approval:
        """Park the step at its `--approve QUESTION` gate, as the runner does."""
        start = self.start(name, body, position, approve=question, **options)
        return self.store.request_approval(self.run.id, start, question)

    def calls(
        self, attempt: Attempt, succeeded: int = 0, failed: int = 0, unsaved: int = 0
    ) -> None:
        """Durable calls made during `attempt`, recorded the way `mn.durable` records them."""
        outcomes = ["succeeded"] * succeeded + ["failed"] * failed + ["unsaved"] * unsaved
        for i, status in enumerate(outcomes):
            self.store.record_call(
                CallRecord(
                    step=attempt.step,
                    function="summarize",
                    call_key=f"call-{status}-{i}",
                    occurrence=0,
                    status=CallStatus(status),
                    run_id=attempt.run_id,
                    attempt_id=attempt.id,
                    started_at=time.time(),
                    duration=0.01,
                    result=VarEntry(name="summarize", type_name="str", size=5)
                    if status == "succeeded"
                    else None,
                    error=None if status == "succeeded" else f"{status} call",
                ),
            )

    def succeed(
        self,
        name: str,
        body: str,
        variables: dict[str, int] | None = None,
        unsaved: dict[str, str] | None = None,
        position: int | None = None,
        stream_blob: str | None = None,
        attempt: Attempt | None = None,
        **options: Any,
    ) -> int:
        """Commit a checkpoint for `attempt` (a new one unless given)."""
        attempt = attempt or self.begin(name, body, position, **options)
        entries = [
            VarEntry(
                name=var,
                type_name="ndarray",
                fingerprint=f"fp-{var}",
                serializer="pickle",
                size=size,
                header=b"{}",
                stream_blob=stream_blob,
                signature="unsigned",
            )
            for var, size in (variables or {}).items()
        ]
        entries += [
            VarEntry(name=var, type_name="generator", error=reason)
            for var, reason in (unsaved or {}).items()
        ]
        return self.store.commit_checkpoint(
            attempt,
            NewCheckpoint(
                cache_key=attempt.cache_key,
                code_hash=code_hash(body),
                duration=1.5,
                inputs={},
                outputs=[
                    {"output_type": "stream", "name": "stdout", "text": f"{name} done\n"},
                    {
                        "output_type": "display_data",
                        "data": {"text/plain": "<Figure>", "image/png": "AAAA"},
                        "metadata": {},
                    },
                ],
                variables=entries,
                new_blobs=[],
            ),
        )

    def fail(
        self,
        name: str,
        body: str,
        error: str,
        position: int | None = None,
        attempt: Attempt | None = None,
    ) -> None:
        attempt = attempt or self.begin(name, body, position)
        self.store.fail_attempt(
            attempt,
            error,
            f'Traceback (most recent call last):\n  File "<cell>", line 1\n{error}\n',
        )


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid
