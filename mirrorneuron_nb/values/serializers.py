"""Serialize and restore values (fingerprints: fingerprint.py; the pickler: pickler.py).

A value becomes a small *stream* (pickle protocol 5, or a JSON header for raw arrays)
plus zero-copy *buffers* (array memory). Buffers are stored as content-addressed blobs
and come back as copy-on-write memory maps, so large arrays are neither copied on save
nor read eagerly on restore. Serializers are looked up by type in a registry.
"""

from __future__ import annotations

import importlib
import json
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from ..errors import CheckpointUnavailable, NotCheckpointable, one_line
from . import pickler
from .canonical import BufferDigests
from .digest import digest

# Buffers smaller than this stay inside the stream: one blob file each would cost more.
INLINE_BUFFER_BYTES = 64 * 1024


@dataclass
class Snapshot:
    """A serialized value, not yet written anywhere."""

    serializer: str
    type_name: str
    stream: bytes
    buffers: list[memoryview] = field(default_factory=list)
    buffer_keys: list[str] = field(default_factory=list)
    fingerprint: str = ""
    """The value's content fingerprint (fingerprint.py), never a digest of these bytes."""

    @property
    def size(self) -> int:
        return len(self.stream) + sum(b.nbytes for b in self.buffers)


class Serializer(Protocol):
    name: str

    def dump(self, value: Any) -> tuple[bytes, list[memoryview]]: ...

    def load(self, stream: bytes, buffers: list[Any], namespace: dict[str, Any]) -> Any: ...


# -- the registry ---------------------------------------------------------------------------

_BY_TYPE: dict[str, Serializer] = {}
_BY_NAME: dict[str, Serializer] = {}


def register(type_path: str, serializer: Serializer) -> None:
    """Use `serializer` for values whose type (or a base) is `module.QualName`.

    Keys are strings so registering numpy or pandas never imports them.
    """
    _BY_TYPE[type_path] = serializer
    _BY_NAME[serializer.name] = serializer


def serializer_for(value: Any) -> Serializer:
    for klass in type(value).__mro__:
        found = _BY_TYPE.get(f"{klass.__module__}.{klass.__qualname__}")
        if found is not None:
            return found
    return PICKLE


def type_name(value: Any) -> str:
    klass = type(value)
    module = klass.__module__
    return (
        klass.__qualname__
        if module in ("builtins", "__main__")
        else f"{module}.{klass.__qualname__}"
    )


# -- pickle: notebook-defined functions and classes by value (pickler.py) --------------------


def out_of_band(buffers: list[memoryview]) -> Callable[[pickle.PickleBuffer], bool]:
    """A pickler's buffer_callback: large buffers go to `buffers` (stored apart, as blobs),
    small ones stay in the stream."""

    def keep(buf: pickle.PickleBuffer) -> bool:
        raw = buf.raw()
        if raw.nbytes < INLINE_BUFFER_BYTES:
            return True  # true means: serialize this one in-band
        buffers.append(raw)
        return False

    return keep


class PickleSerializer:
    name = "pickle"

    def dump(self, value: Any) -> tuple[bytes, list[memoryview]]:
        buffers: list[memoryview] = []
        return pickler.dumps(value, out_of_band(buffers)), buffers

    def load(self, stream: bytes, buffers: list[Any], namespace: dict[str, Any]) -> Any:
        return pickler.loads(stream, buffers, namespace)


class ModuleSerializer:
    """Modules are restored by importing them again."""

    name = "module"

    def dump(self, value: Any) -> tuple[bytes, list[memoryview]]:
        return value.__name__.encode(), []

    def load(self, stream: bytes, buffers: list[Any], namespace: dict[str, Any]) -> Any:
        return importlib.import_module(stream.decode())


class NumpySerializer:
    """Plain ndarrays: a JSON header and the raw memory, with no pickle involved."""

    name = "numpy"

    def dump(self, value: Any) -> tuple[bytes, list[memoryview]]:
        import numpy as np

        if value.dtype.hasobject or type(value) is not np.ndarray:
            return PICKLE.dump(value)
        if value.nbytes < INLINE_BUFFER_BYTES:
            return PICKLE.dump(value)  # small: in-band, not one blob file per array
        order = "F" if value.flags.f_contiguous and not value.flags.c_contiguous else "C"
        data = value if value.flags.c_contiguous or order == "F" else np.ascontiguousarray(value)
        header = json.dumps(
            {
                "descr": np.lib.format.dtype_to_descr(value.dtype),
                "shape": list(value.shape),
                "order": order,
            }
        ).encode()
        # Raw bytes: memoryview cannot describe every dtype (datetime64, timedelta64).
        return b"NPY" + header, [memoryview(cast(Any, data.reshape(-1, order="A").view(np.uint8)))]

    def load(self, stream: bytes, buffers: list[Any], namespace: dict[str, Any]) -> Any:
        import numpy as np

        if not stream.startswith(b"NPY"):
            return PICKLE.load(stream, buffers, namespace)
        header = json.loads(stream[3:])
        dtype = np.lib.format.descr_to_dtype(header["descr"])
        flat = np.frombuffer(buffers[0], dtype=dtype) if buffers else np.empty(0, dtype)
        return flat.reshape(header["shape"], order=header["order"])


PICKLE = PickleSerializer()
_BY_NAME[PICKLE.name] = PICKLE
register("builtins.module", ModuleSerializer())
register("numpy.ndarray", NumpySerializer())
# pandas objects pickle their blocks as out-of-band protocol-5 buffers: zero-copy already.
for _path in ("pandas.core.frame.DataFrame", "pandas.core.series.Series"):
    register(_path, PICKLE)


# -- public operations ----------------------------------------------------------------------


def snapshot(
    value: Any, fingerprint: str | None = None, array_digests: BufferDigests | None = None
) -> Snapshot:
    """Serialize a value; raises NotCheckpointable with the reason when it cannot be.

    `fingerprint`: the value's content fingerprint when the caller has it already (with
    the `array_digests` it took); else it is computed here, after the value proved
    serializable. Memory the fingerprint hashed whole is not hashed again for blob keys.
    """
    serializer = serializer_for(value)
    try:
        stream, buffers = serializer.dump(value)
    except RecursionError:
        raise NotCheckpointable("too deeply nested to serialize") from None
    except Exception as exc:
        raise NotCheckpointable(one_line(exc)) from None
    known: BufferDigests = {} if array_digests is None else array_digests
    if fingerprint is None:
        from .fingerprint import fingerprint as content_fingerprint  # it imports this module

        fingerprint = content_fingerprint(value, known)
    return Snapshot(
        serializer.name, type_name(value), stream, buffers, buffer_keys(buffers, known), fingerprint
    )


def buffer_keys(buffers: list[memoryview], known: BufferDigests) -> list[str]:
    """Content keys of the buffers a value is stored as; memory a fingerprint hashed
    whole (`known`) is not hashed again."""
    return [_known_key(b, known) or digest(b) for b in buffers]


def _known_key(buf: memoryview, known: BufferDigests) -> str | None:
    """The digest the fingerprint already took of this memory (an array's, whole)."""
    if not known:
        return None
    import numpy as np

    address = np.frombuffer(buf, dtype=np.uint8).__array_interface__["data"][0]
    found = known.get((address, buf.nbytes))
    return None if found is None else found[0]


def restore(
    name: str, serializer: str, stream: bytes, buffers: list[Any], namespace: dict[str, Any]
) -> Any:
    """Load one value. Only for a stream whose row and bytes were verified first
    (codec.load: signing.require_signed, then require_stream)."""
    found = _BY_NAME.get(serializer)
    if found is None:
        raise CheckpointUnavailable(name, f"no serializer named {serializer!r} is registered")
    try:
        return found.load(stream, buffers, namespace)
    except Exception as exc:
        raise CheckpointUnavailable(name, f"could not be loaded: {one_line(exc)}") from None
