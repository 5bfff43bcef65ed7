"""The library part of the semantic comparator (compare.py): tables, science, figures.

Exec'd into the same private module as compare.py inside the kernel; compare.py's
Comparer asks `library_kinds()` for (test, compare) pairs. Each compare takes the Comparer
first, to recurse with `c.differ` / `c.many` and fall back with `c.generic`. Like the rest of
the comparator it only reads: see the note on figure getters below.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

Diff = str | None
Kind = tuple[Callable[[Any], bool], Callable[[Any, Any, Any, str], Diff]]


def library_kinds() -> list[Kind]:
    return [
        (lambda x: _top(x) == "pandas", _pandas),
        (lambda x: _top(x) == "polars", _polars),
        (lambda x: _top(x) == "pyarrow", _arrow),
        (lambda x: _top(x) == "xarray", lambda c, a, b, p: _ok(a.identical(b), p, "identical")),
        (lambda x: _top(x) == "sympy", _sympy),
        (lambda x: _top(x) == "networkx", _graph),
        (lambda x: _top(x) == "torch", _torch),
        (lambda x: _top(x) == "scipy", _scipy),
        (lambda x: _top(x) == "statsmodels", _statsmodels),
        (lambda x: _top(x) in ("plotly", "_plotly_utils"), _plotly),
        (lambda x: _top(x) in ("matplotlib", "seaborn"), _matplotlib),
        (lambda x: hasattr(x, "get_params") and hasattr(x, "fit"), _estimator),
    ]


def _top(x: Any) -> str:
    return type(x).__module__.split(".")[0]


def _ok(same: Any, path: str, what: str) -> Diff:
    return None if bool(same) else f"{path}: {what} is False"


# -- tables -----------------------------------------------------------------------


def _pandas(c: Any, a: Any, b: Any, path: str) -> Diff:
    pd = sys.modules["pandas"]
    tm = pd.testing
    try:
        if isinstance(a, pd.DataFrame):
            if not (a.equals(b) and a.dtypes.equals(b.dtypes)):
                return f"{path}: DataFrame.equals/dtypes differ"
            tm.assert_frame_equal(a, b, check_exact=True, check_flags=True)
        elif isinstance(a, pd.Series):
            if not a.equals(b) or a.dtype != b.dtype or a.name != b.name:
                return f"{path}: Series.equals/dtype/name differ"
            tm.assert_series_equal(a, b, check_exact=True)
        elif isinstance(a, pd.Index):
            tm.assert_index_equal(a, b, exact=True, check_exact=True)
        elif isinstance(a, pd.api.extensions.ExtensionArray):
            tm.assert_extension_array_equal(a, b)
        else:
            return c.generic(a, b, path)
    except AssertionError as exc:
        return f"{path}: {str(exc).splitlines()[0]}"
    names = [list(getattr(getattr(x, "index", x), "names", [])) for x in (a, b)]
    if names[0] != names[1]:
        return f"{path}: index names {names[0]} != {names[1]}"
    attrs = getattr(a, "attrs", None), getattr(b, "attrs", None)
    return c.differ(attrs[0], attrs[1], path + ".attrs")


def _polars(c: Any, a: Any, b: Any, path: str) -> Diff:
    if hasattr(a, "collect") and not hasattr(a, "equals"):  # LazyFrame
        a, b = a.collect(), b.collect()
    if a.schema != b.schema if hasattr(a, "schema") else a.dtype != b.dtype:
        return f"{path}: polars schema/dtype differs"
    return _ok(a.equals(b), path, "polars equals")


def _arrow(c: Any, a: Any, b: Any, path: str) -> Diff:
    schema = getattr(a, "schema", None)
    if schema is not None and not schema.equals(b.schema, check_metadata=True):
        return f"{path}: arrow schema or its metadata differs"
    return _ok(a.equals(b), path, "arrow equals")


# -- science ----------------------------------------------------------------------


def _sympy(c: Any, a: Any, b: Any, path: str) -> Diff:
    if a != b:
        return f"{path}: {a} != {b}"
    assumptions = getattr(a, "assumptions0", None), getattr(b, "assumptions0", None)
    return None if assumptions[0] == assumptions[1] else f"{path}: assumptions differ"


def _graph(c: Any, a: Any, b: Any, path: str) -> Diff:
    # The raw adjacency, not G.nodes / G.edges: those views are cached on first use,
    # in the instance, so reading them would change the value being compared.
    pairs = [(f".{k}", vars(a).get(k), v) for k, v in vars(b).items() if k.startswith("_")]
    return c.many([(".graph", a.graph, b.graph), *pairs], path)


def _torch(c: Any, a: Any, b: Any, path: str) -> Diff:
    torch = sys.modules["torch"]
    if isinstance(a, torch.Tensor):
        head = (a.dtype, a.shape, a.device, a.layout, a.requires_grad)
        if head != (b.dtype, b.shape, b.device, b.layout, b.requires_grad):
            return f"{path}: tensor {head} differs"
        if a.is_sparse:
            a, b = a.to_dense(), b.to_dense()
        if not torch.equal(a.detach(), b.detach()):
            return f"{path}: torch.equal is False"
        return c.differ(a.grad, b.grad, path + ".grad")
    if isinstance(a, torch.nn.Module):
        if a.training != b.training or repr(a) != repr(b):
            return f"{path}: module structure or training mode differs"
        return c.many([(".state_dict()", a.state_dict(), b.state_dict())], path)
    if isinstance(a, torch.optim.Optimizer):
        return c.many([(".state_dict()", a.state_dict(), b.state_dict())], path)
    if isinstance(a, torch.Generator):
        return c.differ(a.get_state(), b.get_state(), path + ".get_state()")
    return c.generic(a, b, path)


def _scipy(c: Any, a: Any, b: Any, path: str) -> Diff:
    sparse = sys.modules.get("scipy.sparse")
    if sparse is not None and sparse.issparse(a):
        if (a.format, a.dtype, a.shape) != (b.format, b.dtype, b.shape):
            return f"{path}: sparse format/dtype/shape differs"
        return _ok((a != b).nnz == 0, path, "sparse values")
    if hasattr(a, "dist") and hasattr(a, "args"):  # a frozen distribution
        return c.many(
            [
                (".dist", a.dist.name, b.dist.name),
                (".args", a.args, b.args),
                (".kwds", a.kwds, b.kwds),
            ],
            path,
        )
    return c.generic(a, b, path)


def _statsmodels(c: Any, a: Any, b: Any, path: str) -> Diff:
    # Stored attributes only: reading a cached property (bse, llf) fills `_cache`, which
    # is part of the value, so the comparison itself would change it.
    inner = getattr(b, "_results", b), getattr(a, "_results", a)
    model = getattr(inner[0], "model", None)
    if model is None:
        return c.generic(a, b, path)
    skip = {"_cache", "model", "_data_attr", "_data_in_cache"}
    pairs = [
        (f".{k}", _settings(vars(inner[1]).get(k)), _settings(v))
        for k, v in vars(inner[0]).items()
        if k not in skip
    ]
    pairs += [
        (".model.endog", inner[1].model.endog, model.endog),
        (".model.exog", inner[1].model.exog, model.exog),
    ]
    return c.many(pairs, path)


def _estimator(c: Any, a: Any, b: Any, path: str) -> Diff:
    fitted = sorted(k for k in vars(b) if k.endswith("_") and not k.startswith("_"))
    mine = sorted(k for k in vars(a) if k.endswith("_") and not k.startswith("_"))
    if fitted != mine:
        return f"{path}: fitted attributes {mine} != {fitted}"
    pairs = [(".get_params()", a.get_params(deep=False), b.get_params(deep=False))]
    pairs += [
        (f".{k}", _untimed(getattr(a, k)), _untimed(getattr(b, k)))
        for k in fitted
        if k != "refit_time_"
    ]
    return c.many(pairs, path)


# -- figures ----------------------------------------------------------------------


def _plotly(c: Any, a: Any, b: Any, path: str) -> Diff:
    if hasattr(a, "to_plotly_json"):  # key order of plotly's JSON means nothing
        mine, theirs = _sorted(a.to_plotly_json()), _sorted(b.to_plotly_json())
        return c.differ(mine, theirs, path + ".to_plotly_json()")
    return c.generic(a, b, path)


def _matplotlib(c: Any, a: Any, b: Any, path: str) -> Diff:
    mpl = sys.modules["matplotlib"]
    if isinstance(a, mpl.figure.Figure):
        return c.many(
            [
                (".size", _points(a.bbox_inches), _points(b.bbox_inches)),
                (".dpi", a.dpi, b.dpi),
                (".suptitle", _suptitle(a), _suptitle(b)),
                (".axes", [_axes(x) for x in a.axes], [_axes(x) for x in b.axes]),
            ],
            path,
        )
    if isinstance(a, mpl.axes.Axes):
        return c.differ(_axes(a), _axes(b), path)
    if isinstance(a, mpl.colors.Normalize):
        return c.differ(_props(a, "vmin", "vmax", "clip"), _props(b, "vmin", "vmax", "clip"), path)
    if isinstance(a, mpl.colors.Colormap):  # calling one builds its lookup table
        names = (
            "name",
            "N",
            "colors",
            "_segmentdata",
            "_rgba_bad",
            "_rgba_under",
            "_rgba_over",
        )
        return c.differ(_props(a, *names), _props(b, *names), path)
    if isinstance(a, mpl.artist.Artist):
        return c.differ(_artist(a), _artist(b), path)
    if hasattr(a, "figure") and hasattr(a, "data"):  # a seaborn grid
        return c.many([(".figure", a.figure, b.figure), (".data", a.data, b.data)], path)
    return c.generic(a, b, path)


def _settings(x: Any) -> Any:
    """A fit's mle_settings without its callback (a bound method statsmodels drops itself
    when a results object is pickled)."""
    if isinstance(x, dict) and "callback" in x and "optimizer" in x:
        return {k: v for k, v in x.items() if k != "callback"}
    return x


def _untimed(x: Any) -> Any:
    """A search's cv_results_ without its wall-clock timings (they differ run to run)."""
    if isinstance(x, dict) and any(str(k).endswith("_time") for k in x):
        return {k: v for k, v in x.items() if not str(k).endswith("_time")}
    return x


def _points(bbox: Any) -> Any:
    """A Bbox's points without get_points(), which clears its `_invalid` flag."""
    return getattr(bbox, "_points", None)


def _props(x: Any, *names: str) -> dict[str, Any]:
    return {n: getattr(x, n, None) for n in names}


def _sorted(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _sorted(x[k]) for k in sorted(x, key=str)}
    if isinstance(x, (list, tuple)):
        return type(x)(_sorted(v) for v in x)
    return x


def _suptitle(fig: Any) -> str:
    sup = getattr(fig, "_suptitle", None)
    return sup.get_text() if sup is not None else ""


# Getters that only read: get_xydata, get_path, get_xlim or calling a colormap recompute
# caches that are part of the pickled figure, so reading them would change the value.
_PURE = (
    "get_text",
    "get_position",
    "get_facecolor",
    "get_edgecolor",
    "get_color",
    "get_linewidth",
    "get_linestyle",
    "get_marker",
    "get_array",
    "get_offsets",
    "get_alpha",
    "get_xy",
    "get_width",
    "get_height",
    "get_angle",
    "get_center",
    "get_radius",
)


def _artist(x: Any) -> dict[str, Any]:
    """What a patch, line, collection or text shows (without drawing or recomputing)."""
    props: dict[str, Any] = {
        "type": type(x).__name__,
        "visible": x.get_visible(),
        "label": x.get_label(),
        "zorder": x.get_zorder(),
    }
    if hasattr(x, "get_data") and hasattr(x, "get_xydata"):  # a Line2D
        props["data"] = x.get_data(orig=True)
    for name in _PURE:
        method = getattr(x, name, None)
        if method is not None:
            props[name] = method()
    return props


def _axes(ax: Any) -> dict[str, Any]:
    return {
        "title": ax.get_title(),
        "xlabel": ax.get_xlabel(),
        "ylabel": ax.get_ylabel(),
        # What the user sees: pending autoscaling applied (a figure drawn at the end of
        # its step and one never drawn since its code ran agree on it).
        "limits": [*ax.get_xlim(), *ax.get_ylim()],
        "xscale": ax.get_xscale(),
        "yscale": ax.get_yscale(),
        "lines": [_artist(x) for x in ax.get_lines()],
        "patches": [_artist(x) for x in ax.patches],
        "collections": [_artist(x) for x in ax.collections],
        "texts": [_artist(x) for x in ax.texts],
        "images": [x.get_array() for x in ax.images],
        "legend": [t.get_text() for t in ax.get_legend().get_texts()] if ax.get_legend() else None,
    }
