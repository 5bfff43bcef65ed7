"""Notebook code travels by value (cloudpickle) with the notebook's semantics: a restored
function runs in the live namespace, a live class is never reset by a restore, and what
plain pickle refuses (open files) stays refused."""

from __future__ import annotations

import builtins
import io
import pickle
from pathlib import Path
from typing import Any

import pytest

from mirrorneuron_nb.errors import NotCheckpointable
from mirrorneuron_nb.values.serializers import Snapshot, restore, snapshot


def notebook(code: str) -> dict[str, Any]:
    ns: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    exec(code, ns)
    return ns


def load(snap: Snapshot, namespace: dict[str, Any]) -> Any:
    return restore(
        "value",
        snap.serializer,
        snap.stream,
        [bytearray(b) for b in snap.buffers],
        namespace,
    )


def test_a_restored_function_runs_in_the_live_namespace_and_writes_nothing_there() -> None:
    made = notebook(
        "import math\n"
        "k = 10\n"
        "def helper():\n    return 1\n"
        "def f(x):\n    return math.floor(x) + k + helper()\n"
    )
    snap = snapshot({"fn": made["f"]})
    live: dict[str, Any] = {"k": 1000, "helper": lambda: 0, "math": __import__("math")}
    before = dict(live)
    back = load(snap, live)["fn"]
    assert back.__globals__ is live
    assert live == before  # no captured global (k=10, helper, __builtins__) written
    assert back(1.5) == 1001
    live["k"] = 5  # looked up at call time, like any notebook global
    assert back(1.5) == 6


def test_loading_an_instance_in_its_own_kernel_keeps_the_live_class() -> None:
    ns = notebook(
        "class Counter:\n"
        "    count = 0\n"
        "    def bump(self):\n"
        "        type(self).count += 1\n"
        "        return self\n"
    )
    counter_cls = ns["Counter"]
    snap = snapshot(counter_cls().bump())
    counter_cls().bump()  # the class variable moves on after the checkpoint
    back = load(snap, ns)
    # The checkpoint's instance belongs to the live class, which it does not reset.
    assert type(back) is counter_cls
    assert counter_cls.count == 2
    assert isinstance(load(snapshot(counter_cls), ns), type)
    assert counter_cls.count == 2


def test_an_open_file_is_not_checkpointed_even_for_reading(tmp_path: Path) -> None:
    (tmp_path / "data.txt").write_text("content")
    with open(tmp_path / "data.txt") as fh, pytest.raises(NotCheckpointable) as info:
        snapshot({"fh": fh})  # cloudpickle alone would save the file's content
    assert "cannot pickle '_io.TextIOWrapper' object" in str(info.value)


class _OldSetPickler(pickle.Pickler):
    """How earlier versions wrote sets: persistent ids, in sorted order."""

    def persistent_id(self, obj: Any) -> Any:
        if type(obj) is set:
            return ("set", 0, sorted(obj))
        return None


def test_a_checkpoint_written_by_an_earlier_version_still_loads() -> None:
    out = io.BytesIO()
    _OldSetPickler(out, protocol=5).dump({"tags": {"b", "a"}, "n": 1})
    stream = out.getvalue()
    back = restore("old", "pickle", stream, [], {})
    assert back == {"tags": {"a", "b"}, "n": 1}
