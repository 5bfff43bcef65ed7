"""The semantic comparator, run inside the resumed kernel (its source is exec'd there).

`differ(a, b)` is None when a (from the resumed namespace) means the same as b (from a plain
run of the same code), else one line saying where they differ. Never pickle bytes: each
kind is compared the way its library defines equality (array_equal with dtype and shape
but not strides, DataFrame.equals plus dtypes and index names, estimator parameters plus
fitted attributes, state_dicts, model_dump, ...). It only reads: the values it sees are
re-run afterwards, and a comparison that changed one would make that look like a change.

Aliasing counts too: two places that hold one object in the plain run must hold one object
after the resume, and the other way round.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import decimal
import enum
import functools
import math
import sys
import types
from collections.abc import Callable
from typing import Any

Diff = str | None
_SCALARS = (int, float, complex, str, bytes, bool, type(None), range, slice)


def _qual(x: Any) -> str:
    t = type(x)
    return f"{_module(t.__module__)}.{t.__qualname__}"


def _module(name: str) -> str:
    """The plain runs' namespace is called _mn_coverage_plain (see inkernel.py): its
    classes stand for the notebook's, which live in __main__."""
    return "__main__" if name == "_mn_coverage_plain" else name


def _mod(x: Any) -> str:
    return type(x).__module__.split(".")[0]


class Comparer:
    def __init__(self) -> None:
        self.pairs: dict[int, int] = {}
        self.back: dict[int, int] = {}
        self.keep: list[Any] = []  # ids are only unique while the objects live

    def differ(self, a: Any, b: Any, path: str = "") -> Diff:
        if a is b:
            return None
        if _qual(a) != _qual(b):
            return f"{path}: type {_qual(a)} != {_qual(b)}"
        if type(a) in _SCALARS or a is Ellipsis:
            return self._scalar(a, b, path)
        seen = self.pairs.get(id(a))
        if seen is not None or id(b) in self.back:
            if seen == id(b) and self.back.get(id(b)) == id(a):
                return None
            return f"{path}: shared references differ (aliasing is not the same)"
        self.pairs[id(a)], self.back[id(b)] = id(b), id(a)
        self.keep += [a, b]
        for test, compare in self._kinds():
            if test(a):
                return compare(a, b, path)
        return self.generic(a, b, path)

    # -- dispatch ---------------------------------------------------------------------

    def _kinds(self) -> list[tuple[Callable[[Any], bool], Callable[[Any, Any, str], Diff]]]:
        np = sys.modules.get("numpy")
        # compare_libs.py, exec'd into this module after this file, adds the libraries
        libraries = globals()["library_kinds"]()
        return [
            (lambda x: np is not None and isinstance(x, np.ndarray), self._ndarray),
            (lambda x: np is not None and isinstance(x, np.generic), self._npscalar),
            (lambda x: np is not None and isinstance(x, np.random.Generator), self._rng),
            (lambda x: np is not None and isinstance(x, np.random.RandomState), self._rstate),
            *[(test, functools.partial(compare, self)) for test, compare in libraries],
            (lambda x: hasattr(type(x), "model_dump"), self._pydantic),
            (lambda x: isinstance(x, enum.Enum), self._enum),
            (lambda x: isinstance(x, (decimal.Decimal, datetime.date, datetime.time)), self._text),
            (lambda x: isinstance(x, functools.partial), self._partial),
            (lambda x: isinstance(x, types.FunctionType), self._function),
            (lambda x: isinstance(x, types.MethodType), self._method),
            (lambda x: isinstance(x, type), self._class),
            (lambda x: isinstance(x, dict), self._dict),
            (lambda x: isinstance(x, (list, tuple, collections.deque)), self._sequence),
            (lambda x: isinstance(x, (set, frozenset)), self._set),
        ]

    def _scalar(self, a: Any, b: Any, path: str) -> Diff:
        if isinstance(a, float) and math.isnan(a) and math.isnan(b):
            return None
        return None if a == b else f"{path}: {a!r} != {b!r}"

    def many(self, pairs: list[tuple[str, Any, Any]], path: str) -> Diff:
        for name, x, y in pairs:
            found = self.differ(x, y, f"{path}{name}")
            if found:
                return found
        return None

    # -- numpy ------------------------------------------------------------------------

    def _ndarray(self, a: Any, b: Any, path: str) -> Diff:
        np = sys.modules["numpy"]
        if a.dtype != b.dtype or a.shape != b.shape:
            return f"{path}: array {a.dtype}{a.shape} != {b.dtype}{b.shape}"
        if b.flags.writeable and not a.flags.writeable:
            return f"{path}: array is read-only after the resume"
        if isinstance(a, np.ma.MaskedArray):
            found = self.differ(np.ma.getmaskarray(a), np.ma.getmaskarray(b), path + ".mask")
            if found:
                return found
            a, b = a.filled(0), b.filled(0)
        if a.dtype.kind == "O":
            return self.many(
                [
                    (f"[{i}]", x, y)
                    for i, (x, y) in enumerate(
                        zip(a.ravel().tolist(), b.ravel().tolist(), strict=True)
                    )
                ],
                path,
            )
        nan = a.dtype.kind in "fc"
        same = np.array_equal(a, b, equal_nan=nan) if nan else np.array_equal(a, b)
        return None if same else f"{path}: array values differ"

    def _npscalar(self, a: Any, b: Any, path: str) -> Diff:
        np = sys.modules["numpy"]
        return self._ndarray(np.asarray(a), np.asarray(b), path)

    def _rng(self, a: Any, b: Any, path: str) -> Diff:
        return self.differ(a.bit_generator.state, b.bit_generator.state, path + ".state")

    def _rstate(self, a: Any, b: Any, path: str) -> Diff:
        return self.differ(a.get_state(), b.get_state(), path + ".get_state()")

    # -- Python -----------------------------------------------------------------------

    def _pydantic(self, a: Any, b: Any, path: str) -> Diff:
        return self.differ(a.model_dump(), b.model_dump(), path + ".model_dump()")

    def _enum(self, a: Any, b: Any, path: str) -> Diff:
        return self.differ((a.name, a.value), (b.name, b.value), path)

    def _partial(self, a: Any, b: Any, path: str) -> Diff:
        return self.many(
            [
                (".func", a.func, b.func),
                (".args", a.args, b.args),
                (".keywords", a.keywords, b.keywords),
            ],
            path,
        )

    def _function(self, a: Any, b: Any, path: str) -> Diff:
        if a.__qualname__ != b.__qualname__ or a.__code__.co_code != b.__code__.co_code:
            return f"{path}: function {a.__qualname__} code differs"
        return self.many(
            [
                (".__defaults__", a.__defaults__, b.__defaults__),
                (".__kwdefaults__", a.__kwdefaults__, b.__kwdefaults__),
                (".__closure__", _cells(a), _cells(b)),
                (".__dict__", dict(a.__dict__), dict(b.__dict__)),
            ],
            path,
        )

    def _method(self, a: Any, b: Any, path: str) -> Diff:
        return self.many(
            [(".__func__", a.__func__, b.__func__), (".__self__", a.__self__, b.__self__)], path
        )

    def _text(self, a: Any, b: Any, path: str) -> Diff:
        """Decimal('1.10') == Decimal('1.1') and aware datetimes compare instants: the
        text and the zone are the value too."""
        shown = (str(a), str(getattr(a, "tzinfo", None)), getattr(a, "fold", 0))
        other = (str(b), str(getattr(b, "tzinfo", None)), getattr(b, "fold", 0))
        return None if shown == other else f"{path}: {shown} != {other}"

    def _class(self, a: Any, b: Any, path: str) -> Diff:
        if (_module(a.__module__), a.__qualname__) != (_module(b.__module__), b.__qualname__):
            return f"{path}: class {a.__qualname__} != {b.__qualname__}"
        mine = {k for k in vars(b) if not k.startswith("__")}
        theirs = {k for k in vars(a) if not k.startswith("__")}
        return None if mine == theirs else f"{path}: class attributes {theirs} != {mine}"

    def _dict(self, a: Any, b: Any, path: str) -> Diff:
        if list(a) != list(b):
            return f"{path}: keys {list(a)[:8]} != {list(b)[:8]} (or their order)"
        factory = getattr(a, "default_factory", None), getattr(b, "default_factory", None)
        pairs = [(".default_factory", *factory)]
        pairs += [(f"[{k!r}]", a[k], b[k]) for k in b]
        return self.many(pairs + self._state(a, b), path)

    def _sequence(self, a: Any, b: Any, path: str) -> Diff:
        if len(a) != len(b):
            return f"{path}: length {len(a)} != {len(b)}"
        pairs = [(f"[{i}]", x, y) for i, (x, y) in enumerate(zip(a, b, strict=True))]
        return self.many(pairs + self._state(a, b), path)

    def _set(self, a: Any, b: Any, path: str) -> Diff:
        return None if a == b else f"{path}: sets differ"

    def _state(self, a: Any, b: Any) -> list[tuple[str, Any, Any]]:
        """Instance attributes of a subclass of a builtin container (a Bunch, a deque)."""
        out = [(".__dict__", _public(a), _public(b))] if hasattr(b, "__dict__") else []
        return out + ([(".maxlen", a.maxlen, b.maxlen)] if hasattr(b, "maxlen") else [])

    def generic(self, a: Any, b: Any, path: str) -> Diff:
        if dataclasses.is_dataclass(b) or hasattr(type(b), "__attrs_attrs__"):
            return self._fields(a, b, path)
        if type(b).__eq__ is not object.__eq__ and not hasattr(b, "__array__"):
            try:
                same = bool(a == b)
            except Exception as exc:  # an __eq__ that raises says nothing
                return f"{path}: == raised {type(exc).__name__}"
            if not same:
                return f"{path}: {a!r:.80} != {b!r:.80}"
            # A library's own __eq__ is its definition of equal (its __dict__ may hold caches);
            # a notebook class's __eq__ may compare only part of the instance.
            notebook = _module(type(b).__module__) == "__main__"
            return self._fields(a, b, path) if notebook and hasattr(b, "__dict__") else None
        if hasattr(b, "__dict__") or hasattr(type(b), "__slots__"):
            return self._fields(a, b, path)
        if hasattr(b, "__reduce_ex__"):
            try:
                reduced = a.__reduce_ex__(4)[1:3], b.__reduce_ex__(4)[1:3]
            except Exception as exc:
                return f"{path}: no comparator for {_qual(b)} ({type(exc).__name__})"
            return self.differ(reduced[0], reduced[1], path + ".__reduce__")
        return f"{path}: no comparator for {_qual(b)}"

    def _fields(self, a: Any, b: Any, path: str) -> Diff:
        return self.differ(_fields(a), _fields(b), path + ".<fields>")


def _fields(x: Any) -> dict[str, Any]:
    out = dict(getattr(x, "__dict__", {}))
    for cls in type(x).__mro__:
        for slot in getattr(cls, "__slots__", ()):
            if slot not in ("__dict__", "__weakref__") and hasattr(x, slot):
                out[slot] = getattr(x, slot)
    return out


def _cells(fn: Any) -> list[Any]:
    out = []
    for cell in fn.__closure__ or ():
        try:
            out.append(cell.cell_contents)
        except ValueError:  # not assigned yet
            out.append("<empty cell>")
    return out


def _public(x: Any) -> dict[str, Any]:
    """Instance attributes, without a library's private ones (a Bunch's deprecation
    bookkeeping is not part of the data); a notebook class keeps them all."""
    notebook = _module(type(x).__module__) == "__main__"
    return {k: v for k, v in vars(x).items() if notebook or not k.startswith("_")}


def _ok(same: Any, path: str, what: str) -> Diff:
    return None if bool(same) else f"{path}: {what} is False"


def differ(a: Any, b: Any, path: str = "") -> Diff:
    return Comparer().differ(a, b, path)
