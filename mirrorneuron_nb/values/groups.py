"""One pickle for variables that share objects, so what they share comes back shared.

A group's stream is a header (the member names) followed by one pickle per
member, all written by one pickler and read back by one unpickler: the memo spans the
members, so an object that two variables hold (a figure and its axes, a model and the
optimizer holding its parameters, a list and its alias) is stored once and loaded once.
A group of one plain value (builtin containers and atoms only) is one marshal instead
(`dump`); it loads in one call, without yielding to other threads as a pickle does.
Arrays that are views of a member array's memory are saved as views of that memory
(offset, shape, strides), not as copies, so a slice and its base still share memory.

The header is inside the signed stream, and each member's row is signed with its name
(codec.member_label): a row can only bind the value saved under that name.
"""

from __future__ import annotations

import io
import json
import marshal
import sys
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from ..errors import CheckpointUnavailable, one_line
from . import pickler
from .serializers import out_of_band

MAGIC = b"MNG1"
MARSHAL = "marshal"
MARSHAL_VERSION = 4
"""marshal's format is Python's own; every version since 3.4 reads version 4."""


@dataclass
class GroupDump:
    """Serialized members of one group, not yet written anywhere."""

    stream: bytes
    buffers: list[memoryview] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)
    """Each member's own share: its pickle's bytes and the buffers it added."""


def dump(values: dict[str, Any], plain: Collection[str] = ()) -> GroupDump:
    """Pickle `values` as one group (large buffers apart, as serializers.out_of_band
    says). Raises whatever pickling raises (the caller finds which member failed).

    A group of one value its fingerprint found `plain` (canonical.Traits) is saved with
    marshal instead: it keeps what pickle's memo would (an object held twice has more
    than one reference, and marshal refers back to those) without a memo entry for every
    object, which made pickling 300k small dicts ~4x slower than marshal."""
    if len(values) == 1 and next(iter(values)) in plain:
        found = _marshalled(values)
        if found is not None:
            return found
    buffers: list[memoryview] = []
    out = io.BytesIO()
    writer = _GroupPickler(out, out_of_band(buffers), _roots(values.values()))
    sizes: dict[str, int] = {}
    for name, value in values.items():
        start, first = out.tell(), len(buffers)
        writer.dump(value)
        sizes[name] = out.tell() - start + sum(b.nbytes for b in buffers[first:])
    header = json.dumps({"names": list(values)}).encode()
    stream = MAGIC + len(header).to_bytes(4, "big") + header + out.getvalue()
    return GroupDump(stream, buffers, sizes)


def _marshalled(values: dict[str, Any]) -> GroupDump | None:
    """The group of one plain value as marshal saves it; None when marshal refuses it
    (nested too deeply): pickle saves it then."""
    ((name, value),) = values.items()
    try:
        body = marshal.dumps(value, MARSHAL_VERSION)
    except ValueError:
        return None
    header = json.dumps({"names": [name], "form": MARSHAL}).encode()
    stream = MAGIC + len(header).to_bytes(4, "big") + header + body
    return GroupDump(stream, [], {name: len(body)})


def dump_saveable(
    values: dict[str, Any], too_large: Callable[[int], str | None], plain: Collection[str] = ()
) -> tuple[list[GroupDump], dict[str, str]]:
    """The `values` that can be saved, as one group, and why each other one cannot be (it
    does not pickle, or its share is over the size limit). Failures are rare: only then
    is each value pickled alone, to find the culprit; when none fails alone, each is
    saved alone (what they share is then not kept). `plain`: as for dump."""
    left = dict(values)
    failed: dict[str, str] = {}
    while left:
        try:
            dumped = dump(left, plain)
        except Exception:  # which value, and why, is found below
            culprits = _unpicklable(left)
            if not culprits:
                return _alone(left, too_large, failed, plain), failed
        else:
            culprits = {n: why for n in left if (why := too_large(dumped.sizes[n])) is not None}
            if not culprits:
                return [dumped], failed
        failed.update(culprits)
        left = {n: v for n, v in left.items() if n not in culprits}
    return [], failed


def _alone(
    values: dict[str, Any],
    too_large: Callable[[int], str | None],
    failed: dict[str, str],
    plain: Collection[str],
) -> list[GroupDump]:
    dumps: list[GroupDump] = []
    for name, value in values.items():
        dumped = dump({name: value}, plain)
        why = too_large(dumped.sizes[name])
        if why is None:
            dumps.append(dumped)
        else:
            failed[name] = why
    return dumps


def _unpicklable(values: dict[str, Any]) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in values.items():
        try:
            dump({name: value})
        except RecursionError:
            found[name] = "too deeply nested to serialize"
        except Exception as exc:  # the reason is shown to the user
            found[name] = one_line(exc)
    return found


def layout(stream: bytes) -> tuple[list[str], bytes, str | None]:
    """A group stream's member names, what follows them (pickles, or one marshalled
    value) and its form (None: pickles)."""
    header, body = _split(stream)
    names, form = header.get("names"), header.get("form")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise CheckpointUnavailable("group", "group header is malformed")
    if form not in (None, MARSHAL) or (form == MARSHAL and len(names) != 1):
        raise CheckpointUnavailable("group", f"group form {form!r} is unknown")
    return names, body, form


def load(
    stream: bytes, buffers: list[Any], namespace: dict[str, Any], *, yielding: bool = False
) -> dict[str, Any]:
    """Every member of a group, by name (the stream's signature is checked already).

    All or nothing: a member's pickle refers to what earlier members' pickles memoized
    (by position), so no member loads without the ones before it.

    `yielding`: read through Python code, so a background load lets other threads run
    between pickle frames (C unpickling of plain objects never releases the GIL)."""
    names, body, form = layout(stream)
    if form == MARSHAL:
        return {names[0]: marshal.loads(body)}
    source: Any = _Yielding(body) if yielding else io.BytesIO(body)
    reader = pickler.StorageUnpickler(source, buffers, namespace)
    return dict(zip(names, reader.load_all(len(names)), strict=True))


class _Yielding:
    """A bytes reader whose calls are Python frames: the interpreter may switch threads
    at each (the unpickler reads a frame of up to 64 KiB at a time)."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._inner.read(size)

    def readinto(self, buffer: Any) -> int:
        return self._inner.readinto(buffer)

    def readline(self) -> bytes:
        return self._inner.readline()


def _split(stream: bytes) -> tuple[dict[str, Any], bytes]:
    if not stream.startswith(MAGIC) or len(stream) < len(MAGIC) + 4:
        raise CheckpointUnavailable("group", "not a group stream")
    size = int.from_bytes(stream[len(MAGIC) : len(MAGIC) + 4], "big")
    start = len(MAGIC) + 4
    try:
        header = json.loads(stream[start : start + size])
    except ValueError:
        raise CheckpointUnavailable("group", "group header is not JSON") from None
    if not isinstance(header, dict):
        raise CheckpointUnavailable("group", "group header is not an object")
    return header, stream[start + size :]


# -- arrays that share memory -----------------------------------------------------------------


def array_root(a: Any) -> Any:
    """The last array in a view's chain of bases: the one holding (or mapping) the memory."""
    import numpy as np

    root = a
    while isinstance(root.base, np.ndarray):
        root = root.base
    return root


def _roots(values: Any) -> dict[int, Any]:
    """Memory that member arrays span whole, keyed by the id of its root array: views of
    it anywhere in the group are saved as views. (A small slice of a large array nobody
    saves stays a small copy: only memory a member holds whole counts.)"""
    np = sys.modules.get("numpy")
    if np is None:
        return {}
    roots: dict[int, Any] = {}
    for value in values:
        if type(value) is not np.ndarray or value.dtype.hasobject:
            continue
        root = array_root(value)
        flags = root.flags
        if (flags.c_contiguous or flags.f_contiguous) and _spans(value, root):
            roots[id(root)] = root
    return roots


def _spans(a: Any, root: Any) -> bool:
    """`a` covers all of `root`'s memory (it is the root, or a reshape of it)."""
    return bool(
        a.nbytes == root.nbytes
        and a.__array_interface__["data"][0] == root.__array_interface__["data"][0]
    )


def _view(root: Any, shape: tuple[int, ...], dtype: Any, offset: int, strides: Any) -> Any:
    import numpy as np

    return np.ndarray(shape, dtype, buffer=root, offset=offset, strides=strides)


class _GroupPickler(pickler.StoragePickler):
    def __init__(
        self, file: Any, buffer_callback: Callable[[Any], Any], roots: dict[int, Any]
    ) -> None:
        super().__init__(file, buffer_callback)
        self._roots = roots
        numpy = sys.modules.get("numpy")
        self._ndarray = None if numpy is None else numpy.ndarray

    def reducer_override(self, obj: Any) -> Any:
        if self._roots and type(obj) is self._ndarray and obj.base is not None:
            reduced = self._as_view(obj)
            if reduced is not None:
                return reduced
        return super().reducer_override(obj)

    def _as_view(self, a: Any) -> Any:
        from numpy.lib.array_utils import byte_bounds

        if a.dtype.hasobject:
            return None
        root = array_root(a)
        if root is a or id(root) not in self._roots:
            return None
        low, high = byte_bounds(a)
        start, end = byte_bounds(root)
        if low < start or high > end:
            return None
        offset = a.__array_interface__["data"][0] - start
        return _view, (root, a.shape, a.dtype, offset, a.strides)
