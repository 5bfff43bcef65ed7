"""Write snapshots into the blob store as checkpoint variables, and load them back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..config import MAX_VALUE_ENV, max_value_bytes
from ..errors import CheckpointUnavailable, NotCheckpointable, one_line
from ..models import VarEntry
from ..store.blob_backend import Blobs
from ..store.blobs import BlobCheck, BlobStore
from . import groups
from .digest import digest
from .serializers import Snapshot, restore
from .signing import Binding, require_signed, require_stream, stream_hash, value_signature

# Streams up to this size live in the SQLite row; larger ones get a blob file.
INLINE_STREAM_BYTES = 256 * 1024
# A group's stream is repeated in each member's row when inline: only small ones are.
INLINE_GROUP_BYTES = 16 * 1024
# Buffers from this size up are memory-mapped copy-on-write instead of read.
MMAP_MIN_BYTES = 1 << 20
DELETED = "deleted"
GROUP = "group"

Defer = Callable[[str, BlobCheck], None]
"""Takes the hash check of a mapped buffer left for later (kernel/lazy.py runs it): the
buffer's bytes are raw memory handed to the signed stream's own reducer (an array's), never
parsed as pickle opcodes, so they may be used before their hash is checked."""


def save(
    blobs: Blobs, binding: Binding, snap: Snapshot, fingerprint: str
) -> tuple[VarEntry, list[tuple[str, int]]]:
    """Write a snapshot's blobs (fsynced, deduplicated); return its row, signed for
    `binding` (its place: values/signing.py), and the blobs it uses.

    `fingerprint`: the value's content fingerprint (`snap.fingerprint`), which a reading
    step compares, in this kernel or after a restore.

    Raises NotCheckpointable, before writing anything, for a value over the size limit.
    """
    why = too_large(snap.size)
    if why is not None:
        raise NotCheckpointable(why)
    header, stream_blob, used = _write(
        blobs, snap.stream, snap.buffers, snap.buffer_keys, INLINE_STREAM_BYTES
    )
    hashed = stream_hash(snap.stream)
    entry = VarEntry(
        name=binding.name,
        type_name=snap.type_name,
        fingerprint=fingerprint,
        serializer=snap.serializer,
        size=snap.size,
        header=header,
        stream_blob=stream_blob,
        buffers=[(k, b.nbytes) for k, b in zip(snap.buffer_keys, snap.buffers, strict=True)],
        signature=value_signature(binding, snap.serializer, hashed, snap.buffer_keys),
        stream_hash=hashed,
    )
    return entry, used


@dataclass(frozen=True)
class Member:
    """One variable of a group about to be written."""

    name: str
    type_name: str
    fingerprint: str
    cosaved: bool = False
    """Saved because it shares objects with what the step wrote (kernel/sharing.py)."""


def member_label(name: str) -> str:
    """What a group member's signature covers besides the group: its name, so a row
    cannot bind a group's value under another member's name."""
    return f"{GROUP}:{name}"


def too_large(size: int) -> str | None:
    """Why a value of `size` bytes is not saved, or None when it may be."""
    limit = max_value_bytes()
    if limit is not None and size > limit:
        return (
            f"{size} bytes, over the size limit of {limit} bytes: set {MAX_VALUE_ENV} to raise it"
        )
    return None


def save_group(
    blobs: Blobs,
    dumped: groups.GroupDump,
    members: list[Member],
    buffer_keys: list[str],
    place: Binding,
) -> tuple[list[VarEntry], list[tuple[str, int]]]:
    """Write a group's blobs (fsynced, deduplicated); return one row per member, each
    pointing at the whole group and signed for its name at `place` (a sidecar's step),
    and the blobs the group uses."""
    inline = INLINE_STREAM_BYTES if len(members) == 1 else INLINE_GROUP_BYTES
    header, stream_blob, used = _write(blobs, dumped.stream, dumped.buffers, buffer_keys, inline)
    buffers = [(k, b.nbytes) for k, b in zip(buffer_keys, dumped.buffers, strict=True)]
    hashed = stream_hash(dumped.stream)
    rows = [
        VarEntry(
            name=m.name,
            type_name=m.type_name,
            fingerprint=m.fingerprint,
            serializer=GROUP,
            size=dumped.sizes[m.name],
            header=header,
            stream_blob=stream_blob,
            buffers=buffers,
            signature=value_signature(place.at(m.name), member_label(m.name), hashed, buffer_keys),
            stream_hash=hashed,
            stream_size=len(dumped.stream),
            cosaved=m.cosaved,
        )
        for m in members
    ]
    return rows, used


@dataclass
class LoadedGroup:
    """A group loaded once, for whichever of its rows are asked for."""

    stream_hash: str | None
    keys: list[str]
    values: dict[str, Any]

    def member(self, var: VarEntry, binding: Binding) -> Any:
        """The value of row `var`, once its own signature is checked for `binding` and it
        names this very group (its signed stream hash and buffer keys)."""
        require_signed(var, member_label(var.name), binding)
        if var.stream_hash != self.stream_hash or [k for k, _ in var.buffers] != self.keys:
            raise CheckpointUnavailable(var.name, "its group is not the one loaded (row altered?)")
        if var.name not in self.values:
            raise CheckpointUnavailable(var.name, "its group does not hold it (row altered?)")
        return self.values[var.name]


def load_group(
    blobs: Blobs,
    var: VarEntry,
    namespace: dict[str, Any],
    binding: Binding,
    *,
    verify_blobs: bool = True,
    defer: Defer | None = None,
) -> LoadedGroup:
    """Load the group row `var` belongs to: its signature is checked for `binding` before
    any blob is opened, its stream against the signed hash before anything is unpickled.
    A damaged blob fails the whole group (see groups.load)."""
    require_signed(var, member_label(var.name), binding)
    stream, buffers = _read(blobs, var, verify=verify_blobs, defer=defer)
    return _unpickle_group(var, stream, buffers, namespace, yielding=False)


def verified_group_stream(blobs: Blobs, var: VarEntry, binding: Binding) -> bytes:
    """The stream of group row `var`, its signature checked for `binding` and the stream
    against its signed hash: safe to unpickle later with load_verified_group."""
    require_signed(var, member_label(var.name), binding)
    stream = read_stream(blobs, var, verify=True, quarantine=True)
    require_stream(var, stream)
    return stream


def load_verified_group(
    blobs: Blobs, var: VarEntry, stream: bytes, namespace: dict[str, Any]
) -> LoadedGroup:
    """The group of `var` from the stream verified_group_stream returned: its buffers are
    read and hash-checked here, and it unpickles letting other threads run (a background
    load: kernel/loader.py)."""
    try:
        buffers = [_read_buffer(blobs, key, size, True, None) for key, size in var.buffers]
    except CheckpointUnavailable as exc:
        raise CheckpointUnavailable(var.name, exc.reason) from None
    return _unpickle_group(var, stream, buffers, namespace, yielding=True)


def _unpickle_group(
    var: VarEntry, stream: bytes, buffers: list[Any], namespace: dict[str, Any], *, yielding: bool
) -> LoadedGroup:
    try:
        values = groups.load(stream, buffers, namespace, yielding=yielding)
    except CheckpointUnavailable as exc:
        raise CheckpointUnavailable(var.name, exc.reason) from None
    except Exception as exc:
        raise CheckpointUnavailable(var.name, f"could not be loaded: {one_line(exc)}") from None
    return LoadedGroup(var.stream_hash, [k for k, _ in var.buffers], values)


def unsaved(name: str, type_name: str, reason: str) -> VarEntry:
    return VarEntry(name=name, type_name=type_name, error=reason)


def deleted(name: str) -> VarEntry:
    return VarEntry(name=name, type_name="-", serializer=DELETED)


def load(
    blobs: Blobs,
    var: VarEntry,
    namespace: dict[str, Any],
    binding: Binding,
    *,
    verify: bool = True,
    defer: Defer | None = None,
) -> Any:
    """The value of row `var`, which must be signed for `binding` (its place).

    `defer`: buffers large enough to be mapped are not hashed now; their checks go to
    `defer` (the stream is still checked before anything is unpickled)."""
    if var.error is not None or var.serializer is None:
        raise CheckpointUnavailable(var.name, f"was not checkpointed: {var.error}")
    if var.serializer == GROUP:
        group = load_group(blobs, var, namespace, binding, verify_blobs=verify, defer=defer)
        return group.member(var, binding)
    require_signed(var, var.serializer, binding)
    stream, buffers = _read(blobs, var, verify=verify, defer=defer)
    return restore(var.name, var.serializer, stream, buffers, namespace)


def load_order(var: VarEntry) -> tuple[int, str]:
    """Functions and classes load first: other values may refer to them by name."""
    code_like = var.type_name in ("function", "type") or var.type_name.endswith("Meta")
    return (0 if code_like else 1, var.name)


def _write(
    blobs: Blobs, stream: bytes, buffers: list[memoryview], keys: list[str], inline: int
) -> tuple[bytes | None, str | None, list[tuple[str, int]]]:
    """Write the buffers, and the stream when it is over `inline` bytes, as blobs (fsynced,
    deduplicated). Returns the stream to keep in the row (None: it is a blob), the stream's
    blob key (None: it is in the row) and the blobs written or reused."""
    used: list[tuple[str, int]] = []
    for key, buf in zip(keys, buffers, strict=True):
        blobs.put(key, [buf])
        used.append((key, buf.nbytes))
    if len(stream) <= inline:
        return stream, None, used
    stream_blob = digest(stream)
    blobs.put(stream_blob, [stream])
    used.append((stream_blob, len(stream)))
    return None, stream_blob, used


def _read(
    blobs: Blobs, var: VarEntry, *, verify: bool, defer: Defer | None = None
) -> tuple[bytes, list[Any]]:
    """The stream and buffers a verified row points at: the stream checked against its
    signed hash, the buffers against their keys (a blob that does not match is moved
    aside: the row naming it was verified)."""
    stream = read_stream(blobs, var, verify=verify, quarantine=True)
    require_stream(var, stream)
    try:
        buffers = [_read_buffer(blobs, key, size, verify, defer) for key, size in var.buffers]
    except CheckpointUnavailable as exc:
        raise CheckpointUnavailable(var.name, exc.reason) from None
    return stream, buffers


def read_stream(blobs: Blobs, var: VarEntry, *, verify: bool, quarantine: bool = False) -> bytes:
    """The stream a row holds or points at (a blob: hash-checked when `verify`, moved
    aside when it does not match and `quarantine`, for a verified row only)."""
    if var.stream_blob is None:
        return bytes(var.header or b"")
    try:
        return blobs.read(var.stream_blob, var.stream_bytes, verify=verify, quarantine=quarantine)
    except CheckpointUnavailable as exc:
        raise CheckpointUnavailable(var.name, exc.reason) from None


def _read_buffer(blobs: Blobs, key: str, size: int, verify: bool, defer: Defer | None) -> Any:
    if size >= MMAP_MIN_BYTES and verify and defer is not None and isinstance(blobs, BlobStore):
        # Only local files map lazily; a remote blob is read (and checked) whole below.
        mapped, check = blobs.map_unverified(key, size)
        defer(key, check)
        return mapped
    if size >= MMAP_MIN_BYTES:
        return blobs.map(key, size, verify=verify, quarantine=True)
    return bytearray(blobs.read(key, size, verify=verify, quarantine=True))
