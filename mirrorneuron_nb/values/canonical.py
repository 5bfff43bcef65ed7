"""Content digests of values: a pickle pass whose output is hashed, never stored.

A fingerprint must be the same in the kernel that made a value and in a new kernel that
restored it from a checkpoint, so it is defined on content, never on storage bytes:

- arrays by dtype, shape and the digest of their C-order bytes, whatever their layout
  (a view, Fortran order, a memmap, a restored copy), hashed in place or in chunks;
- sets in a canonical order (their iteration order follows per-process string hashes);
- functions and classes that cannot be imported (notebook code) by their code and
  attributes, never by process-specific state (`__slotnames__`, ABC caches, pydantic's
  schema, cloudpickle's class ids);
- independent of object sharing: the pickler runs in `fast` mode, without a memo, so the
  same object reached twice hashes like two equal copies (after a round trip, what was
  shared may come back as copies); only a cyclic value falls back to memo mode, hashed
  with strings inlined (which equal strings are one object differs between processes);
- without what a restore cannot give back: the state a dict subclass's `__setstate__`
  drops (sklearn's Bunch);
- library types in their canonical form (canonical_libs.py): without the caches a library
  fills on reads or the ids it keeps per process, torch tensors by their values.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import pickle
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cloudpickle  # type: ignore[import-untyped]
import xxhash

from .canonical_libs import Form, NoStableForm, form_for
from .code_content import class_content, function_content, importable
from .pickler import DISPATCH_TABLE

# Non-contiguous arrays are copied to C order this many bytes at a time.
CHUNK_BYTES = 1 << 22
# Digests of arrays from this size up are kept for the rest of one fingerprint (and
# offered as blob keys: serializers.INLINE_BUFFER_BYTES, the smallest buffer stored apart).
_CACHED_ARRAY_BYTES = 1 << 16
_SET_SORTABLE = frozenset({str, bytes, int})
_ATOM_TYPES = frozenset({str, bytes, int, float, complex, bool, type(None)})
_TOTALLY_ORDERED = frozenset({str, bytes, int, bool})
_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class made by a class statement or type()


def _canon(*args: Any) -> Any:
    """Stands for a canonical form in the hashed stream; never called (nothing loads it)."""
    raise TypeError("a fingerprint stream is not loadable")


class _Sink:
    __slots__ = ("hasher",)

    def __init__(self, hasher: Any) -> None:
        self.hasher = hasher

    def write(self, data: Any) -> int:
        self.hasher.update(data)
        return len(data)


class Context:
    """State shared by the pickler passes of one fingerprint: digests of big arrays, of
    classes and functions (each hashed once), and what is being hashed (cycles)."""

    def __init__(self) -> None:
        numpy = sys.modules.get("numpy")
        self.ndarray: type | None = None if numpy is None else numpy.ndarray
        self.digests: dict[int, str] = {}
        self.keep: list[Any] = []  # keeps the ids in `digests` valid
        self.active: set[int] = set()
        self.by_reference: dict[int, bool] = {}
        self.drops: dict[type, bool] = {}
        self.forms: dict[type, Form | None] = {}
        self.buffers: BufferDigests | None = None
        self.plain = True
        """No hook was called: the value is exact builtin containers and atoms (Traits)."""

    def digest(self, value: Any) -> str:
        # Protocol 3 saves an exact set through a reduce naming the `set` type, which
        # reducer_override sees; protocol 4+ saves it directly. So the cheap pass (no
        # persistent_id hook, called for every object) learns whether it met a set, and
        # only then does a second pass put sets in canonical order.
        # The cheap pass stops at the first set it meets (what it wrote is discarded), so
        # a set early in a big value does not cost a whole wasted pass.
        hasher = xxhash.xxh3_128()
        first = _CanonicalSets if type(value) in (set, frozenset) else _Canonical
        try:
            self._dump(first, hasher, value)
        except _MetSet:
            hasher.reset()
            self._dump(_CanonicalSets, hasher, value)
        return str(hasher.hexdigest())

    def _dump(self, kind: type[_Canonical], hasher: Any, value: Any) -> None:
        """Dump without a memo (sharing does not change the stream), or with one for a
        cyclic value; raises _MetSet when the pass meets a set it cannot order."""
        pickler = kind(_Sink(hasher), self)
        pickler.fast = True
        try:
            pickler.dump(value)
        except (ValueError, pickle.PicklingError) as exc:
            # Fast mode sees a cycle through dicts and lists; one through reductions (an
            # object's bound method in its own state, a figure and its axes) recurses.
            if "fast mode" not in str(exc) and not isinstance(exc.__cause__, RecursionError):
                raise
            hasher.reset()
            self.plain = False  # a cycle
            pickler = _MEMO_MODE[kind](_Sink(hasher), self)
            pickler.dump(value)

    def once(self, obj: Any, content: Callable[[Any], Any]) -> str:
        """The digest of `content(obj)`, computed once per object."""
        key = id(obj)
        found = self.digests.get(key)
        if found is not None:
            return found
        if key in self.active:
            return "cycle"  # reached again while being hashed: a method's __class__ cell
        self.active.add(key)
        try:
            found = self.digest(content(obj))
        finally:
            self.active.discard(key)
        self.digests[key] = found
        self.keep.append(obj)
        return found

    def importable(self, obj: Any) -> bool:
        key = id(obj)
        found = self.by_reference.get(key)
        if found is None:
            found = self.by_reference[key] = importable(obj)
            self.keep.append(obj)
        return found


# Memory digested whole: (address, nbytes) -> (digest, the array keeping that memory
# alive). The digest of a C-contiguous array's bytes is also the blob key of the buffer
# the storage pickler makes of it, so a snapshot need not hash the same memory again.
BufferDigests = dict[tuple[int, int], tuple[str, Any]]


@dataclass
class Traits:
    """What a fingerprint learnt of a value beside its digest."""

    plain: bool = False
    """A list, dict or tuple of only exact lists, dicts, tuples, str, bytes, int, float,
    bool and None, with no cycle: what marshal saves as it is (groups.py), several times
    faster than pickle's memo of every object."""


_PLAIN_TOPS = (list, dict, tuple)


def content_digest(
    value: Any, array_digests: BufferDigests | None = None, traits: Traits | None = None
) -> str | None:
    """The digest of a value's content, or None when it cannot be pickled.
    `array_digests` collects the digests of the large contiguous arrays it hashed;
    `traits` is told what else the pass found."""
    ctx = Context()
    ctx.buffers = array_digests
    try:
        found = ctx.digest(value)
    except Exception:  # unpicklable, a broken __reduce__, too deep
        return None
    if traits is not None:
        # The C pickler saves exact containers and atoms itself: any other object, a set
        # included (protocol 3 reduces it), went through reducer_override.
        traits.plain = ctx.plain and type(value) in _PLAIN_TOPS
    return found


class _MetSet(Exception):
    """The cheap pass met an exact set, which it would save in arbitrary order."""


class _Canonical(cloudpickle.Pickler):  # type: ignore[misc]
    dispatch_table = DISPATCH_TABLE

    def __init__(self, file: _Sink | io.BytesIO, ctx: Context) -> None:
        super().__init__(file, protocol=3)
        self.file = file
        self.ctx = ctx

    def reducer_override(self, obj: Any) -> Any:
        # Never called for exact dicts, lists, tuples, str, bytes, int, float, bool, None.
        ctx = self.ctx
        ctx.plain = False
        if ctx.ndarray is not None and isinstance(obj, ctx.ndarray):
            return _array(obj, ctx)
        if isinstance(obj, type):
            if obj is set or obj is frozenset:
                if type(self) in _ORDERS_SETS:
                    return NotImplemented  # the set type itself, as a value
                raise _MetSet  # an exact set is being saved, in arbitrary order
            if not obj.__flags__ & _HEAPTYPE:
                return super().reducer_override(obj)  # a C type: by name, as cloudpickle does
            if ctx.importable(obj):
                return NotImplemented
            return _canon, ("class", obj.__name__, ctx.once(obj, class_content))
        kind = type(obj)
        if kind is types.FunctionType:
            if ctx.importable(obj):
                return NotImplemented
            return _canon, ("function", obj.__qualname__, ctx.once(obj, function_content))
        if isinstance(obj, (set, frozenset)):
            return _set(obj, ctx)
        if kind is not dict and isinstance(obj, dict) and _drops_state(kind, ctx):
            return _canon, ("mapping", kind, list(obj.items()))
        try:
            form = ctx.forms[kind]
        except KeyError:
            form = ctx.forms[kind] = form_for(kind)
        return NotImplemented if form is None else _in_form(form, obj)


class _CanonicalSets(_Canonical):
    def persistent_id(self, obj: Any) -> Any:
        kind = type(obj)
        if kind is set or kind is frozenset:
            return _set(obj, self.ctx)
        return None


class _MemoCanonical(_Canonical):
    """Memo mode (a cyclic value): a string or bytes is saved whole every time, as a new
    object (so never a memo hit): whether two equal strings are one object (interned)
    differs between the process that made a value and the one that restored it. Other
    objects keep their references, numbered in the order they are met."""

    def persistent_id(self, obj: Any) -> Any:  # called for every object: kept minimal
        kind = type(obj)
        if kind is str:
            return "s" + obj
        if kind is bytes:
            return b"b" + obj
        return None


class _MemoCanonicalSets(_MemoCanonical, _CanonicalSets):
    def persistent_id(self, obj: Any) -> Any:
        found = _MemoCanonical.persistent_id(self, obj)
        return found if found is not None else _CanonicalSets.persistent_id(self, obj)


# The passes that save exact sets through persistent_id, in canonical order.
_ORDERS_SETS: frozenset[type[_Canonical]] = frozenset({_CanonicalSets, _MemoCanonicalSets})

# The pickler for a cyclic value (memo mode), by the fast-mode one it replaces.
_MEMO_MODE: dict[type[_Canonical], type[_Canonical]] = {
    _Canonical: _MemoCanonical,
    _CanonicalSets: _MemoCanonicalSets,
}


def _in_form(form: Form, obj: Any) -> Any:
    try:
        return form(obj)
    except NoStableForm:
        raise
    except Exception:  # a library version the form does not know: the object's own reduce
        return NotImplemented


# -- arrays ---------------------------------------------------------------------------------


def _array(a: Any, ctx: Context) -> Any:
    kind = type(a)
    if kind is not ctx.ndarray and (
        kind.__reduce__ is not ctx.ndarray.__reduce__
        or kind.__reduce_ex__ is not ctx.ndarray.__reduce_ex__
    ):
        masked = sys.modules.get("numpy.ma")
        if masked is not None and isinstance(a, masked.MaskedArray):
            return _masked(a, masked)
        return NotImplemented  # a subclass with its own state: its own reduce
    dtype = a.dtype
    described = dtype.str if dtype.fields is None and dtype.subdtype is None else repr(dtype)
    tag: Any = "ndarray" if kind is ctx.ndarray else kind
    if dtype.hasobject:
        return _canon, (tag, described, a.shape, a.ravel().tolist())
    key = id(a)
    found = ctx.digests.get(key)
    if found is None:
        hasher = xxhash.xxh3_128()
        for chunk in _c_order_chunks(a):
            hasher.update(chunk.reshape(-1).view("u1"))
        found = str(hasher.hexdigest())
        if a.nbytes >= _CACHED_ARRAY_BYTES:
            ctx.digests[key] = found
            ctx.keep.append(a)
            if ctx.buffers is not None and a.flags.c_contiguous:
                ctx.buffers[(a.__array_interface__["data"][0], a.nbytes)] = (found, a)
    return _canon, (tag, described, a.shape, found)


def _masked(a: Any, ma: Any) -> Any:
    """A masked array by data, mask and fill value: its pickle carries a fill value of
    None ("the default") that a restore turns into the default's value."""
    fill = a._fill_value if a._fill_value is not None else ma.default_fill_value(a)
    fill = ma.getdata(ma.asarray(fill, dtype=a.dtype))
    return _canon, ("masked", type(a), ma.getdata(a), ma.getmaskarray(a), fill, a.hardmask)


def _c_order_chunks(a: Any) -> Any:
    """The array's elements in C order, as C-contiguous arrays of at most ~CHUNK_BYTES
    (a contiguous array is its own single chunk: no copy)."""
    import numpy as np

    if a.flags.c_contiguous or a.nbytes <= CHUNK_BYTES:
        yield np.ascontiguousarray(a)
        return
    per_row = a.nbytes // len(a)
    if a.ndim > 1 and per_row > CHUNK_BYTES:
        for row in a:
            yield from _c_order_chunks(row)
        return
    step = max(1, CHUNK_BYTES // max(1, per_row))
    for start in range(0, len(a), step):
        yield np.ascontiguousarray(a[start : start + step])


# -- sets -------------------------------------------------------------------------------------


def _set(obj: Any, ctx: Context) -> Any:
    items = list(obj)
    kinds = set(map(type, items))
    if len(kinds) <= 1 and kinds <= _SET_SORTABLE:
        items.sort()
        order = "sorted"
    elif kinds <= _ATOM_TYPES | {tuple} and (inner := _atom_kinds(items, kinds)) is not None:
        order = "repr"
        if inner <= _TOTALLY_ORDERED:  # no NaN: tuples of these compare consistently
            with contextlib.suppress(TypeError):  # ('a', 1) < (1, 'a'): by repr below
                items.sort()
                order = "sorted"
        if order == "repr":
            items.sort(key=repr)  # the repr of an atom is its content
    else:
        # Anything else (frozensets: < is a partial order; objects): by digest.
        key = id(obj)
        if key in ctx.active:
            return _canon, ("set-cycle",)
        ctx.active.add(key)
        try:
            items = sorted(ctx.digest(x) for x in items)
        finally:
            ctx.active.discard(key)
        order = "digests"
    kind = type(obj)
    if kind is set or kind is frozenset:
        return _canon, (kind.__name__, order, items)
    return _canon, (kind, order, items, getattr(obj, "__dict__", None))


def _atom_kinds(items: list[Any], kinds: set[type]) -> set[type] | None:
    """The types of the atoms in `items` and in its tuples; None if a tuple holds more."""
    atoms = kinds - {tuple}
    if tuple in kinds:
        tuples = items if len(kinds) == 1 else [x for x in items if type(x) is tuple]
        atoms |= set(map(type, itertools.chain.from_iterable(tuples)))
    return atoms if atoms <= _ATOM_TYPES else None


def _drops_state(kind: type, ctx: Context) -> bool:
    """A dict subclass whose `__setstate__` may drop the state pickle passes it (sklearn's
    Bunch ignores it): its content is its items, as a restore rebuilds them."""
    found = ctx.drops.get(kind)
    if found is None:
        found = ctx.drops[kind] = (
            getattr(kind, "__reduce_ex__", None) is object.__reduce_ex__
            and getattr(kind, "__reduce__", None) is object.__reduce__
            and getattr(kind, "__setstate__", None) is not None
            and getattr(kind, "__getstate__", None) is getattr(object, "__getstate__", None)
        )
    return found
