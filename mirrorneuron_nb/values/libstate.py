"""Process-wide library state that steps set and notebooks rely on, captured and re-applied.

A setup step `plt.rc('font', size=20); np.random.seed(42)` changes no variable, yet every
later cell depends on it. Each provider reads one kind of such state; the runner takes a
reading before a step's body and after it, and the checkpoint keeps what changed. A cache
hit and `%mn_resume` re-apply those changes in notebook order, so the next step that runs
sees the same fonts, the same random numbers, the same options as in a plain run.

Providers never import a library: a library that is not imported has no state to keep.
The ones we ship are in providers.py; more plug in with `register(provider)` (a seaborn
theme needs none of its own: it lives in matplotlib's rcParams).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import CheckpointUnavailable
from ..models import VarEntry
from ..store.blob_backend import Blobs
from .providers import DEFAULT_PROVIDERS
from .signing import Binding


class Provider(Protocol):
    name: str

    def read(self) -> Any:
        """The current state, or None when the library is not in use (not imported)."""

    def changes(self, before: Any, after: Any) -> Any:
        """What a step changed (None: nothing); it is checkpointed like a value."""

    def apply(self, change: Any) -> None:
        """Make the process state include `change`."""


_PROVIDERS: list[Provider] = []


def register(provider: Provider) -> None:
    """Add a provider (a later one with the same name replaces the earlier)."""
    _PROVIDERS[:] = [p for p in _PROVIDERS if p.name != provider.name]
    _PROVIDERS.append(provider)


def providers() -> list[Provider]:
    return list(_PROVIDERS)


Reading = dict[str, Any]


def read_all() -> Reading:
    """One reading of every provider (taken before a step's body)."""
    out: Reading = {}
    for provider in _PROVIDERS:
        try:
            out[provider.name] = provider.read()
        except Exception:  # a broken library must not break the step
            out[provider.name] = None
    return out


def changes_since(before: Reading) -> dict[str, Any]:
    """What the step changed since `before`, by provider name (empty: nothing)."""
    after = read_all()
    out: dict[str, Any] = {}
    for provider in _PROVIDERS:
        if after.get(provider.name) is None:
            continue
        try:
            change = provider.changes(before.get(provider.name), after[provider.name])
        except Exception:
            continue
        if change is not None:
            out[provider.name] = change
    return out


@dataclass(frozen=True)
class Failure:
    provider: str
    reason: str


def apply_all(changes: dict[str, Any]) -> list[Failure]:
    """Re-apply a step's changes; what could not be applied is returned, not raised."""
    failures: list[Failure] = []
    by_name = {p.name: p for p in _PROVIDERS}
    for name, change in changes.items():
        provider = by_name.get(name)
        if provider is None:
            failures.append(Failure(name, "no provider of that name in this kernel"))
            continue
        try:
            provider.apply(change)
        except Exception as exc:
            failures.append(Failure(name, f"{type(exc).__name__}: {exc}"))
    return failures


def describe(changes: dict[str, Any]) -> str:
    """E.g. "matplotlib rcParams (2), numpy random": for reports."""
    parts = []
    for name, change in changes.items():
        size = len(change) if isinstance(change, dict) else 0
        parts.append(f"{name} ({size})" if size else name)
    return ", ".join(parts)


# -- in checkpoints ---------------------------------------------------------------------------


def reapply(
    blobs: Blobs, entry: VarEntry, namespace: dict[str, Any], binding: Binding
) -> tuple[str, list[str]]:
    """Load a step's library-state changes (signed, like every value) and apply them.
    Returns what was applied (`describe`) and what could not be, one line each."""
    from . import codec  # codec imports the serializers: only when a state is loaded

    try:
        changes = codec.load(blobs, entry, namespace, binding)
    except CheckpointUnavailable as exc:
        return "", [exc.reason]
    if not isinstance(changes, dict):
        return "", ["the recorded library state is not a mapping"]
    failures = apply_all(changes)
    return describe(changes), [f"{f.provider} ({f.reason})" for f in failures]


for _provider in DEFAULT_PROVIDERS:
    register(_provider)
