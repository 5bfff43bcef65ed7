"""Helpers shared by the store tests (the SQLite ones and the conformance suite on both
backends): a running run, and a step that succeeds with a one-row checkpoint."""

from __future__ import annotations

import os
import socket
import time

from mirrorneuron_nb.models import NewCheckpoint, Run, StepStart, VarEntry
from mirrorneuron_nb.store.interface import StoreAPI


def new_run(
    store: StoreAPI, run_id: str = "run1", pid: int | None = None, host: str | None = None
) -> Run:
    run = Run(
        id=run_id,
        kind="kernel",
        status="running",
        started_at=time.time(),
        pid=os.getpid() if pid is None else pid,
        host=socket.gethostname() if host is None else host,
    )
    store.start_run(run)
    return run


def start(name: str, key: str = "key1", code: str = "x = 1") -> StepStart:
    return StepStart(
        name=name,
        cell_id=f"cell-{name}",
        code=code,
        code_hash=f"h-{code}",
        cache_key=key,
        options={},
    )


def var(name: str, fp: str = "fp") -> VarEntry:
    return VarEntry(
        name=name, type_name="int", fingerprint=fp, serializer="pickle", size=3, header=b"abc"
    )


def ckpt(key: str = "key1", *names: str, inputs: dict[str, str] | None = None) -> NewCheckpoint:
    return NewCheckpoint(
        cache_key=key,
        code_hash="h",
        duration=0.5,
        inputs=inputs or {},
        outputs=[{"output_type": "stream", "name": "stdout", "text": "hi\n"}],
        variables=[var(n) for n in names],
        new_blobs=[],
    )


def succeed(store: StoreAPI, run_id: str, name: str, key: str = "key1", *names: str) -> int:
    attempt = store.begin_attempt(run_id, start(name, key))
    return store.commit_checkpoint(attempt, ckpt(key, *names))
