"""Library values fingerprint by content: reading one (repr, drawing, a getter, a comparison
the library caches) leaves its fingerprint alone, what a library keeps per process (ids,
counters, storage addresses, key order) does not count, and a change of content does.

The same values also go through a real checkpoint round trip into new processes in
test_fingerprint_roundtrip.py (roundtrip_cases.py).
"""

from __future__ import annotations

import builtins
import io
import pickle
from typing import Any

import pytest

from mirrorneuron_nb.models import UNSTABLE_FINGERPRINT
from mirrorneuron_nb.values import pickler
from mirrorneuron_nb.values.fingerprint import fingerprint


def stable(value: Any) -> str:
    """The fingerprint, checked to be a content one and the same on a second read."""
    first = fingerprint(value)
    assert not first.startswith(UNSTABLE_FINGERPRINT), first
    assert fingerprint(value) == first
    return first


def round_trip(value: Any) -> Any:
    """Through the storage pickler (in-band buffers), as a checkpoint stores it."""
    return pickler.loads(pickler.dumps(value), [], {"__builtins__": builtins})


# -- torch ---------------------------------------------------------------------------------------


def test_a_tensor_fingerprints_by_its_values_not_its_storage_address() -> None:
    torch = pytest.importorskip("torch")
    t = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    before = stable(t)
    assert fingerprint(t.clone()) == before  # another storage, the same content
    assert fingerprint(round_trip(t)) == before
    t.mul_(2)
    assert fingerprint(t) != before
    assert fingerprint(t.reshape(3, 2)) != fingerprint(t)  # shape counts
    assert fingerprint(t.to(torch.float64)) != fingerprint(t)  # dtype counts


def test_a_tensor_view_fingerprints_like_its_contiguous_copy() -> None:
    torch = pytest.importorskip("torch")
    base = torch.arange(12).reshape(3, 4)
    view = base.t()
    assert stable(view) == fingerprint(view.contiguous())
    before = fingerprint(view)
    view[0, 0] = 99
    assert fingerprint(view) != before


def test_bfloat16_and_grad_state_count() -> None:
    torch = pytest.importorskip("torch")
    bf = torch.ones(3, dtype=torch.bfloat16)
    before = stable(bf)
    assert fingerprint(round_trip(bf)) == before
    bf.add_(0.5)
    assert fingerprint(bf) != before
    w = torch.tensor([1.0, 2.0])
    plain = fingerprint(w)
    w.requires_grad_(True)
    wants_grad = fingerprint(w)
    assert wants_grad != plain
    (w**2).sum().backward()
    assert fingerprint(w) != wants_grad  # the gradient is content too


def test_a_sparse_tensor_fingerprints_coalesced() -> None:
    torch = pytest.importorskip("torch")
    sp = torch.sparse_coo_tensor([[0, 1], [1, 0]], [3.0, 4.0], (2, 2), check_invariants=True)
    twice = torch.sparse_coo_tensor([[1, 0, 0], [0, 1, 1]], [4.0, 1.0, 2.0], (2, 2))
    assert stable(sp) == fingerprint(twice) == fingerprint(sp.coalesce())
    assert fingerprint(sp * 2) != fingerprint(sp)


def test_a_nested_tensor_fingerprints_by_its_parts() -> None:
    torch = pytest.importorskip("torch")
    nested = torch.nested.nested_tensor([torch.ones(2), torch.arange(3.0)])
    before = stable(nested)
    assert fingerprint(round_trip(nested)) == before
    other = torch.nested.nested_tensor([torch.ones(2), torch.arange(3.0) + 1])
    assert fingerprint(other) != before


def test_modules_and_generators_fingerprint_by_their_state() -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    lin = torch.nn.Linear(3, 2)
    before = stable(lin)
    assert fingerprint(round_trip(lin)) == before
    lin(torch.ones(1, 3))  # calling a module reads it
    assert fingerprint(lin) == before
    with torch.no_grad():
        lin.weight.fill_(0.5)
    assert fingerprint(lin) != before
    gen = torch.Generator().manual_seed(3)
    seeded = stable(gen)
    assert fingerprint(round_trip(gen)) == seeded
    torch.rand(2, generator=gen)
    assert fingerprint(gen) != seeded


# -- matplotlib ----------------------------------------------------------------------------------


def test_pickling_a_norm_or_patch_does_not_change_its_fingerprint() -> None:
    # CallbackRegistry.__getstate__ advances the registry's id counter: every pickle (a
    # fingerprint, a checkpoint) used to change the next one.
    pytest.importorskip("matplotlib")
    from matplotlib.colors import LogNorm, Normalize
    from matplotlib.patches import Circle, Rectangle

    for make, change in [
        (lambda: Normalize(vmin=0, vmax=10), lambda v: setattr(v, "vmax", 20)),
        (lambda: LogNorm(vmin=1, vmax=100), lambda v: setattr(v, "vmin", 10)),
        (lambda: Rectangle((0, 0), 2, 1, facecolor="red"), lambda v: v.set_width(3)),
        (lambda: Circle((0.5, 0.5), 0.25, edgecolor="k"), lambda v: v.set_radius(0.4)),
    ]:
        value = make()
        before = stable(value)
        pickle.dumps(value)
        assert fingerprint(value) == before
        assert fingerprint(round_trip(value)) == before
        change(value)
        assert fingerprint(value) != before


def test_reading_a_patch_or_calling_a_colormap_does_not_change_its_fingerprint() -> None:
    pytest.importorskip("matplotlib")
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Circle, Rectangle, Wedge

    rect = Rectangle((0, 0), 2, 1)
    before = stable(rect)
    rect.get_transform()  # makes the identity transform
    _ = rect.get_extents(), rect.contains_point((1, 1)), repr(rect)
    rect.stale = False  # what drawing does
    assert fingerprint(rect) == before
    rect.set_transform(rect.get_transform() + rect.get_transform())
    assert fingerprint(rect) != before
    circle, wedge = Circle((0.5, 0.5), 0.25), Wedge((0, 0), 1, 0, 90)
    wedge.set_radius(2)  # its path is made again on the next read
    before_circle, before_wedge = stable(circle), stable(wedge)
    _ = circle.get_transform(), wedge.get_path()  # caches the patch transform, the path
    assert (fingerprint(circle), fingerprint(wedge)) == (before_circle, before_wedge)
    circle.set_radius(0.4)
    assert fingerprint(circle) != before_circle
    cmap = ListedColormap(["red", "green", "blue"], name="rgb")
    before = stable(cmap)
    cmap(0.5)  # builds the lookup table
    assert fingerprint(cmap) == before
    assert fingerprint(cmap.with_extremes(bad="black")) != before


def test_a_figure_has_a_stable_fingerprint_that_follows_its_content() -> None:
    # A figure and its axes refer to each other through their reductions: a cycle that
    # pickle's fast mode reports as a recursion error, not as a cycle. (Drawing it makes
    # tick artists: a change of content.)
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4, 3))
    ax = fig.add_subplot()
    ax.plot([0, 1, 2], [1, 3, 2])
    before = stable(fig)
    assert fingerprint(round_trip(fig)) == before
    ax.set_title("after")
    assert fingerprint(fig) != before


def test_a_drawn_figure_fingerprints_the_same_after_a_round_trip() -> None:
    # Drawing validates the transforms' cached points; a restored copy has them marked
    # out of date (`_invalid`) until something reads them.
    pytest.importorskip("matplotlib")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3, 3))
    axes = fig.subplots(2, 1)
    axes[1].plot([1, 2, 3])
    FigureCanvasAgg(fig).draw()
    before = stable(fig)
    copy = round_trip(fig)
    assert fingerprint(copy) == before
    assert fingerprint(copy.axes[1]) == fingerprint(axes[1])


def test_reading_the_limits_of_axes_waiting_for_autoscaling_keeps_their_fingerprint() -> None:
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.add_subplot()
    ax.plot([0, 1, 2], [1, 3, 2])
    before = stable(fig)
    assert ax.get_xlim() != (0.0, 1.0)  # the read applied the pending autoscaling
    assert fingerprint(fig) == before
    ax.set_xlim(5, 6)
    assert fingerprint(fig) != before


# -- plotly --------------------------------------------------------------------------------------


def test_a_plotly_figure_fingerprints_by_its_json_whatever_the_key_order() -> None:
    # A restored figure rebuilds its template with its keys in another order.
    go = pytest.importorskip("plotly.graph_objects")
    np = pytest.importorskip("numpy")
    for fig in [
        go.Figure(go.Scatter(x=[1, 2, 3], y=[2, 1, 3])),
        go.Figure(go.Heatmap(z=np.arange(6.0).reshape(2, 3))),
    ]:
        before = stable(fig)
        assert fingerprint(round_trip(fig)) == before
        assert fingerprint(pickle.loads(pickle.dumps(fig))) == before
        fig.update_layout(title="t")
        assert fingerprint(fig) != before
        changed = fingerprint(fig)
        fig.data[0].name = "n"
        assert fingerprint(fig) != changed


# -- enums, cycles through reductions ------------------------------------------------------------


def test_flag_pseudo_members_made_by_reads_do_not_change_the_class() -> None:
    ns: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    exec("import enum\nclass Perm(enum.Flag):\n    R = 4\n    W = 2\n    X = 1\n", ns)
    perm = ns["Perm"]
    before = stable(perm)
    both = perm.R | perm.W  # creates and caches the pseudo-member 6 in the class
    assert fingerprint(perm) == before
    assert fingerprint(both) != fingerprint(perm.R)
    perm.extra = 1
    assert fingerprint(perm) != before


def test_a_value_cyclic_through_a_bound_method_has_a_fingerprint() -> None:
    # IPython's %%capture in a kernel: the captured StringIO's `write` is its own bound
    # method, a cycle pickle's fast mode does not see; it used to have no fingerprint.
    buf = io.StringIO()
    buf.write("hello\n")
    buf.write = buf.write  # type: ignore[method-assign]
    holder = {"out": buf}
    before = stable(holder)
    assert fingerprint(round_trip(holder)) == before
    buf.write("more")
    assert fingerprint(holder) != before


# -- values whose reads fill caches --------------------------------------------------------------


def test_reading_xarray_attrs_does_not_change_the_fingerprint() -> None:
    xr = pytest.importorskip("xarray")
    np = pytest.importorskip("numpy")
    da = xr.DataArray(np.arange(6.0).reshape(2, 3), dims=("y", "x"), coords={"x": [10, 20, 30]})
    before = stable(da)
    assert da.identical(da.copy())  # reading `attrs` makes the empty dicts
    _ = da.x.attrs, da.encoding
    assert fingerprint(da) == before
    da.attrs["units"] = "K"
    assert fingerprint(da) != before


def test_networkx_cached_views_do_not_change_the_fingerprint() -> None:
    nx = pytest.importorskip("networkx")
    g = nx.DiGraph([(1, 2), (2, 3)])
    before = stable(g)
    list(nx.topological_sort(g))  # fills the graph's cached views
    _ = g.nodes, g.edges, g.succ, g.pred, g.degree
    assert fingerprint(g) == before
    g.add_edge(3, 4)
    assert fingerprint(g) != before


def test_statsmodels_results_caches_do_not_change_the_fingerprint() -> None:
    pd = pytest.importorskip("pandas")
    np = pytest.importorskip("numpy")
    smf = pytest.importorskip("statsmodels.formula.api")
    x = np.linspace(0, 1, 40)
    frame = pd.DataFrame({"x": x, "y": 2 * x + np.sin(7 * x), "g": list("ab") * 20})
    fit = smf.ols("y ~ x + C(g)", data=frame).fit()
    before = stable(fit)
    _ = fit.params, fit.bse, fit.tvalues, fit.conf_int(), fit.model.data.xnames
    _ = fit.predict(frame)
    assert fingerprint(fit) == before
    other = smf.ols("y ~ x", data=frame).fit()
    assert fingerprint(other) != before
