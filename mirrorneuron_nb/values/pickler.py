"""The storage pickler: cloudpickle, so code defined in the notebook travels by value.

cloudpickle saves functions and classes that cannot be imported (everything a notebook
defines: dataclasses, enums, pydantic models, NamedTuples, ABCs, closures, properties) by
value, and its class tracker makes a class and its instances restored from different
pickles one class object. What this module changes:

- A notebook function is restored with the namespace given to `load` as its globals (the
  live notebook namespace, as if the cell had run there), never with a private copy of
  the globals captured when it was pickled, and nothing is written into that namespace.
- A class this process already has is never reset to its pickled state; a restored class
  keeps its qualname and its __slots__.
- pydantic validators and serializers are built once the whole pickle is loaded.
- Open files are refused, as plain pickle does: cloudpickle would save a file's content.

What a value pickles to here is only ever loaded, never compared: fingerprints come from
canonical.py.
"""

from __future__ import annotations

import contextlib
import functools
import io
import pickle
import sys
import types
import typing
import weakref
from collections import ChainMap
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import cloudpickle  # type: ignore[import-untyped]
from cloudpickle import cloudpickle as _cp  # the reducers this module adapts

_load_namespace: ContextVar[dict[str, Any] | None] = ContextVar("mn_load_namespace", default=None)


def _as_pickle_does(obj: Any) -> Any:
    return obj.__reduce_ex__(5)  # an open file: "cannot pickle '_io.TextIOWrapper' object"


# Shared with the fingerprint pickler: what cannot be stored has no content fingerprint.
DISPATCH_TABLE = ChainMap({io.TextIOWrapper: _as_pickle_does}, cloudpickle.Pickler.dispatch_table)

# Function attributes restored after the function object is made (as cloudpickle does).
_FUNCTION_SLOTS = (
    "__name__",
    "__qualname__",
    "__annotations__",
    "__kwdefaults__",
    "__defaults__",
    "__module__",
    "__doc__",
)


def _notebook_function(code: types.CodeType, closure: tuple[Any, ...] | None) -> Any:
    namespace = _load_namespace.get()
    return types.FunctionType(code, {} if namespace is None else namespace, None, None, closure)


def _set_notebook_function_state(fn: Any, state: tuple[dict[str, Any], dict[str, Any]]) -> Any:
    attrs, slots = state
    fn.__dict__.update(attrs)
    saved = slots.get("__closure__")
    for cell, value in zip(fn.__closure__ or (), saved or (), strict=False):
        with contextlib.suppress(ValueError):  # an empty cell stays empty
            cell.cell_contents = value.cell_contents
    for key in _FUNCTION_SLOTS:
        if key in slots:
            setattr(fn, key, slots[key])
    return fn


class StoragePickler(cloudpickle.Pickler):  # type: ignore[misc]
    """Protocol 5 with out-of-band buffers (`buffer_callback`), notebook code by value."""

    dispatch_table = DISPATCH_TABLE

    def __init__(self, file: Any, buffer_callback: Callable[[Any], Any] | None = None) -> None:
        super().__init__(file, protocol=5, buffer_callback=buffer_callback)
        self._top: Any = None

    def dump(self, obj: Any) -> None:
        self._top = obj
        try:
            super().dump(obj)
        finally:
            self._top = None

    def _dynamic_function_reduce(self, func: types.FunctionType) -> Any:
        reduced = super()._dynamic_function_reduce(func)
        if func.__globals__.get("__name__") != "__main__":
            # Library closures and lambdas keep their captured globals, also a library
            # wrapper that functools.wraps gave a notebook method's __module__.
            return reduced
        # cloudpickle 3: (_make_function, (code, globals, name, defaults, closure),
        # (attrs, slots), None, None, _function_setstate); slots["__globals__"] holds the
        # captured globals, which a notebook function must not carry.
        _, newargs, (attrs, slots), _, _, _ = reduced
        kept = {k: v for k, v in slots.items() if k != "__globals__"}
        return (
            _notebook_function,
            (newargs[0], newargs[4]),
            (attrs, kept),
            None,
            None,
            _set_notebook_function_state,
        )

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) in _built_from_schema():
            return _later, obj.__reduce__()
        if _has_grad(obj):
            # torch saves a tensor without its gradient: save the gradient beside it.
            reduced = obj.__reduce_ex__(5)
            if len(reduced) == 2:
                return _with_grad, (*reduced, obj.grad)
        if isinstance(obj, _LRU_WRAPPER) and getattr(obj, "__module__", None) == "__main__":
            # lru_cache pickles itself by name, and the notebook's name does not exist in a
            # new kernel: save the function it wraps and its cache settings instead.
            cached: Any = obj
            params = cached.cache_parameters()
            return _cached, (cached.__wrapped__, params["maxsize"], params["typed"])
        reduced = super().reducer_override(obj)
        if not isinstance(obj, type) or type(reduced) is not tuple or len(reduced) < 6:
            return reduced
        make, args, state = reduced[:3]
        if make is _cp._make_skeleton_class:
            tracker = args[4]
            # cloudpickle gives the new class its __name__ only, and sets __slots__ after
            # creating it, which makes no slots: instances would grow a __dict__.
            state[0]["__qualname__"] = obj.__qualname__
            if "__slots__" in vars(obj) and typing.NamedTuple not in args[2]:
                args[3]["__slots__"] = vars(obj)["__slots__"]  # (NamedTuple refuses it)
        elif make is _cp._make_skeleton_enum:
            tracker = args[5]
        else:
            return reduced
        # The class that is the value being saved (a variable bound to it) comes back
        # with its attributes as saved; a class only reached through others keeps its own.
        value = obj is self._top
        return (_notebook_class, (make, tracker, args, value), state, None, None, _set_class_state)


_LRU_WRAPPER: type = type(functools.lru_cache(maxsize=None)(lambda: None))


def _has_grad(obj: Any) -> bool:
    """A leaf torch tensor holding a gradient (asking a non-leaf for .grad warns)."""
    torch = sys.modules.get("torch")
    return (
        torch is not None and isinstance(obj, torch.Tensor) and obj.is_leaf and obj.grad is not None
    )


def _with_grad(make: Callable[..., Any], args: tuple[Any, ...], grad: Any) -> Any:
    tensor = make(*args)
    tensor.grad = grad
    return tensor


def _cached(function: Any, maxsize: int | None, typed: bool) -> Any:
    """A notebook function decorated with functools.lru_cache (an empty cache)."""
    return functools.lru_cache(maxsize=maxsize, typed=typed)(function)


# Classes this process made while unpickling and has not filled in yet.
_unfilled: weakref.WeakSet[type] = weakref.WeakSet()


def _notebook_class(
    make: Callable[..., type], tracker: str, args: tuple[Any, ...], value: bool = False
) -> type:
    """The class this process already has for `tracker` (defined here, or restored from
    another variable), else a new one. cloudpickle would then reset an existing class's
    attributes to the pickled ones: a class variable the notebook changed since, or the
    methods of the class a live instance uses, would silently go back in time. Unless the
    class is the `value` restored (a variable bound to it, as a checkpoint saved it)."""
    known = _cp._DYNAMIC_CLASS_TRACKER_BY_ID.get(tracker)
    if known is not None:
        if value:
            _unfilled.add(known)
        return known  # type: ignore[no-any-return]
    cls = make(*args)
    _unfilled.add(cls)
    return cls


def _set_class_state(cls: type, state: Any) -> type:
    if cls in _unfilled:
        _unfilled.discard(cls)
        _cp._class_setstate(cls, state)
        loading = _loading.get()
        if loading is not None:
            loading.classes.append(cls)
    return cls


# -- pydantic-core validators and serializers, built once the whole pickle is loaded ---------


def _built_from_schema() -> tuple[type, ...]:
    core = sys.modules.get("pydantic_core")
    return () if core is None else (core.SchemaValidator, core.SchemaSerializer)


class _Later:
    """Stands for a pydantic validator or serializer until the pickle is loaded. Its schema
    can still be half-built when it is reached: models that refer to each other share
    schema dicts, and pickle fills a dict only after everything inside it."""

    def __init__(self, kind: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.kind, self.args, self.built = kind, args, None

    def build(self) -> Any:
        if self.built is None:
            self.built = self.kind(*self.args)
        return self.built

    def __getattr__(self, name: str) -> Any:  # a stray one (not a class attribute) works too
        return getattr(self.build(), name)


def _later(kind: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    loading = _loading.get()
    if loading is None:
        return kind(*args)
    later = _Later(kind, args)
    loading.later.append(later)
    return later


class _Loading:
    def __init__(self) -> None:
        self.classes: list[type] = []
        self.later: list[_Later] = []

    def finish(self) -> None:
        for later in self.later:
            later.build()
        for cls in self.classes:
            for name, attr in list(vars(cls).items()):
                if isinstance(attr, _Later):
                    setattr(cls, name, attr.build())


_loading: ContextVar[_Loading | None] = ContextVar("mn_loading", default=None)


class StorageUnpickler(pickle.Unpickler):
    """Loads notebook functions with `namespace` as their globals."""

    def __init__(self, file: Any, buffers: list[Any], namespace: dict[str, Any]) -> None:
        super().__init__(file, buffers=buffers)
        self._namespace = namespace
        self._sets: dict[int, Any] = {}

    def load(self) -> Any:
        return self.load_all(1)[0]

    def load_all(self, count: int) -> list[Any]:
        """`count` pickles written one after another by one pickler (a group: the memo
        spans them, so what they share is loaded once)."""
        token = _load_namespace.set(self._namespace)
        loading = _Loading()
        loading_token = _loading.set(loading)
        try:
            load = super().load  # (zero-argument super() fails inside a comprehension)
            values = [load() for _ in range(count)]
            loading.finish()
            return values
        finally:
            _loading.reset(loading_token)
            _load_namespace.reset(token)

    def persistent_load(self, pid: Any) -> Any:
        """Checkpoints written by earlier versions saved sets as persistent ids."""
        if pid[0] == "ref":
            return self._sets[pid[1]]
        kind, index, items = pid
        value = {"set": set, "frozenset": frozenset}[kind](items)
        self._sets[index] = value
        return value


def dumps(value: Any, buffer_callback: Callable[[Any], Any] | None = None) -> bytes:
    out = io.BytesIO()
    StoragePickler(out, buffer_callback).dump(value)
    return out.getvalue()


def loads(stream: bytes, buffers: list[Any], namespace: dict[str, Any]) -> Any:
    return StorageUnpickler(io.BytesIO(stream), buffers, namespace).load()
