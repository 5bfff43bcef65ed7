"""Group streams (values/groups.py): values pickled together come back sharing what they
shared, views of a member array come back as views of its memory, a value that cannot be
saved is named and leaves the others saved, and the member names are signed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mirrorneuron_nb.errors import CheckpointUnavailable, UntrustedCheckpoint
from mirrorneuron_nb.store.blobs import BlobStore
from mirrorneuron_nb.values import codec, groups, pickler
from mirrorneuron_nb.values.canonical import Traits, content_digest
from mirrorneuron_nb.values.signing import Binding


def _round_trip(values: dict[str, Any]) -> dict[str, Any]:
    dumped = groups.dump(values)
    return groups.load(dumped.stream, [bytearray(b) for b in dumped.buffers], {})


def test_objects_two_members_hold_come_back_as_one_object() -> None:
    row = [0, 0]
    back = _round_trip({"row": row, "grid": [row, row], "holder": {"r": row}})
    assert back["grid"][0] is back["row"] and back["grid"][1] is back["row"]
    assert back["holder"]["r"] is back["row"]


@pytest.mark.parametrize("size", [10, 200_000])  # in the stream, and a buffer apart
def test_a_view_of_a_member_array_views_its_memory(size: int) -> None:
    base = np.arange(float(size))
    back = _round_trip({"base": base, "view": base[2:8], "strided": base[::-3]})
    assert np.shares_memory(back["view"], back["base"])
    assert np.shares_memory(back["strided"], back["base"])
    assert back["strided"].tolist() == base[::-3].tolist()
    back["view"][0] = -1.0
    assert back["base"][2] == -1.0


def test_a_view_of_a_restored_array_is_saved_as_a_view_again() -> None:
    first = _round_trip({"base": np.arange(200_000.0).reshape(400, 500)})
    again = _round_trip({"base": first["base"], "rows": first["base"][10:20]})
    assert np.shares_memory(again["rows"], again["base"])


def test_a_small_slice_of_an_array_nobody_saves_is_a_small_copy() -> None:
    big = np.arange(1_000_000.0)
    dumped = groups.dump({"head": big[:4]})
    assert len(dumped.stream) + sum(b.nbytes for b in dumped.buffers) < 10_000


def test_a_value_that_does_not_pickle_is_named_and_the_others_still_share(
    tmp_path: Path,
) -> None:
    with open(tmp_path / "f.txt", "w") as handle:
        base = [1]
        values = {"handle": handle, "base": base, "alias": {"b": base}}
        dumps, failed = groups.dump_saveable(values, codec.too_large)
    assert list(failed) == ["handle"] and "TextIOWrapper" in failed["handle"]
    assert len(dumps) == 1
    back = groups.load(dumps[0].stream, [], {})
    assert back["alias"]["b"] is back["base"]


def test_a_member_over_the_size_limit_is_named_and_the_others_are_saved(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MIRRORNEURON_MAX_VALUE_BYTES", "100000")
    values = {"big": np.zeros(50_000), "small": [1, 2, 3]}
    dumps, failed = groups.dump_saveable(values, codec.too_large)
    assert list(failed) == ["big"] and "over the size limit" in failed["big"]
    assert [list(d.sizes) for d in dumps] == [["small"]]


def test_values_that_fail_only_together_are_saved_apart() -> None:
    class Picky(dict[str, Any]):
        def __getattr__(self, key: str) -> Any:  # like sklearn's Bunch: every name exists
            return self[key]

    base = np.arange(10.0)
    values = {"base": base, "bunch": Picky(data=base)}

    original = groups._GroupPickler.reducer_override

    def broken(self: Any, obj: Any) -> Any:
        if isinstance(obj, Picky) and self._roots:
            raise TypeError("only in company")
        return original(self, obj)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(groups._GroupPickler, "reducer_override", broken)
        dumps, failed = groups.dump_saveable(values, codec.too_large)
    assert failed == {}
    assert sorted(name for d in dumps for name in d.sizes) == ["base", "bunch"]


def test_a_row_cannot_rename_what_a_group_holds(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    dumped = groups.dump({"a": [1], "b": [2]})
    members = [codec.Member("a", "list", "fa"), codec.Member("b", "list", "fb")]
    rows, _ = codec.save_group(blobs, dumped, members, [], Binding("sidecar", "step", ""))
    assert codec.load(blobs, rows[1], {}, Binding("sidecar", "step", "b")) == [2]
    tampered = dumped.stream.replace(b'"b"', b'"c"')
    forged = rows[1].model_copy(update={"header": tampered})
    with pytest.raises(UntrustedCheckpoint):
        codec.load(blobs, forged, {}, Binding("sidecar", "step", "b"))
    # Row b under a's name: its signature is for b.
    with pytest.raises(UntrustedCheckpoint):
        codec.load(
            blobs, rows[1].model_copy(update={"name": "a"}), {}, Binding("sidecar", "step", "a")
        )


def test_a_leaf_tensor_keeps_its_gradient() -> None:
    torch = pytest.importorskip("torch")
    weight = torch.tensor([1.0, 2.0], requires_grad=True)
    (weight**2).sum().backward()
    layer = torch.nn.Linear(2, 1)
    layer(torch.ones(3, 2)).sum().backward()
    back = pickler.loads(pickler.dumps((weight, layer)), [], {})
    assert back[0].requires_grad and back[0].grad.tolist() == [2.0, 4.0]
    assert isinstance(back[1].weight, torch.nn.Parameter)
    assert back[1].weight.grad.tolist() == [[3.0, 3.0]]


def test_a_library_wrapper_of_a_notebook_method_keeps_its_own_globals() -> None:
    """functools.wraps gives a library's wrapper the notebook method's __module__."""
    import functools

    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(
        "def method(self):\n    return 41\n",
        namespace,
    )
    code = (
        "def wrap(fn):\n"
        "    @functools.wraps(fn)\n"
        "    def wrapped(*args):\n"
        "        return fn(*args) + ADD\n"
        "    return wrapped\n"
    )
    scope: dict[str, Any] = {"__name__": "somelib.wrappers", "ADD": 1, "functools": functools}
    exec(code, scope)
    wrapped = scope["wrap"](namespace["method"])
    assert wrapped.__module__ == "__main__"
    back = pickler.loads(pickler.dumps(wrapped), [], {"__name__": "__main__"})
    assert back(None) == 42


def test_a_class_saved_as_a_value_comes_back_with_the_attributes_it_was_saved_with() -> None:
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec("class Account:\n    bank = 'b1'\n", namespace)
    account_class = namespace["Account"]
    as_value, in_instance = pickler.dumps(account_class), pickler.dumps(account_class())
    account_class.bank = "b2"
    # Reached through an instance, the live class keeps what the notebook set since.
    assert type(pickler.loads(in_instance, [], namespace)) is account_class
    assert account_class.bank == "b2"
    # Restored as a variable's value, it is the class as saved (still the same object).
    assert pickler.loads(as_value, [], namespace) is account_class
    assert account_class.bank == "b1"


# -- plain values: marshal (issue 13) ----------------------------------------------------------


def _plain(value: Any) -> tuple[str | None, bool]:
    traits = Traits()
    return content_digest(value, None, traits), traits.plain


PLAIN = [
    [{"id": i, "name": f"n{i}", "v": i * 0.5, "ok": i % 2 == 0, "none": None} for i in range(50)],
    {"a": (1, "x", b"raw", [2.5, -0.0, float("nan")]), "big": 10**40, "s": "\udcff"},
    ((1, 2), [], {}),
]
NOT_PLAIN = [
    [{1, 2}],
    [frozenset({1})],
    [bytearray(b"x")],
    [np.float64(1.0)],
    [1j],
    [np.arange(3)],
    {"k": type("Sub", (list,), {})()},
    [str],
    [len],
]


@pytest.mark.parametrize("value", PLAIN)
def test_a_plain_value_is_marshalled_and_keeps_its_fingerprint(value: Any) -> None:
    fp, plain = _plain(value)
    assert plain
    dumped = groups.dump({"v": value}, plain={"v"})
    assert groups.layout(dumped.stream)[2] == groups.MARSHAL
    back = groups.load(dumped.stream, [], {})["v"]
    assert repr(back) == repr(value) and type(back) is type(value)
    assert _plain(back) == (fp, True)  # guarantee 7: the fingerprint survives the trip


@pytest.mark.parametrize("value", NOT_PLAIN, ids=repr)
def test_anything_but_exact_builtin_containers_and_atoms_is_not_plain(value: Any) -> None:
    assert _plain(value)[1] is False


def test_a_marshalled_value_keeps_what_it_holds_twice() -> None:
    row = {"x": [1]}
    value = [row, row, row["x"], [row["x"]]]
    back = groups.load(groups.dump({"v": value}, plain={"v"}).stream, [], {})["v"]
    assert back[0] is back[1] and back[2] is back[0]["x"] and back[3][0] is back[2]


def test_plain_only_for_a_group_of_one_and_what_marshal_refuses_is_pickled() -> None:
    cyclic: list[Any] = [1]
    cyclic.append(cyclic)
    assert _plain(cyclic)[1] is False
    deep: list[Any] = []
    for _ in range(2_500):  # beyond marshal's nesting limit (2000), within pickle's here
        deep = [deep]
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)
    try:
        dumped = groups.dump({"deep": deep}, plain={"deep"})
    finally:
        sys.setrecursionlimit(limit)
    assert groups.layout(dumped.stream)[2] is None
    two = groups.dump({"a": [1], "b": [2]}, plain={"a", "b"})
    assert groups.layout(two.stream)[2] is None
    assert groups.load(two.stream, [], {}) == {"a": [1], "b": [2]}


def test_a_group_of_unknown_form_is_refused() -> None:
    stream = groups.dump({"v": [1]}, plain={"v"}).stream.replace(b"marshal", b"marshax")
    with pytest.raises(CheckpointUnavailable, match="form"):
        groups.load(stream, [], {})
