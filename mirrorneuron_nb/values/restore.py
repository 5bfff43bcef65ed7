"""Bind checkpointed variables into a namespace: a cache hit and `%mn_resume` both do this."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import CheckpointUnavailable
from ..models import VarEntry
from ..store.blobs import BlobStore
from . import codec

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


def load_into(
    namespace: dict[str, Any],
    entries: Iterable[VarEntry],
    blobs: BlobStore,
    *,
    all_or_nothing: bool,
) -> LoadResult:
    """Load `entries` (functions and classes first) and bind each value in `namespace`.

    Each value is bound as soon as it loads: an instance may refer to a class restored just
    before. Names the checkpoint records as deleted are removed.

    all_or_nothing: the first value that fails to load undoes every binding made so far and
    stops, so the namespace is exactly as it was (the step then runs on it); deletions wait
    until everything has loaded. Otherwise a failing value is reported in `missing` and
    the others still load.
    """
    loaded: dict[str, Any] = {}
    missing: list[NotLoaded] = []
    deleted: list[str] = []
    previous: dict[str, Any] = {}
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
            value = codec.load(blobs, var, namespace)
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
    return LoadResult(loaded, missing)


def _undo(namespace: dict[str, Any], previous: dict[str, Any]) -> None:
    for name, old in previous.items():
        if old is _ABSENT:
            namespace.pop(name, None)
        else:
            namespace[name] = old
