"""Serialize and restore values (fingerprints: fingerprint.py).

A value becomes a small *stream* (pickle protocol 5, or a JSON header for raw arrays)
plus zero-copy *buffers* (array memory). Buffers are stored as content-addressed blobs
and come back as copy-on-write memory maps, so large arrays are neither copied on save
nor read eagerly on restore. Serializers are looked up by type in a registry.
"""

from __future__ import annotations

import importlib
import io
import json
import marshal
import pickle
import sys
import types
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from ..errors import CheckpointUnavailable, NotCheckpointable, UntrustedCheckpoint, one_line
from .digest import digest, digest_parts
from .signing import TRUST_HINT, verify

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


# -- pickle with notebook-defined functions and classes by value ------------------------------

_class_ids: weakref.WeakKeyDictionary[type, str] = weakref.WeakKeyDictionary()
_load_namespace: dict[str, Any] = {}
_loaded_classes: dict[str, type] = {}


def _main_module() -> Any:
    return sys.modules.get("__main__")


def _reachable(obj: Any) -> bool:
    """True if `obj` is a top-level name of `__main__`, so pickling it by reference works.

    Methods and nested classes (dotted qualnames) always go by value: a class restored by
    value in a new kernel must bring its methods, not name `__main__.Cls.method`, which
    does not exist there while the class itself is being rebuilt.
    """
    if "." in obj.__qualname__:
        return False
    return getattr(_main_module(), obj.__qualname__, None) is obj


def _rebuild_function(
    code: bytes,
    name: str,
    qualname: str,
    defaults: Any,
    kwdefaults: Any,
    closure: tuple[Any, ...] | None,
    attrs: dict[str, Any],
) -> types.FunctionType:
    cells = None if closure is None else tuple(types.CellType(v) for v in closure)
    fn = types.FunctionType(marshal.loads(code), _load_namespace, name, defaults, cells)
    fn.__qualname__ = qualname
    fn.__kwdefaults__ = kwdefaults
    fn.__dict__.update(attrs)
    return fn


def _new_class(
    metaclass: type, name: str, qualname: str, bases: tuple[type, ...], class_id: str
) -> type:
    # One class object per definition across every value restored in this process,
    # so instances restored from different variables still pass isinstance().
    known = _loaded_classes.get(class_id)
    if known is not None:
        return known
    cls: type = metaclass(name, bases, {"__module__": "__main__", "__qualname__": qualname})
    _loaded_classes[class_id] = cls
    _class_ids[cls] = class_id
    return cls


def _set_class_state(cls: type, attrs: dict[str, Any]) -> type:
    for key, value in attrs.items():
        if key not in ("__module__", "__qualname__"):
            setattr(cls, key, value)
    return cls


_SKIPPED_CLASS_ATTRS = frozenset({"__dict__", "__weakref__"})
_ATOMS = frozenset({str, bytes, int, float, bool, type(None)})


def _plain(x: Any) -> bool:
    kind = type(x)
    return kind in _ATOMS or (kind is tuple and all(type(i) in _ATOMS for i in x))


class _Pickler(pickle.Pickler):
    """Protocol-5 pickler that saves notebook-defined functions and classes by value."""

    def __init__(self, file: Any, root: Any, buffer_callback: Callable[[Any], Any]) -> None:
        super().__init__(file, protocol=5, buffer_callback=buffer_callback)
        self._root = root
        self._sets: dict[int, int] = {}
        self._kept: list[Any] = []  # keeps the ids in _sets valid during the dump

    def persistent_id(self, obj: Any) -> Any:
        """Sets go in sorted order: their iteration order follows str hashes, which differ
        between processes, and a fingerprint must survive a kernel restart."""
        kind = type(obj)
        if kind is not set and kind is not frozenset:
            return None
        index = self._sets.get(id(obj))
        if index is not None:
            return ("ref", index)  # the same set again: keep it one object
        if not all(_plain(x) for x in obj):
            return None  # arbitrary objects: plain pickling, no user __lt__ calls
        try:
            items = sorted(obj)
        except TypeError:
            return None  # mixed types: plain pickling
        index = self._sets[id(obj)] = len(self._sets)
        self._kept.append(obj)
        return (kind.__name__, index, items)

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, types.FunctionType) and obj.__module__ == "__main__":
            if obj is not self._root and _reachable(obj):
                return NotImplemented
            closure = (
                None if obj.__closure__ is None else tuple(c.cell_contents for c in obj.__closure__)
            )
            return _rebuild_function, (
                marshal.dumps(obj.__code__),
                obj.__name__,
                obj.__qualname__,
                obj.__defaults__,
                obj.__kwdefaults__,
                closure,
                dict(obj.__dict__),
            )
        if isinstance(obj, type) and obj.__module__ == "__main__":
            if obj is not self._root and _reachable(obj):
                return NotImplemented
            class_id = _class_ids.setdefault(obj, uuid.uuid4().hex)
            slots = set(getattr(obj, "__slots__", ()) or ())
            attrs = {
                k: v
                for k, v in obj.__dict__.items()
                if k not in _SKIPPED_CLASS_ATTRS and k not in slots
            }
            return (
                _new_class,
                (type(obj), obj.__name__, obj.__qualname__, obj.__bases__, class_id),
                attrs,
                None,
                None,
                _set_class_state,
            )
        return NotImplemented


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: Any, buffers: list[Any]) -> None:
        super().__init__(file, buffers=buffers)
        self._sets: dict[int, Any] = {}

    def persistent_load(self, pid: Any) -> Any:
        if pid[0] == "ref":
            return self._sets[pid[1]]
        kind, index, items = pid
        value = {"set": set, "frozenset": frozenset}[kind](items)
        self._sets[index] = value
        return value


class PickleSerializer:
    name = "pickle"

    def dump(self, value: Any) -> tuple[bytes, list[memoryview]]:
        buffers: list[memoryview] = []

        def keep(buf: pickle.PickleBuffer) -> bool:
            raw = buf.raw()
            if raw.nbytes < INLINE_BUFFER_BYTES:
                return True  # true means: serialize this one in-band
            buffers.append(raw)
            return False

        out = io.BytesIO()
        _Pickler(out, value, keep).dump(value)
        return out.getvalue(), buffers

    def load(self, stream: bytes, buffers: list[Any], namespace: dict[str, Any]) -> Any:
        global _load_namespace
        previous, _load_namespace = _load_namespace, namespace
        try:
            return _Unpickler(io.BytesIO(stream), buffers).load()
        finally:
            _load_namespace = previous


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


def snapshot(value: Any) -> Snapshot:
    """Serialize a value; raises NotCheckpointable with the reason when it cannot be."""
    serializer = serializer_for(value)
    try:
        stream, buffers = serializer.dump(value)
    except RecursionError:
        raise NotCheckpointable("too deeply nested to serialize") from None
    except Exception as exc:
        raise NotCheckpointable(one_line(exc)) from None
    keys = [digest(b) for b in buffers]
    fingerprint = digest_parts([serializer.name.encode(), stream, *(k.encode() for k in keys)])
    return Snapshot(serializer.name, type_name(value), stream, buffers, keys, fingerprint)


def restore(
    name: str,
    serializer: str,
    stream: bytes,
    buffers: list[Any],
    signature: str | None,
    buffer_keys: list[str],
    namespace: dict[str, Any],
) -> Any:
    """Load one value. The signature is checked before any byte is unpickled."""
    if not verify(signature, serializer, stream, *buffer_keys):
        raise UntrustedCheckpoint(
            name,
            "checkpoint was not signed with this user's key (copied from another user "
            "or machine, or altered since?); it is not loaded because unpickling can run "
            f"code: {TRUST_HINT}",
        )
    found = _BY_NAME.get(serializer)
    if found is None:
        raise CheckpointUnavailable(name, f"no serializer named {serializer!r} is registered")
    try:
        return found.load(stream, buffers, namespace)
    except Exception as exc:
        raise CheckpointUnavailable(name, f"could not be loaded: {one_line(exc)}") from None
