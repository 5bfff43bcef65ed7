"""Write snapshots into the blob store as checkpoint variables, and load them back."""

from __future__ import annotations

from typing import Any

from ..config import MAX_VALUE_ENV, max_value_bytes
from ..errors import CheckpointUnavailable, NotCheckpointable
from ..models import VarEntry
from ..store.blobs import BlobStore
from .digest import digest
from .serializers import Snapshot, restore
from .signing import signature_of

# Streams up to this size live in the SQLite row; larger ones get a blob file.
INLINE_STREAM_BYTES = 256 * 1024
# Buffers from this size up are memory-mapped copy-on-write instead of read.
MMAP_MIN_BYTES = 1 << 20
DELETED = "deleted"


def save(
    blobs: BlobStore, name: str, snap: Snapshot, fingerprint: str
) -> tuple[VarEntry, list[tuple[str, int]]]:
    """Write a snapshot's blobs (fsynced, deduplicated); return its row and the blobs it uses.

    `fingerprint`: the value's content fingerprint (`snap.fingerprint`), which a reading
    step compares, in this kernel or after a restore.

    Raises NotCheckpointable, before writing anything, for a value over the size limit.
    """
    limit = max_value_bytes()
    if limit is not None and snap.size > limit:
        raise NotCheckpointable(
            f"{snap.size} bytes, over the size limit of {limit} bytes: "
            f"set {MAX_VALUE_ENV} to raise it"
        )
    used: list[tuple[str, int]] = []
    for key, buf in zip(snap.buffer_keys, snap.buffers, strict=True):
        blobs.put(key, [buf])
        used.append((key, buf.nbytes))
    header: bytes | None = snap.stream
    stream_blob = None
    if len(snap.stream) > INLINE_STREAM_BYTES:
        stream_blob = digest(snap.stream)
        blobs.put(stream_blob, [snap.stream])
        used.append((stream_blob, len(snap.stream)))
        header = None
    entry = VarEntry(
        name=name,
        type_name=snap.type_name,
        fingerprint=fingerprint,
        serializer=snap.serializer,
        size=snap.size,
        header=header,
        stream_blob=stream_blob,
        buffers=[(k, b.nbytes) for k, b in zip(snap.buffer_keys, snap.buffers, strict=True)],
        signature=signature_of(snap.serializer, snap.stream, snap.buffer_keys),
    )
    return entry, used


def unsaved(name: str, type_name: str, reason: str) -> VarEntry:
    return VarEntry(name=name, type_name=type_name, error=reason)


def deleted(name: str) -> VarEntry:
    return VarEntry(name=name, type_name="-", serializer=DELETED)


def load(blobs: BlobStore, var: VarEntry, namespace: dict[str, Any], *, verify: bool = True) -> Any:
    if var.error is not None or var.serializer is None:
        raise CheckpointUnavailable(var.name, f"was not checkpointed: {var.error}")
    try:
        if var.stream_blob is None:
            stream = var.header or b""
        else:
            stream_size = var.size - sum(n for _, n in var.buffers)
            stream = blobs.read(var.stream_blob, stream_size, verify=verify)
        buffers: list[Any] = []
        for key, size in var.buffers:
            if size >= MMAP_MIN_BYTES:
                buffers.append(blobs.map(key, size, verify=verify))
            else:
                buffers.append(bytearray(blobs.read(key, size, verify=verify)))
    except CheckpointUnavailable as exc:
        raise CheckpointUnavailable(var.name, exc.reason) from None
    return restore(
        var.name,
        var.serializer,
        stream,
        buffers,
        var.signature,
        [k for k, _ in var.buffers],
        namespace,
    )


def load_order(var: VarEntry) -> tuple[int, str]:
    """Functions and classes load first: other values may refer to them by name."""
    code_like = var.type_name in ("function", "type") or var.type_name.endswith("Meta")
    return (0 if code_like else 1, var.name)
