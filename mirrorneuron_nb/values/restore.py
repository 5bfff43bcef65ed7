"""Bind checkpointed variables into a namespace: a cache hit and `%mn_resume` both do this."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import CheckpointUnavailable, UntrustedCheckpoint
from ..models import VarEntry
from ..store.blob_backend import Blobs
from . import codec
from .signing import Binding

_ABSENT = object()


@dataclass(frozen=True)
class NotLoaded:
    name: str
    reason: str
    error: CheckpointUnavailable | None = None
    """Why loading failed; None when the value was never checkpointed (`reason` says why)."""


@dataclass(frozen=True)
class LoadResult:
    loaded: dict[str, Any] = field(default_factory=dict)
    """Bound names and their values, in the order they were loaded."""
    missing: list[NotLoaded] = field(default_factory=list)
    """Values not bound, in load order: never checkpointed, or failing to load."""
    rolled_back: CheckpointUnavailable | None = None
    """all_or_nothing: the failure that left the namespace as it was (nothing loaded)."""
    groups: list[dict[str, Any]] = field(default_factory=list)
    """The values bound, by the stream they were loaded from: those of one group were
    saved together (and share what they shared); an older value stored alone is its own."""


def load_into(
    namespace: dict[str, Any],
    entries: Iterable[VarEntry],
    blobs: Blobs,
    bind: Callable[[VarEntry], Binding],
    *,
    all_or_nothing: bool,
    defer: codec.Defer | None = None,
) -> LoadResult:
    """Load `entries` (functions and classes first) and bind each value in `namespace`;
    `bind(entry)` is the place its signature must be for (values/signing.py).

    Each value is bound as soon as it loads: an instance may refer to a class restored just
    before. Names the checkpoint records as deleted are removed.

    all_or_nothing: the first value that fails to load undoes every binding made so far and
    stops, so the namespace is exactly as it was (the step then runs on it); deletions wait
    until everything has loaded. Otherwise a failing value is reported in `missing` and
    the others still load.

    `defer`: large mapped buffers are bound before their hash is checked; their checks go
    to `defer` (codec.load). Streams are always checked before unpickling.
    """
    loaded: dict[str, Any] = {}
    missing: list[NotLoaded] = []
    deleted: list[str] = []
    previous: dict[str, Any] = {}
    streams = _Streams(blobs, namespace, bind, defer)
    for var in sorted(entries, key=codec.load_order):
        if var.serializer == codec.DELETED:
            if all_or_nothing:
                deleted.append(var.name)
            else:
                namespace.pop(var.name, None)
            continue
        if var.error is not None:
            missing.append(NotLoaded(var.name, var.error))
            continue
        try:
            value = streams.load(var)
        except CheckpointUnavailable as exc:
            missing.append(NotLoaded(var.name, exc.reason, exc))
            if all_or_nothing:
                _undo(namespace, previous)
                return LoadResult(missing=missing, rolled_back=exc)
            continue
        previous.setdefault(var.name, namespace.get(var.name, _ABSENT))
        namespace[var.name] = loaded[var.name] = value
    for name in deleted:
        namespace.pop(name, None)
    return LoadResult(loaded, missing, groups=streams.bound(loaded))


class _Streams:
    """Loads each group once, whichever of its members are asked for."""

    def __init__(
        self,
        blobs: Blobs,
        namespace: dict[str, Any],
        bind: Callable[[VarEntry], Binding],
        defer: codec.Defer | None,
    ) -> None:
        self.blobs, self.namespace, self.bind, self.defer = blobs, namespace, bind, defer
        self.groups: dict[tuple[Any, ...], codec.LoadedGroup | CheckpointUnavailable] = {}
        self.source: dict[str, tuple[Any, ...]] = {}

    def load(self, var: VarEntry) -> Any:
        binding = self.bind(var)
        if var.serializer != codec.GROUP:
            self.source[var.name] = ("alone", var.name)
            return codec.load(self.blobs, var, self.namespace, binding, defer=self.defer)
        key = (var.stream_blob, var.header if var.stream_blob is None else None)
        found = self.groups.get(key)
        if found is None:
            try:
                found = codec.load_group(self.blobs, var, self.namespace, binding, defer=self.defer)
            except CheckpointUnavailable as exc:
                found = exc
            if not isinstance(found, UntrustedCheckpoint):  # another row may be signed
                self.groups[key] = found
        if isinstance(found, CheckpointUnavailable):
            raise type(found)(var.name, found.reason)
        value = found.member(var, binding)
        self.source[var.name] = key
        return value

    def bound(self, loaded: dict[str, Any]) -> list[dict[str, Any]]:
        by_source: dict[tuple[Any, ...], dict[str, Any]] = {}
        for name, value in loaded.items():
            by_source.setdefault(self.source[name], {})[name] = value
        return list(by_source.values())


def _undo(namespace: dict[str, Any], previous: dict[str, Any]) -> None:
    for name, old in previous.items():
        if old is _ABSENT:
            namespace.pop(name, None)
        else:
            namespace[name] = old
