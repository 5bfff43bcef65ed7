"""snapshot: serializer registry, numpy/pandas fast paths, fingerprints, notebook-defined
code by value, unpicklable values, signature checks; persist: blobs round trip."""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import socket
import subprocess
import sys
import threading
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from cloudpickle import cloudpickle as cloudpickle_module

from mirrorneuron_nb.errors import CheckpointUnavailable, NotCheckpointable, UntrustedCheckpoint
from mirrorneuron_nb.models import VarEntry
from mirrorneuron_nb.store.blobs import BlobStore
from mirrorneuron_nb.values import codec
from mirrorneuron_nb.values import serializers as snapshot_mod
from mirrorneuron_nb.values.fingerprint import fingerprint
from mirrorneuron_nb.values.serializers import (
    INLINE_BUFFER_BYTES,
    Snapshot,
    register,
    restore,
    serializer_for,
    snapshot,
)
from mirrorneuron_nb.values.signing import Binding, stream_hash, value_signature

# -- helpers -----------------------------------------------------------------------------------


def roundtrip(value: Any, namespace: dict[str, Any] | None = None) -> Any:
    snap = snapshot(value)
    return load_snap(snap, namespace)


def load_snap(snap: Snapshot, namespace: dict[str, Any] | None = None) -> Any:
    return restore(
        "value",
        snap.serializer,
        snap.stream,
        [bytearray(b) for b in snap.buffers],
        {} if namespace is None else namespace,
    )


def place(name: str) -> Binding:
    """Where the unit tests' values are signed for."""
    return Binding("sidecar-id", "step", name)


def signed_row(snap: Snapshot, name: str, signature: str | None, keys: list[str]) -> VarEntry:
    """An inline row for `snap` carrying `signature` (not necessarily a valid one)."""
    return VarEntry(
        name=name,
        type_name="t",
        serializer=snap.serializer,
        size=len(snap.stream),
        header=snap.stream,
        buffers=[(k, 0) for k in keys],
        signature=signature,
        stream_hash=stream_hash(snap.stream),
    )


def sign_snap(snap: Snapshot, name: str) -> str:
    return value_signature(place(name), snap.serializer, stream_hash(snap.stream), snap.buffer_keys)


@pytest.fixture
def fake_main() -> Iterator[types.ModuleType]:
    """A stand-in for the kernel's `__main__`, as IPython installs one for user_ns."""
    saved = sys.modules["__main__"]
    module = types.ModuleType("__main__")
    sys.modules["__main__"] = module
    try:
        yield module
    finally:
        sys.modules["__main__"] = saved


def new_kernel_main() -> types.ModuleType:
    """Simulate a restarted kernel: a fresh, empty `__main__`, and none of the notebook
    classes the old kernel had (cloudpickle's class tracker would return them)."""
    module = types.ModuleType("__main__")
    sys.modules["__main__"] = module
    cloudpickle_module._DYNAMIC_CLASS_TRACKER_BY_ID.clear()
    cloudpickle_module._DYNAMIC_CLASS_TRACKER_BY_CLASS.clear()
    return module


# -- registry ----------------------------------------------------------------------------------


class Base:
    def __init__(self, value: int) -> None:
        self.value = value


class Derived(Base):
    pass


class JsonSerializer:
    name = "test-json"

    def dump(self, value: Any) -> tuple[bytes, list[memoryview]]:
        return json.dumps({"cls": type(value).__name__, "value": value.value}).encode(), []

    def load(self, stream: bytes, buffers: list[Any], namespace: dict[str, Any]) -> Any:
        data = json.loads(stream)
        return {"Base": Base, "Derived": Derived}[data["cls"]](data["value"])


def test_registry_lookup_follows_the_mro(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapshot_mod, "_BY_TYPE", dict(snapshot_mod._BY_TYPE))
    monkeypatch.setattr(snapshot_mod, "_BY_NAME", dict(snapshot_mod._BY_NAME))
    assert serializer_for(Derived(1)).name == "pickle"
    register(f"{Base.__module__}.{Base.__qualname__}", JsonSerializer())

    assert serializer_for(Derived(1)).name == "test-json"
    snap = snapshot(Derived(7))
    assert snap.serializer == "test-json"
    assert json.loads(snap.stream) == {"cls": "Derived", "value": 7}
    back = load_snap(snap)
    assert type(back) is Derived and back.value == 7
    # Unrelated types keep the default.
    assert serializer_for([1]).name == "pickle"


# -- numpy -------------------------------------------------------------------------------------

BIG = 200_000  # elements: well over the inline threshold for any dtype below


def _arrays(n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    base = rng.standard_normal(n)
    side = int(np.sqrt(n))
    structured = np.zeros(n // 4, dtype=[("id", "<i8"), ("score", "<f4"), ("tag", "S4")])
    structured["id"] = np.arange(n // 4)
    structured["score"] = rng.standard_normal(n // 4)
    structured["tag"] = b"ab"
    return {
        "c_order": base[: side * side].reshape(side, side),
        "f_order": np.asfortranarray(base[: side * side].reshape(side, side)),
        "strided_slice": base[::3],
        "column_slice": base[: side * side].reshape(side, side)[:, 1:5],
        "structured": structured,
        "int8": np.arange(n, dtype=np.int8),
        "big_endian": np.arange(n, dtype=">f8"),
        # Regression: memoryview cannot describe datetime64/timedelta64, so large ones
        # were reported as not checkpointable.
        "datetime64": np.arange(n).astype("datetime64[s]"),
        "timedelta64_f": np.asfortranarray(
            np.arange(side * side).astype("timedelta64[ms]").reshape(side, side)
        ),
    }


@pytest.mark.parametrize("kind", list(_arrays(400)))
@pytest.mark.parametrize("size", [400, BIG], ids=["small", "large"])
def test_numpy_round_trip(kind: str, size: int) -> None:
    value = _arrays(size)[kind]
    back = roundtrip(value)
    assert type(back) is np.ndarray
    assert back.dtype == value.dtype
    assert back.shape == value.shape
    np.testing.assert_array_equal(back, value)
    if value.flags.f_contiguous and not value.flags.c_contiguous:
        assert back.flags.f_contiguous


@pytest.mark.parametrize(
    "value",
    [np.array(3.5), np.array(7, dtype=np.int16), np.empty((0,)), np.empty((0, 5), dtype="<f4")],
    ids=["0d-float", "0d-int16", "empty", "empty-2d"],
)
def test_numpy_degenerate_shapes_round_trip(value: np.ndarray) -> None:
    back = roundtrip(value)
    assert back.shape == value.shape and back.dtype == value.dtype
    np.testing.assert_array_equal(back, value)


def test_large_arrays_go_out_of_band_small_ones_stay_inline() -> None:
    small = np.arange(100, dtype=np.float64)
    large = np.arange(1_000_000, dtype=np.float64)
    assert snapshot(small).buffers == []
    big = snapshot(large)
    assert len(big.buffers) == 1
    assert big.buffers[0].nbytes == large.nbytes
    assert len(big.stream) < 1024  # the data is not in the stream
    assert large.nbytes >= INLINE_BUFFER_BYTES > small.nbytes


def test_large_noncontiguous_array_round_trips_out_of_band() -> None:
    base = np.arange(600_000, dtype=np.float64).reshape(1000, 600)
    value = base[::2, 10:400]
    snap = snapshot(value)
    assert snap.buffers
    np.testing.assert_array_equal(load_snap(snap), value)


# -- pandas ------------------------------------------------------------------------------------


def test_dataframe_round_trips_with_out_of_band_buffers() -> None:
    n = 20_000
    df = pd.DataFrame(
        {
            "a": np.arange(n, dtype=np.float64),
            "b": np.arange(n, dtype=np.int64) * 3,
            "s": pd.Categorical(["x", "y"] * (n // 2)),
        },
        index=pd.RangeIndex(n, name="row"),
    )
    snap = snapshot(df)
    assert snap.buffers, "the float/int blocks should be zero-copy buffers"
    back = load_snap(snap)
    pd.testing.assert_frame_equal(back, df)


def test_series_round_trips_with_out_of_band_buffers() -> None:
    s = pd.Series(np.linspace(0, 1, 50_000), name="ramp")
    snap = snapshot(s)
    assert snap.buffers
    pd.testing.assert_series_equal(load_snap(snap), s)


def test_small_dataframe_stays_inline_and_round_trips() -> None:
    df = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    snap = snapshot(df)
    assert snap.buffers == []
    pd.testing.assert_frame_equal(load_snap(snap), df)


# -- fingerprints ------------------------------------------------------------------------------


def test_fingerprint_is_stable_for_equal_content() -> None:
    assert fingerprint([1, 2, {"a": 3}]) == fingerprint([1, 2, {"a": 3}])
    assert fingerprint(np.arange(10)) == fingerprint(np.arange(10))
    big = np.arange(500_000)
    assert fingerprint(big) == fingerprint(big.copy())
    assert fingerprint("abc") == fingerprint("ab" + "c")
    assert fingerprint(1) != fingerprint(1.0)
    assert fingerprint([1, 2]) != fingerprint((1, 2))


FINGERPRINT_IN_CHILD = """
import sys
from mirrorneuron_nb.values.fingerprint import fingerprint
values = [
    {"apple", "banana", "cherry", "date", "elder"},
    {"k": frozenset({("a", 1), ("b", 2), ("c", 3)}), "n": [1.5, None]},
    {b"x", b"y", b"z", b"w"},
]
print(" ".join(fingerprint(v) for v in values))
"""


def test_fingerprint_of_string_sets_is_stable_across_processes(tmp_path: Path) -> None:
    # Regression: set order follows str hashes, which are salted per process, so a step
    # reading a set of strings missed its cache after every kernel restart.
    outputs = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", FINGERPRINT_IN_CHILD],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            cwd=tmp_path,
        )
        outputs.add(done.stdout.strip())
    assert len(outputs) == 1


def test_sets_round_trip_and_keep_shared_identity() -> None:
    shared = {"b", "a", "c"}
    frozen = frozenset({("x", 1), ("y", 2)})
    value = {"one": shared, "two": shared, "f": frozen, "mixed": {1, "a", None}, "nested": [frozen]}
    back = roundtrip(value)
    assert back == value
    assert back["one"] is back["two"]
    assert back["f"] is back["nested"][0]
    assert type(back["f"]) is frozenset and type(back["one"]) is set
    back["one"].add("d")
    assert "d" in back["two"]


class Tags(set):  # type: ignore[type-arg]
    pass


def test_set_subclasses_and_unorderable_sets_still_round_trip() -> None:
    value = [Tags({"a", "b"}), {1, "x", (None, 2.5)}, {Base(1)}]
    back = roundtrip(value)
    assert type(back[0]) is Tags and back[0] == {"a", "b"}
    assert back[1] == {1, "x", (None, 2.5)}
    assert [b.value for b in back[2]] == [1]


def test_fingerprint_changes_on_list_append() -> None:
    value = [1, 2, 3]
    before = fingerprint(value)
    value.append(4)
    assert fingerprint(value) != before


@pytest.mark.parametrize("n", [10, 500_000], ids=["small", "large"])
def test_fingerprint_changes_on_array_element_change(n: int) -> None:
    value = np.zeros(n)
    before = fingerprint(value)
    value[n // 2] = 1.0
    assert fingerprint(value) != before


def test_fingerprint_changes_on_dict_key_set() -> None:
    value: dict[str, Any] = {"a": 1}
    before = fingerprint(value)
    value["b"] = 2
    after = fingerprint(value)
    assert after != before
    value["b"] = 3
    assert fingerprint(value) != after


def test_fingerprint_changes_on_dataframe_cell_change() -> None:
    df = pd.DataFrame({"a": np.arange(20_000.0)})
    before = fingerprint(df)
    df.loc[5, "a"] = -1.0
    assert fingerprint(df) != before


def test_function_fingerprint_depends_on_code_not_identity() -> None:
    src_a = "def f(x):\n    return x + 1\n"
    src_b = "def f(x):\n    return x + 2\n"
    ns1: dict[str, Any] = {}
    ns2: dict[str, Any] = {}
    ns3: dict[str, Any] = {}
    exec(src_a, ns1)
    exec(src_a, ns2)
    exec(src_b, ns3)
    assert ns1["f"] is not ns2["f"]
    assert fingerprint(ns1["f"]) == fingerprint(ns2["f"])
    assert fingerprint(ns1["f"]) != fingerprint(ns3["f"])


def test_function_fingerprint_follows_closure_values() -> None:
    # Regression: only the code counted, so `f = make(4)` after `f = make(3)` looked
    # unchanged and a step reading f was served from a stale checkpoint.
    ns: dict[str, Any] = {}
    exec(
        "def make(n, table):\n"
        "    def scale(x):\n"
        "        return x * n + table['b']\n"
        "    return scale\n"
        "def make_rec():\n"
        "    def rec(k):\n"
        "        return 0 if k == 0 else rec(k - 1)\n"
        "    return rec\n"
        "def kw(x, *, y=1):\n"
        "    return x + y\n",
        ns,
    )
    make = ns["make"]
    assert fingerprint(make(3, {"b": 1})) == fingerprint(make(3, {"b": 1}))
    assert fingerprint(make(3, {"b": 1})) != fingerprint(make(4, {"b": 1}))
    assert fingerprint(make(3, {"b": 1})) != fingerprint(make(3, {"b": 2}))
    # A function that captures itself does not recurse forever.
    assert fingerprint(ns["make_rec"]()) == fingerprint(ns["make_rec"]())
    before = fingerprint(ns["kw"])
    ns["kw"].__kwdefaults__ = {"y": 2}
    assert fingerprint(ns["kw"]) != before


# -- notebook-defined functions and classes travel by value ------------------------------------


def test_main_function_restores_against_the_new_namespace(fake_main: types.ModuleType) -> None:
    exec("k = 10\ndef f(x):\n    return x + k\n", fake_main.__dict__)
    snap = snapshot(fake_main.f)
    assert fake_main.f(1) == 11

    new_kernel_main()
    namespace = {"k": 1000}
    g = load_snap(snap, namespace)
    assert g(1) == 1001
    namespace["k"] = 5  # looked up at call time, like any notebook global
    assert g(1) == 6


def test_main_function_keeps_defaults_and_closures(fake_main: types.ModuleType) -> None:
    exec(
        "def make(n):\n"
        "    def add(x, y=2, *, z=3):\n"
        "        return x + y + z + n\n"
        "    return add\n"
        "adder = make(100)\n",
        fake_main.__dict__,
    )
    snap = snapshot(fake_main.adder)
    new_kernel_main()
    back = load_snap(snap, {})
    assert back(1) == 106
    assert back(1, 0, z=0) == 101


CLASS_SRC = (
    "class Point:\n"
    "    def __init__(self, x):\n"
    "        self.x = x\n"
    "    def scaled(self):\n"
    "        return self.x * scale\n"
    "    def __repr__(self):\n"
    "        return f'Point({self.x})'\n"
)


def test_main_class_round_trips_into_a_new_kernel(fake_main: types.ModuleType) -> None:
    # Regression: methods were pickled by reference (`__main__.Point.__init__`), so a
    # class restored in a fresh kernel failed with "Can't get attribute".
    exec(CLASS_SRC + "scale = 2\n", fake_main.__dict__)
    snap = snapshot(fake_main.Point)

    main = new_kernel_main()
    main.scale = 3
    point_cls = load_snap(snap, main.__dict__)
    assert isinstance(point_cls, type) and point_cls.__name__ == "Point"
    p = point_cls(5)
    assert p.scaled() == 15
    assert repr(p) == "Point(5)"


def test_main_subclass_using_super_round_trips(fake_main: types.ModuleType) -> None:
    exec(
        CLASS_SRC + "class Point3(Point):\n"
        "    def __init__(self, x, z):\n"
        "        super().__init__(x)\n"
        "        self.z = z\n",
        fake_main.__dict__,
    )
    base_snap, snap = snapshot(fake_main.Point), snapshot(fake_main.Point3)
    main = new_kernel_main()
    # Resume binds classes first, in name order: the base is there when the subclass loads.
    main.Point = load_snap(base_snap, main.__dict__)
    cls = load_snap(snap, main.__dict__)
    assert cls.__bases__ == (main.Point,)
    q = cls(1, 2)
    assert (q.x, q.z) == (1, 2)


def test_instances_from_two_snapshots_share_one_class(fake_main: types.ModuleType) -> None:
    exec(CLASS_SRC + "a = Point(1)\nb = Point(2)\n", fake_main.__dict__)
    original = fake_main.Point
    # The notebook rebinds `Point` (or the class was never a top-level name): the
    # instances must carry their class by value.
    del fake_main.Point
    snap_a, snap_b = snapshot(fake_main.a), snapshot(fake_main.b)

    main = new_kernel_main()
    main.scale = 10
    a = load_snap(snap_a, main.__dict__)
    b = load_snap(snap_b, main.__dict__)
    assert type(a) is type(b)
    assert type(a) is not original
    assert (a.x, b.x) == (1, 2)
    assert b.scaled() == 20


# -- values that cannot be checkpointed --------------------------------------------------------


class BrokenReduce:
    def __reduce__(self) -> Any:
        raise RuntimeError("refusing to be pickled")


def _gen() -> Iterator[int]:
    yield 1


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda tmp: _gen(), "generator"),
        (lambda tmp: socket.socket(), "socket"),
        (lambda tmp: threading.Lock(), "lock"),
        (lambda tmp: open(tmp / "f.txt", "w"), "TextIOWrapper"),  # noqa: SIM115
        (lambda tmp: {"nested": [1, _gen()]}, "generator"),
        (lambda tmp: BrokenReduce(), "RuntimeError: refusing to be pickled"),
    ],
    ids=["generator", "socket", "lock", "open-file", "nested-generator", "raising-reduce"],
)
def test_unpicklable_values_raise_not_checkpointable(
    make: Any, expected: str, tmp_path: Path
) -> None:
    value = make(tmp_path)
    try:
        with pytest.raises(NotCheckpointable) as info:
            snapshot(value)
        assert expected in str(info.value)
    finally:
        if hasattr(value, "close"):
            value.close()


def test_unpicklable_value_fingerprint_falls_back_to_identity() -> None:
    g = _gen()
    assert fingerprint(g).startswith("unhashable:generator:")


# -- signatures: nothing is unpickled unless signed with this user's key -----------------------


def _touch(path: str) -> str:
    Path(path).write_text("unpickled")
    return "loaded"


class Marker:
    """Unpickling this writes a file: proof that the stream was (or was not) loaded."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> Any:
        return _touch, (self.path,)


def test_restore_runs_the_marker_when_signed(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    assert roundtrip(Marker(marker)) == "loaded"
    assert marker.exists()  # control: the marker really fires on load


@pytest.mark.parametrize("signature", [None, "", "0" * 64], ids=["missing", "empty", "wrong"])
def test_restore_with_bad_signature_never_unpickles(
    tmp_path: Path, blobs: BlobStore, signature: str | None
) -> None:
    marker = tmp_path / "marker"
    snap = snapshot(Marker(marker))
    with pytest.raises(UntrustedCheckpoint) as info:
        codec.load(blobs, signed_row(snap, "m", signature, snap.buffer_keys), {}, place("m"))
    assert info.value.name == "m"
    assert "signed" in info.value.reason
    assert not marker.exists()


def test_restore_signed_by_another_key_never_unpickles(
    tmp_path: Path, blobs: BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "marker"
    snap = snapshot(Marker(marker))
    monkeypatch.setenv("MIRRORNEURON_KEY_FILE", str(tmp_path / "other-user.key"))
    foreign = sign_snap(snap, "m")
    monkeypatch.undo()
    assert foreign != sign_snap(snap, "m")
    with pytest.raises(UntrustedCheckpoint):
        codec.load(blobs, signed_row(snap, "m", foreign, snap.buffer_keys), {}, place("m"))
    assert not marker.exists()


def test_tampered_stream_is_untrusted(tmp_path: Path, blobs: BlobStore) -> None:
    marker = tmp_path / "marker"
    honest = snapshot({"x": 1})
    evil = snapshot(Marker(marker))
    row = signed_row(honest, "x", sign_snap(honest, "x"), honest.buffer_keys)
    with pytest.raises(UntrustedCheckpoint):
        codec.load(blobs, row.model_copy(update={"header": evil.stream}), {}, place("x"))
    assert not marker.exists()


def test_a_stream_signed_with_the_older_blake2b_hash_still_verifies(
    tmp_path: Path, blobs: BlobStore
) -> None:
    """Streams are hashed with SHA-256 now (faster here, issue 13); rows an older version
    signed over a BLAKE2b hash keep loading, and still refuse another stream."""
    honest = snapshot({"x": 1})
    assert stream_hash(honest.stream).startswith("sha256:")
    older = hashlib.blake2b(honest.stream, digest_size=32).hexdigest()
    signature = value_signature(place("x"), honest.serializer, older, honest.buffer_keys)
    row = signed_row(honest, "x", signature, honest.buffer_keys)
    row = row.model_copy(update={"stream_hash": older})
    assert codec.load(blobs, row, {}, place("x")) == {"x": 1}
    marker = tmp_path / "marker"
    evil = snapshot(Marker(marker))
    with pytest.raises(UntrustedCheckpoint):
        codec.load(blobs, row.model_copy(update={"header": evil.stream}), {}, place("x"))
    assert not marker.exists()


def test_swapped_buffer_keys_are_untrusted(blobs: BlobStore) -> None:
    snap = snapshot(np.arange(100_000.0))
    row = signed_row(snap, "a", sign_snap(snap, "a"), ["f" * 32])
    with pytest.raises(UntrustedCheckpoint):
        codec.load(blobs, row, {}, place("a"))


def test_a_value_signed_for_another_place_is_untrusted(tmp_path: Path, blobs: BlobStore) -> None:
    marker = tmp_path / "marker"
    snap = snapshot(Marker(marker))
    row = signed_row(snap, "m", sign_snap(snap, "m"), snap.buffer_keys)
    for elsewhere in [
        Binding("sidecar-id", "step", "other"),
        Binding("sidecar-id", "other-step", "m"),
        Binding("other-sidecar", "step", "m"),
        Binding("sidecar-id", "step", "m", ("call-key", 0)),
    ]:
        with pytest.raises(UntrustedCheckpoint, match="not signed with this user's key for"):
            codec.load(blobs, row, {}, elsewhere)
    assert not marker.exists()


# -- persist: through a real blob store --------------------------------------------------------


@pytest.fixture
def blobs(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs")


def _save_load(blobs: BlobStore, name: str, value: Any) -> tuple[codec.VarEntry, Any]:
    snap = snapshot(value)
    entry, used = codec.save(blobs, place(name), snap, snap.fingerprint)
    for key, size in used:
        assert blobs.exists(key, size)
    return entry, codec.load(blobs, entry, {}, place(name))


def test_persist_small_value_lives_in_the_row(blobs: BlobStore) -> None:
    entry, back = _save_load(blobs, "d", {"a": [1, 2, 3]})
    assert back == {"a": [1, 2, 3]}
    assert entry.header is not None and entry.stream_blob is None and entry.buffers == []
    assert not blobs.root.exists() or blobs.total_size() == 0


def test_persist_large_stream_goes_to_a_blob(blobs: BlobStore) -> None:
    value = {"payload": bytes(range(256)) * 2000}  # ~512 KiB, all in the pickle stream
    entry, back = _save_load(blobs, "payload", value)
    assert entry.stream_blob is not None and entry.header is None
    assert entry.size > codec.INLINE_STREAM_BYTES
    assert back == value


def test_persist_large_buffer_is_memory_mapped_copy_on_write(blobs: BlobStore) -> None:
    value = np.arange(400_000, dtype=np.float64).reshape(800, 500)  # 3.2 MB
    entry, back = _save_load(blobs, "arr", value)
    assert len(entry.buffers) == 1 and entry.buffers[0][1] >= codec.MMAP_MIN_BYTES
    np.testing.assert_array_equal(back, value)
    base = back
    while not isinstance(base, mmap.mmap) and base is not None:
        base = base.obj if isinstance(base, memoryview) else base.base
    assert isinstance(base, mmap.mmap), "large buffers should come back memory-mapped"
    key = entry.buffers[0][0]
    on_disk = blobs.path(key).read_bytes()
    back[0, 0] = -1.0  # writable, and the write never reaches the blob
    assert blobs.path(key).read_bytes() == on_disk
    again = codec.load(blobs, entry, {}, place("arr"))
    assert again[0, 0] == 0.0


def test_persist_mid_size_buffer_is_read(blobs: BlobStore) -> None:
    value = np.arange(20_000, dtype=np.float64)  # 160 KB: out of band, below mmap size
    entry, back = _save_load(blobs, "arr", value)
    assert entry.buffers and entry.buffers[0][1] < codec.MMAP_MIN_BYTES
    np.testing.assert_array_equal(back, value)
    back[0] = 5.0


def test_persist_dataframe_round_trip(blobs: BlobStore) -> None:
    df = pd.DataFrame({"a": np.arange(200_000.0), "b": np.arange(200_000)})
    entry, back = _save_load(blobs, "df", df)
    assert entry.buffers
    pd.testing.assert_frame_equal(back, df)


def test_persist_deduplicates_identical_buffers(blobs: BlobStore) -> None:
    value = np.arange(100_000.0)
    first, _ = _save_load(blobs, "a", value)
    size = blobs.total_size()
    second, _ = _save_load(blobs, "b", value.copy())
    assert first.buffers == second.buffers
    assert blobs.total_size() == size


@pytest.mark.parametrize("n", [20_000, 400_000], ids=["read", "mmap"])
def test_persist_corrupted_buffer_is_unavailable(blobs: BlobStore, n: int) -> None:
    entry, _ = _save_load(blobs, "arr", np.arange(n, dtype=np.float64))
    path = blobs.path(entry.buffers[0][0])
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointUnavailable) as info:
        codec.load(blobs, entry, {}, place("arr"))
    assert info.value.name == "arr"
    assert "corrupted" in info.value.reason


def test_persist_missing_stream_blob_is_unavailable(blobs: BlobStore) -> None:
    entry, _ = _save_load(blobs, "payload", {"p": b"z" * 400_000})
    assert entry.stream_blob is not None
    blobs.path(entry.stream_blob).unlink()
    with pytest.raises(CheckpointUnavailable) as info:
        codec.load(blobs, entry, {}, place("payload"))
    assert info.value.name == "payload" and "missing" in info.value.reason


def test_persist_unsaved_entry_is_unavailable_with_its_reason(blobs: BlobStore) -> None:
    entry = codec.unsaved("g", "generator", "TypeError: cannot pickle 'generator' object")
    with pytest.raises(CheckpointUnavailable, match="cannot pickle 'generator'"):
        codec.load(blobs, entry, {}, place("g"))
