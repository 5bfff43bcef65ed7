"""A value written before schema 4 (its signature binds nothing) is refused with one line
saying to run `mn-nb trust NOTEBOOK` once; migrating gives the sidecar its random id."""

from __future__ import annotations

from pathlib import Path

import pytest

from mirrorneuron_nb.errors import UntrustedCheckpoint
from mirrorneuron_nb.models import VarEntry
from mirrorneuron_nb.store import BlobStore, Store
from mirrorneuron_nb.values import codec
from mirrorneuron_nb.values.serializers import snapshot
from mirrorneuron_nb.values.signing import TRUST_HINT, Binding


def test_a_pre_v4_value_asks_for_trust_once(tmp_path: Path) -> None:
    snap = snapshot({"a": 1})
    old = VarEntry(
        name="a",
        type_name="dict",
        serializer=snap.serializer,
        size=len(snap.stream),
        header=snap.stream,
        signature="0" * 64,  # what an older version stored; no stream_hash
    )
    with pytest.raises(UntrustedCheckpoint) as info:
        codec.load(BlobStore(tmp_path / "blobs"), old, {}, Binding("id", "s", "a"))
    reason = info.value.reason
    assert "older mirrorneuron_nb" in reason and TRUST_HINT in reason and "\n" not in reason


def test_each_sidecar_gets_its_own_random_id(tmp_path: Path) -> None:
    ids = set()
    for name in ("one.mn", "two.mn"):
        store = Store(tmp_path / name)
        try:
            ids.add(store.sidecar_id())
            assert len(store.sidecar_id()) == 32
        finally:
            store.close()
    assert len(ids) == 2
