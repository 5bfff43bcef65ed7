"""Canonical forms of library types, for content fingerprints (canonical.py).

A library value pickles to more than its content: state it fills on reads (caches, lazily
made defaults, stale flags), state it keeps per process (ids, counters, storage addresses,
back-references keyed by id) and state whose order means nothing (JSON key order). Its
fingerprint must not see any of that, so a type can have here:

- a *content form*: a function giving what stands for the value in the hashed stream
  (a torch tensor by dtype, shape and values; a plotly figure by its JSON, keys sorted);
- a *state rule*: attributes left out of the state its pickle carries (`drop`), or that
  a getter fills with a default when they are None (`lazy`: that default counts as None).

Both are keyed by strings, a type path `module.QualName` matched along the MRO or a
top-level package name, so nothing here imports a library. Whatever the library,
`functools.cached_property` values are left out too: reading one fills it.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Form = Callable[[Any], Any]
"""An object -> what the fingerprint pickler saves instead (a reduce value)."""


class NoStableForm(Exception):
    """Raised by a form for a value that has no content fingerprint (content_digest: None)."""


def _lib_form(*args: Any) -> Any:
    """Stands for a content form in the hashed stream; never called (nothing loads it)."""
    raise TypeError("a fingerprint stream is not loadable")


IsDefault = Callable[[Any], bool]


@dataclass(frozen=True)
class StateRule:
    drop: frozenset[str] = frozenset()
    """Attributes that are caches, flags or per-process links: not content."""
    lazy: tuple[tuple[str, IsDefault], ...] = ()
    """(attribute, is_default): a getter sets the attribute to a default when it is None;
    a value that `is_default` recognises counts as None."""
    refresh: tuple[Callable[[Any], None], ...] = ()
    """Reads that bring derived caches up to date first (what drawing or a getter would
    do), so a value reads the same whether or not something read it since it changed."""

    def __or__(self, other: StateRule) -> StateRule:
        return StateRule(
            self.drop | other.drop, self.lazy + other.lazy, self.refresh + other.refresh
        )


_FORMS: dict[str, Form] = {}
_RULES: dict[str, StateRule] = {}


def register_form(type_path: str, form: Form) -> None:
    """Fingerprint values of `type_path` (or a subclass) by `form(value)`, a tuple of
    content; it may raise NoStableForm."""
    _FORMS[type_path] = form


def register_state(
    key: str,
    drop: tuple[str, ...] = (),
    lazy: dict[str, IsDefault] | None = None,
    refresh: Callable[[Any], None] | None = None,
) -> None:
    """Put the state of a type path's values (subclasses too), or of every type of a
    top-level package, in canonical form (StateRule)."""
    rule = StateRule(
        frozenset(drop), tuple((lazy or {}).items()), () if refresh is None else (refresh,)
    )
    _RULES[key] = _RULES.get(key, StateRule()) | rule


def form_for(kind: type) -> Form | None:
    """What saves values of `kind` in a fingerprint; None: their own reduction."""
    paths = [f"{k.__module__}.{k.__qualname__}" for k in kind.__mro__[:-1]]
    for path in paths:
        found = _FORMS.get(path)
        if found is not None:
            return _content(path, found)
    rule = StateRule(frozenset(_cached_properties(kind)))
    for k, path in zip(kind.__mro__, paths, strict=False):
        rule = rule | _RULES.get(path, StateRule()) | _RULES.get(_package(k), StateRule())
    if not rule.drop and not rule.lazy and not rule.refresh:
        return None
    return functools.partial(_without, rule=rule)


def _package(kind: type) -> str:
    return kind.__module__.partition(".")[0]


def _content(path: str, form: Form) -> Form:
    def reduce(obj: Any) -> Any:
        return _lib_form, (path, type(obj), form(obj))

    return reduce


def _cached_properties(kind: type) -> set[str]:
    return {
        name
        for k in kind.__mro__[:-1]
        for name, attr in vars(k).items()
        if isinstance(attr, functools.cached_property)
    }


def _without(obj: Any, rule: StateRule) -> Any:
    """The object's reduction with its state (a dict, and slots) put in canonical form."""
    for refresh in rule.refresh:
        refresh(obj)
    reduced = obj.__reduce_ex__(3)
    if type(reduced) is not tuple or len(reduced) < 3:
        return reduced
    state = reduced[2]
    if type(state) is tuple and len(state) == 2:
        state = (_canonical_state(state[0], rule), _canonical_state(state[1], rule))
    else:
        state = _canonical_state(state, rule)
    return (*reduced[:2], state, *reduced[3:])


def _canonical_state(state: Any, rule: StateRule) -> Any:
    if type(state) is not dict:
        return state
    out = {k: v for k, v in state.items() if k not in rule.drop}
    for name, is_default in rule.lazy:
        if out.get(name) is not None and is_default(out[name]):
            out[name] = None
    return out


def _empty_dict(value: Any) -> bool:
    return type(value) is dict and not value


def _of_type(path: str) -> IsDefault:
    """A predicate: the value is of exactly the type `path` (no import needed)."""
    module, _, name = path.rpartition(".")

    def test(value: Any) -> bool:
        kind = type(value)
        return kind.__qualname__ == name and kind.__module__ == module

    return test


# -- torch -------------------------------------------------------------------------------------

_SAME_SIZE_INT = {1: "uint8", 2: "int16", 4: "int32", 8: "int64"}


def _tensor(t: Any) -> Any:
    """A tensor by dtype, shape, layout, device kind, values (a numpy array, hashed
    whatever its strides), requires_grad, its gradient and its Python attributes: never
    its storage's address, id or offset."""
    torch = sys.modules["torch"]
    layout = t.layout
    data = t.detach()
    shape: tuple[int, ...] | None = None  # a nested tensor is ragged: its parts have shapes
    if t.is_nested:
        values: Any = [_values(part) for part in data.unbind()]
    elif layout == torch.sparse_coo:
        data = data.coalesce()  # duplicates summed, indices sorted: one form per content
        values = (_values(data.indices()), _values(data.values()))
    elif layout in (torch.sparse_csr, torch.sparse_bsr):
        values = tuple(map(_values, (data.crow_indices(), data.col_indices(), data.values())))
    elif layout in (torch.sparse_csc, torch.sparse_bsc):
        values = tuple(map(_values, (data.ccol_indices(), data.row_indices(), data.values())))
    elif layout == torch.strided:
        values = _values(data)
    else:
        raise NoStableForm(f"a tensor of layout {layout}")
    if not t.is_nested:
        shape = tuple(t.shape)
    grad = t.grad if t.is_leaf else None  # a non-leaf's .grad is never kept (and warns)
    extra = dict(vars(t)) or None
    return (str(t.dtype), shape, str(layout), t.device.type, values, t.requires_grad, grad, extra)


def _values(t: Any) -> Any:
    """A dense tensor's values as a numpy array sharing its memory when it can."""
    torch = sys.modules["torch"]
    if t.device.type == "meta":
        return None  # no data
    if t.is_quantized:
        return ("quantized", str(t.qscheme()), _qparams(t), _values(t.int_repr()))
    t = t.resolve_conj().resolve_neg().cpu()
    try:
        return t.numpy()
    except TypeError:  # bfloat16, float8, complex32: no numpy dtype; the same bits as ints
        return t.view(getattr(torch, _SAME_SIZE_INT[t.element_size()])).numpy()


def _qparams(t: Any) -> Any:
    try:
        return (t.q_scale(), t.q_zero_point())
    except RuntimeError:  # per-channel
        channel = (t.q_per_channel_scales(), t.q_per_channel_zero_points())
        return (*map(_values, channel), t.q_per_channel_axis())


# -- matplotlib --------------------------------------------------------------------------------


def _validated(node: Any) -> None:
    """A transform or bounding box whose cached points or matrix are out of date (its
    `_invalid` flag) recomputes them, as drawing would."""
    if not getattr(node, "_invalid", 0):
        return
    getter = getattr(node, "get_points", None) or getattr(node, "get_matrix", None)
    if getter is not None:
        with contextlib.suppress(Exception):  # a transform with no matrix of its own
            getter()


def _autoscaled(axes: Any) -> None:
    """Axes whose limits wait for autoscaling (after a plot call) apply it, as reading
    the limits or drawing would."""
    with contextlib.suppress(Exception):
        axes.viewLim  # noqa: B018 - the property applies pending autoscaling


def _callbacks(registry: Any) -> Any:
    """A CallbackRegistry by its signals and the callbacks its pickle keeps. Its
    __getstate__ advances the id counter (each pickle changes the next one) and drops the
    other callbacks (weak references to live objects)."""
    kept = registry._pickled_cids
    callbacks = {
        signal: [(cid, proxy()) for cid, proxy in sorted(found.items()) if cid in kept]
        for signal, found in registry.callbacks.items()
    }
    kept_callbacks = {signal: found for signal, found in callbacks.items() if found}
    return (registry._signals, registry.exception_handler, kept_callbacks)


# -- plotly ------------------------------------------------------------------------------------


def _plotly(obj: Any) -> Any:
    """A figure or graph object by its JSON with keys sorted: the order of a restored
    template's keys differs, and JSON objects have none. Parents and uids stay out."""
    grid = (getattr(obj, "_grid_str", None), getattr(obj, "_grid_ref", None))
    return (_sorted_keys(obj.to_plotly_json()), grid)


def _sorted_keys(value: Any) -> Any:
    kind = type(value)
    if kind is dict:
        return {k: _sorted_keys(value[k]) for k in sorted(value, key=_key_order)}
    if kind is list or kind is tuple:
        return kind(map(_sorted_keys, value))
    return value


def _key_order(key: Any) -> tuple[str, str]:
    return (type(key).__name__, key if isinstance(key, str) else repr(key))


# -- the registry ------------------------------------------------------------------------------

for _path in ("torch.Tensor", "torch._C.TensorBase", "torch._C._TensorBase"):
    register_form(_path, _tensor)
register_form("matplotlib.cbook.CallbackRegistry", _callbacks)
register_form("plotly.basedatatypes.BaseFigure", _plotly)
register_form("plotly.basedatatypes.BasePlotlyType", _plotly)
# Filled by getters (`arr.dtype`; a result's `bse`, `params` wrapped with the names).
register_state("pandas", drop=("_cache",))
register_state("statsmodels", drop=("_cache",))
# `attrs` and `encoding` are made on first read (`identical` reads them).
register_state("xarray", lazy={"_attrs": _empty_dict, "_encoding": _empty_dict})
# Drawing clears the stale flag; get_transform() makes the identity transform; a
# transform's parents are keyed by id (per process).
register_state(
    "matplotlib.artist.Artist",
    drop=("_stale",),
    lazy={"_transform": _of_type("matplotlib.transforms.IdentityTransform")},
)
register_state("matplotlib.axes._base._AxesBase", refresh=_autoscaled)
register_state(
    "matplotlib.transforms.TransformNode",
    drop=("_parents", "_invalid", "_inverted"),
    refresh=_validated,
)
# Recomputed from the patch's geometry when read (an Ellipse's when it is drawn).
register_state("matplotlib.patches.Patch", drop=("_patch_transform",))
register_state("matplotlib.patches.Wedge", drop=("_path",))
# Calling a colormap builds its lookup table from its colors.
register_state("matplotlib.colors.Colormap", drop=("_lut", "_isinit"))
