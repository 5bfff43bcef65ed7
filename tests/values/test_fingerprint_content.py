"""Fingerprints are defined on content: a change changes them, and nothing else does
(object sharing, array layout, caches a read fills, pickling an instance)."""

from __future__ import annotations

import abc
import builtins
import copy
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mirrorneuron_nb.values.fingerprint import fingerprint


def notebook(code: str) -> dict[str, Any]:
    """Run `code` as a notebook cell: what it defines is notebook code (`__main__`)."""
    ns: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    exec(code, ns)
    return ns


# -- a change changes the fingerprint ----------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: np.zeros((1000, 600)),
        lambda: np.asfortranarray(np.zeros((1000, 600))),
        lambda: np.zeros((1000, 600))[::2, 5:500],  # a strided view
        lambda: np.zeros((3, 2_000_000))[:, ::2],  # a row larger than a hashing chunk
        lambda: np.zeros(10)[::3],
    ],
    ids=["c-order", "f-order", "view", "wide-rows", "small-view"],
)
def test_one_element_changed_in_place_changes_the_fingerprint(make: Any) -> None:
    value = make()
    last = (-1,) * value.ndim
    before = fingerprint(value)
    value[last] = 1.0
    assert fingerprint(value) != before
    value[last] = 0.0
    assert fingerprint(value) == before


def test_same_content_any_layout_same_fingerprint() -> None:
    base = np.arange(600_000.0).reshape(1000, 600)
    view = base[::2, 10:400]
    assert fingerprint(view) == fingerprint(view.copy()) == fingerprint(np.asfortranarray(view))
    assert fingerprint(base[:, 0]) == fingerprint(base[:, 0].copy())
    # Same bytes, different meaning: dtype and shape count.
    assert fingerprint(base) != fingerprint(base.reshape(600, 1000))
    assert fingerprint(base) != fingerprint(base.view(np.int64))


def test_structured_and_object_arrays_follow_their_content() -> None:
    rec = np.zeros(100_000, dtype=[("id", "<i8"), ("score", "<f4")])
    before = fingerprint(rec)
    rec["score"][7] = 2.5
    assert fingerprint(rec) != before
    objs = np.array([{"a": 1}, [1, 2], None], dtype=object)
    before = fingerprint(objs)
    objs[0]["a"] = 2
    assert fingerprint(objs) != before


def test_a_change_deep_in_a_nested_dict_changes_the_fingerprint() -> None:
    value = {"a": {"b": [1, {"c": 2, "d": {"e", "f"}}]}, "z": (1, 2)}
    before = fingerprint(value)
    value["a"]["b"][1]["c"] = 3  # type: ignore[index]
    after = fingerprint(value)
    assert after != before
    value["a"]["b"][1]["d"].add("g")  # type: ignore[index]
    assert fingerprint(value) != after


def test_the_same_array_twice_changes_when_it_changes() -> None:
    a = np.zeros(100_000)
    shared = {"x": a, "y": a}
    assert fingerprint(shared) == fingerprint({"x": a, "y": a.copy()})
    before = fingerprint(shared)
    a[5] = 1.0
    assert fingerprint(shared) != before


def test_sharing_does_not_count() -> None:
    d = {"k": [1, 2, 3]}
    assert fingerprint([d, d]) == fingerprint([d, copy.deepcopy(d)])
    s = frozenset({"a", "b"})
    assert fingerprint({"x": s, "y": s}) == fingerprint({"x": s, "y": frozenset({"b", "a"})})


def test_sets_of_anything_have_one_fingerprint_per_content() -> None:
    assert fingerprint({frozenset({"a", "b"}), frozenset()}) == fingerprint(
        {frozenset(), frozenset({"b", "a"})}
    )
    assert fingerprint({1, "a", None, 2.5}) == fingerprint({None, 2.5, "a", 1})
    assert fingerprint({1, 2}) != fingerprint({1, 3})
    assert fingerprint({float("nan"), 1.0}) == fingerprint({1.0, float("nan")})


def test_a_cyclic_value_has_a_fingerprint_that_follows_its_content() -> None:
    value: list[Any] = [1, {"k": "v"}]
    value.append(value)
    first = fingerprint(value)
    assert not first.startswith("unhashable:")
    assert fingerprint(value) == first
    value[1]["k"] = "w"
    assert fingerprint(value) != first


# -- notebook classes: their code and attributes, not process state ---------------------------

POINT = """
class Point:
    scale = 2
    def __init__(self, x):
        self.x = x
    def scaled(self):
        return self.x * {factor}
"""


def test_a_class_fingerprints_by_its_code_and_attributes() -> None:
    one, same, other = (notebook(POINT.format(factor=f)) for f in ("self.scale", "self.scale", 3))
    assert one["Point"] is not same["Point"]
    assert fingerprint(one["Point"]) == fingerprint(same["Point"])
    assert fingerprint(one["Point"](1)) == fingerprint(same["Point"](1))
    assert fingerprint(one["Point"]) != fingerprint(other["Point"])
    assert fingerprint(one["Point"](1)) != fingerprint(other["Point"](1))
    before = fingerprint(one["Point"])
    one["Point"].scale = 3
    assert fingerprint(one["Point"]) != before


def test_pickling_an_instance_or_isinstance_does_not_change_a_class_fingerprint() -> None:
    ns = notebook(
        "import abc\n"
        "class Shape(abc.ABC):\n"
        "    __slots__ = ('side',)\n"
        "    @abc.abstractmethod\n"
        "    def area(self): ...\n"
        "class Square(Shape):\n"
        "    __slots__ = ()\n"
        "    def area(self):\n"
        "        return self.side ** 2\n"
    )
    shape_fp, square_fp = fingerprint(ns["Shape"]), fingerprint(ns["Square"])
    square = ns["Square"]()
    square.side = 2
    copy.copy(square)  # copyreg adds Square.__slotnames__
    assert "__slotnames__" in vars(ns["Square"])
    assert isinstance(square, ns["Shape"]) and not isinstance(1, ns["Shape"])  # ABC caches
    assert fingerprint(ns["Shape"]) == shape_fp and fingerprint(ns["Square"]) == square_fp
    assert isinstance(ns["Shape"], abc.ABCMeta)


def test_dataclass_pydantic_and_enum_changes_are_seen() -> None:
    def defined(default: int) -> dict[str, Any]:
        return notebook(
            "import dataclasses, enum\n"
            "from pydantic import BaseModel\n"
            "@dataclasses.dataclass\n"
            f"class D:\n    x: int = {default}\n"
            f"class M(BaseModel):\n    x: int = {default}\n"
            f"class E(enum.Enum):\n    A = {default}\n"
        )

    one, same, other = defined(1), defined(1), defined(2)
    for name in ("D", "M", "E"):
        assert fingerprint(one[name]) == fingerprint(same[name]), name
        assert fingerprint(one[name]) != fingerprint(other[name]), name
    assert fingerprint(one["M"]()) == fingerprint(same["M"]())
    assert fingerprint(one["M"]()) != fingerprint(one["M"](x=5))
    assert fingerprint(one["E"].A) != fingerprint(other["E"].A)
    d = one["D"]()
    before = fingerprint(d)
    d.x = 7
    assert fingerprint(d) != before


# -- pandas --------------------------------------------------------------------------------------


def _frame() -> pd.DataFrame:
    n = 300
    return pd.DataFrame(
        {
            "cat": pd.Categorical(["x", "y", "z"] * (n // 3)),
            "when": pd.date_range("2024-01-01", periods=n, freq="h", tz="Europe/Paris"),
            "nint": pd.array([1, None, 3] * (n // 3), dtype="Int64"),
            "f": np.arange(n, dtype=float),
        }
    ).set_index(["cat", "when"], drop=False)


@pytest.mark.parametrize(
    "change",
    [
        lambda df: df.__setitem__("nint", df["nint"].where(df["f"] != 4, None)),
        lambda df: df.__setitem__("cat", df["cat"].cat.rename_categories(["x", "y", "w"])),
        lambda df: df.__setitem__("when", df["when"].dt.tz_convert("UTC")),
        lambda df: setattr(df, "index", df.index.set_levels(["a", "b", "c"], level=0)),
    ],
    ids=["nullable", "categorical", "tz", "multiindex"],
)
def test_dataframe_changes_are_seen(change: Any) -> None:
    df = _frame()
    before = fingerprint(df)
    change(df)
    assert fingerprint(df) != before


def test_reading_a_dataframe_does_not_change_its_fingerprint() -> None:
    df = _frame()
    before = fingerprint(df)
    _ = df["nint"].array.dtype, df.dtypes, df.index.levels, df["cat"].cat.categories
    _ = df.describe(), df.index.is_monotonic_increasing
    _ = df.groupby(level="cat", observed=True).size()
    assert fingerprint(df) == before
    assert fingerprint(df) == fingerprint(_frame())


def test_a_method_closure_counts_its_constants_not_the_state_it_captures() -> None:
    ns = notebook(
        "def make(n, log):\n"
        "    class Scaled:\n"
        "        def f(self, x):\n"
        "            log.append(x)\n"
        "            return x * n\n"
        "    return Scaled\n"
    )
    log: list[int] = []
    two, also_two, three = ns["make"](2, log), ns["make"](2, []), ns["make"](3, log)
    fp = fingerprint(two)
    assert fp == fingerprint(also_two)
    assert fp != fingerprint(three)
    two().f(1)  # the method records a call: still the same class
    assert fingerprint(two) == fp


@pytest.mark.parametrize(
    "make",
    [
        lambda: np.arange(1_000_000.0),
        lambda: np.asfortranarray(np.arange(1_000_000.0).reshape(1000, 1000)),
        lambda: np.arange(2_000_000.0)[::2],
        lambda: {"a": np.arange(100_000.0), "b": np.arange(100_000.0)[10:], "c": [1, 2]},
        lambda: pd.DataFrame({"x": np.arange(50_000.0), "y": np.arange(50_000)}),
    ],
    ids=["c-order", "f-order", "strided", "dict-of-arrays", "dataframe"],
)
def test_blob_keys_reused_from_the_fingerprint_are_the_digests_of_the_bytes(make: Any) -> None:
    # The fingerprint pass hands its array digests to the snapshot as blob keys: they
    # must be exactly what hashing each buffer gives.
    from mirrorneuron_nb.values.digest import digest
    from mirrorneuron_nb.values.serializers import snapshot

    snap = snapshot(make())
    assert snap.buffers
    assert snap.buffer_keys == [digest(b) for b in snap.buffers]
    assert snap.fingerprint == fingerprint(make())
