"""Trust a sidecar written by another user or machine: `mn-nb trust NOTEBOOK`.

Checkpointed values are only unpickled when their HMAC was made with this user's key
(signing.py). A sidecar copied from someone else is signed with their key, so nothing in
it loads. Trusting it re-signs every checkpoint variable and every recorded durable-call
result with this user's key, in one write transaction. The signature covers the
serializer, the stream bytes and the buffer keys; buffer keys are the hashes of the buffer
blobs, so every blob a value uses is checked against its hash first: a value with a
missing or corrupted blob is not signed, and is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import CheckpointUnavailable
from ..models import STATE_VARIABLE, StoredValue, VarEntry
from ..store import BlobStore, Store
from .codec import DELETED, GROUP, member_label, read_stream
from .signing import signature_of, verify


@dataclass
class TrustReport:
    signed: int = 0
    """Values now signed with this user's key that were not before."""
    already: int = 0
    """Values that were signed with this user's key already."""
    damaged: list[tuple[str, str]] = field(default_factory=list)
    """(which value, why): not signed because a blob is missing or corrupted."""


def trust_sidecar(store: Store) -> TrustReport:
    """Re-sign every stored value of the sidecar with this user's key (one transaction)."""
    report = TrustReport()
    checked: dict[str, str | None] = {}  # blob key -> why it is unusable (None: verified)

    def signature_for(value: StoredValue) -> str | None:
        entry = value.entry
        try:
            stream, keys = _verified_parts(store.blobs, entry, checked)
        except CheckpointUnavailable as exc:
            report.damaged.append((value.label, exc.reason))
            return None
        if entry.serializer is None:  # the store lists only serialized values
            return None
        # The library state a step set is signed like a value but is no variable: it is
        # re-signed without being counted among the values the report names.
        counted = entry.name != STATE_VARIABLE
        label = member_label(entry.name) if entry.serializer == GROUP else entry.serializer
        if verify(entry.signature, label, stream, *keys):
            report.already += counted
            return None
        report.signed += counted
        return signature_of(label, stream, keys)

    def detail() -> dict[str, Any]:
        return {
            "signed": report.signed,
            "already": report.already,
            "damaged": [label for label, _ in report.damaged],
        }

    store.resign_values(DELETED, signature_for, detail)
    return report


def _verified_parts(
    blobs: BlobStore, entry: VarEntry, checked: dict[str, str | None]
) -> tuple[bytes, list[str]]:
    """The stream bytes and buffer keys a signature covers, after checking every blob (a
    group member loads with its whole group: every blob of the group)."""
    stream = read_stream(blobs, entry, verify=True)
    for key, size in entry.buffers:
        _check_blob(blobs, key, size, checked)
    return stream, [k for k, _ in entry.buffers]


def _check_blob(blobs: BlobStore, key: str, size: int, checked: dict[str, str | None]) -> None:
    """Hash-check a buffer blob once per run (many values may share it)."""
    if key not in checked:
        try:
            mapped: Any = blobs.map(key, size, verify=True)
        except CheckpointUnavailable as exc:
            checked[key] = exc.reason
        else:
            checked[key] = None
            if hasattr(mapped, "close"):
                mapped.close()
    reason = checked[key]
    if reason is not None:
        raise CheckpointUnavailable(key, reason)
