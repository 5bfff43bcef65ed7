"""Big pickles `%mn_resume` unpickles in a background thread.

A group whose stream is large (many small objects: unpickling costs seconds, mapping
cannot help) is verified in the resume itself (signature, then the stream against its
signed hash: nothing unverified is ever unpickled) and unpickled by a thread. Its names
are bound by the main thread only, between cells (the read barrier, kernel/barrier.py): a cell that
reads or writes one waits for it first, so no cell sees a half-restored namespace.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import CheckpointUnavailable
from ..models import VarEntry
from ..store.blob_backend import Blobs
from ..values import codec
from ..values.signing import Binding

# Group streams from this size up are unpickled in the background.
BACKGROUND_STREAM_BYTES = 1 << 20


def in_background(rows: Iterable[VarEntry]) -> set[str]:
    """Names of the rows a resume unpickles in the background: those of big group streams
    holding no code (functions and classes bind first: other values refer to them by
    name; and a group is loaded once, by one side, or its members would stop sharing)."""
    big = [
        v
        for v in rows
        if v.serializer == codec.GROUP
        and v.error is None
        and v.stream_bytes >= BACKGROUND_STREAM_BYTES
    ]
    with_code = {_key(v) for v in big if codec.load_order(v)[0] == 0}
    return {v.name for v in big if _key(v) not in with_code}


def _key(var: VarEntry) -> tuple[Any, ...]:
    """Which group stream a row points at."""
    return (var.stream_blob, var.header if var.stream_blob is None else None)


@dataclass
class _Job:
    first: VarEntry
    stream: bytes
    members: list[tuple[VarEntry, Binding, str]] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class Failed:
    name: str
    step: str
    reason: str

    def message(self) -> str:
        return (
            f"mn_resume: {self.name!r} (step {self.step!r}) not restored: {self.reason} "
            f"-> re-run step {self.step!r}"
        )


class BackgroundLoad:
    def __init__(self, blobs: Blobs, namespace: dict[str, Any]) -> None:
        self._blobs, self._namespace = blobs, namespace
        self._jobs: dict[tuple[Any, ...], _Job] = {}
        self._by_name: dict[str, _Job] = {}
        self._lock = threading.Lock()
        self._loaded: list[dict[str, Any]] = []  # per group, not yet bound
        self._failed: list[Failed] = []
        self.cancelled = False
        self._thread = threading.Thread(target=self._run, name="mn-unpickle", daemon=True)

    def add(self, var: VarEntry, binding: Binding, step: str) -> None:
        """Before start(). Verifies the group's stream now (the first row of a group):
        CheckpointUnavailable says why it will not load."""
        key = _key(var)
        job = self._jobs.get(key)
        if job is None:
            stream = codec.verified_group_stream(self._blobs, var, binding)
            job = self._jobs[key] = _Job(var, stream)
        job.members.append((var, binding, step))
        self._by_name[var.name] = job

    def start(self) -> None:
        if self._jobs and self._thread.ident is None:
            self._thread.start()

    def pending(self) -> frozenset[str]:
        return frozenset(n for n, job in self._by_name.items() if not job.done.is_set())

    def wait_for(self, names: Iterable[str]) -> None:
        for name in names:
            job = self._by_name.get(name)
            if job is not None:
                job.done.wait()

    def finished(self) -> bool:
        return all(job.done.is_set() for job in self._jobs.values())

    def take(self) -> tuple[list[dict[str, Any]], list[Failed]]:
        """The groups loaded and the names that failed since the last call."""
        with self._lock:
            loaded, failed = self._loaded, self._failed
            self._loaded, self._failed = [], []
        return loaded, failed

    def _run(self) -> None:
        for job in self._jobs.values():
            if self.cancelled:
                job.done.set()
                continue
            loaded, failed = self._load(job)
            with self._lock:
                if loaded:
                    self._loaded.append(loaded)
                self._failed.extend(failed)
            job.done.set()

    def _load(self, job: _Job) -> tuple[dict[str, Any], list[Failed]]:
        try:
            group = codec.load_verified_group(self._blobs, job.first, job.stream, self._namespace)
        except CheckpointUnavailable as exc:
            return {}, [Failed(v.name, step, exc.reason) for v, _, step in job.members]
        except BaseException as exc:  # never kill the thread silently: say what failed
            reason = f"could not be loaded: {exc!r}"
            return {}, [Failed(v.name, step, reason) for v, _, step in job.members]
        loaded: dict[str, Any] = {}
        failed: list[Failed] = []
        for var, binding, step in job.members:
            try:
                loaded[var.name] = group.member(var, binding)
            except CheckpointUnavailable as exc:
                failed.append(Failed(var.name, step, exc.reason))
        return loaded, failed
