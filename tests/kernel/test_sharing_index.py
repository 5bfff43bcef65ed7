"""The sharing index without a kernel: which values are saved together, and what never
links them (library constants), and that finding those constants imports nothing."""

from __future__ import annotations

import importlib.util
import sys
import types
from collections.abc import Iterator
from typing import Any

import pytest

from mirrorneuron_nb.kernel.sharing import SharingIndex, reach


def test_values_split_into_the_sets_that_share_objects() -> None:
    row = [1]
    ns: dict[str, Any] = {"row": row, "grid": [row, row], "other": {"k": [2]}, "n": 3}
    index = SharingIndex()
    groups = index.components({name: reach([ns[name]]) for name in ns}, ns)
    assert sorted(groups) == [["grid", "row"], ["n"], ["other"]]


def test_frames_that_share_only_a_pandas_dtype_are_saved_apart() -> None:
    """Issue 13: a frame and its groupby result share pandas' cached StringDtype (their
    column labels): they were one group, and finding that it links nothing scanned every
    module pandas imported."""
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"a": [1.0, 2.0], "h": [1, 1]})
    ns: dict[str, Any] = {"df": df, "g": df.groupby("h").mean()}
    index = SharingIndex()
    assert sorted(index.components({n: reach([v]) for n, v in ns.items()}, ns)) == [
        ["df"],
        ["g"],
    ]


def test_a_value_changed_in_place_takes_its_group_along() -> None:
    node = {"v": 0}
    ns: dict[str, Any] = {"node": node, "holder": [node], "alone": [5]}
    index = SharingIndex()
    index.record({"node": node, "holder": ns["holder"]})
    index.record({"alone": ns["alone"]})
    partners, _ = index.partners(["node"], ns)
    assert partners == {"holder"}
    ns["node"] = {"v": 1}  # rebound: the old object's holder is not this value's partner
    partners, _ = index.partners(["node"], ns)
    assert partners == set()


def test_a_module_level_constant_both_values_hold_links_nothing() -> None:
    constant = [-5, 6]
    library = types.ModuleType("mn_fake_library")
    library.LIMITS = constant  # type: ignore[attr-defined]
    sys.modules[library.__name__] = library
    try:
        ns: dict[str, Any] = {"a": {"limits": constant}, "b": {"limits": constant}}
        groups = SharingIndex().components({n: reach([v]) for n, v in ns.items()}, ns)
        assert sorted(groups) == [["a"], ["b"]]
        # ... unless the constant is itself a notebook variable: then it is data.
        ns["c"] = constant
        groups = SharingIndex().components({n: reach([v]) for n, v in ns.items()}, ns)
        assert sorted(groups) == [["a", "b", "c"]]
    finally:
        del sys.modules[library.__name__]


@pytest.fixture
def lazy_module() -> Iterator[types.ModuleType]:
    spec = importlib.util.find_spec("json.tool")
    assert spec is not None and spec.loader is not None
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    previous = sys.modules.pop("json.tool", None)
    sys.modules["json.tool"] = module
    loader.exec_module(module)
    try:
        yield module
    finally:
        sys.modules.pop("json.tool", None)
        if previous is not None:
            sys.modules["json.tool"] = previous


def test_finding_library_constants_does_not_load_a_lazy_module(
    lazy_module: types.ModuleType,
) -> None:
    shared = [1]
    ns: dict[str, Any] = {"a": [shared], "b": [shared]}
    SharingIndex().components({n: reach([v]) for n, v in ns.items()}, ns)
    assert type(lazy_module) is not types.ModuleType  # still lazy: never imported
