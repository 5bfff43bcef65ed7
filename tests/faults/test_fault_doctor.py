"""`mn-nb doctor` on a healthy sidecar and on damaged copies of it: a garbage page in the
database, a deleted blob, a corrupted blob. Exit 0 only when healthy; otherwise exit 3,
naming what is damaged, which step's checkpoint it breaks, and what to do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ..helpers import mn
from .damage import blob_key, blob_path, build, copy, damage_middle_page, fold_log

pytestmark = [pytest.mark.kernel, pytest.mark.faults]


def doctor(notebook: Path) -> tuple[int, dict[str, Any], str]:
    """Exit code, the JSON report, and the text report."""
    as_json = mn("doctor", str(notebook), "--json", timeout=120)
    text = mn("doctor", str(notebook), timeout=120)
    assert as_json.returncode == text.returncode, (as_json.stderr, text.stderr)
    return as_json.returncode, json.loads(as_json.stdout), text.stdout


def test_doctor_tells_healthy_from_damaged_and_names_what_is_lost(
    workdir: Path, tmp_path: Path
) -> None:
    notebook = build(workdir)
    sidecar = notebook.with_suffix(".mn")
    key = blob_key(sidecar, "load", "arr")
    before = {p: p.read_bytes() for p in sidecar.rglob("*") if p.is_file()}

    code, report, text = doctor(notebook)
    assert code == 0, text
    assert report["healthy"] and report["database"]["integrity"] == [], report
    assert report["blob_count"] >= 1 and report["damaged_blobs"] == [], report
    assert {s["name"]: s["checkpoint"] for s in report["steps"]} == {
        "load": "intact",
        **{f"s{i}": "intact" for i in range(8)},
    }
    assert text.strip().endswith("healthy"), text
    # The doctor writes nothing.
    assert {p: p.read_bytes() for p in sidecar.rglob("*") if p.is_file()} == before

    corrupt = copy(notebook, tmp_path / "corrupt")
    path = blob_path(corrupt.with_suffix(".mn"), key)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    code, report, text = doctor(corrupt)
    assert code == 3, text
    assert [b["key"] for b in report["damaged_blobs"]] == [key], report
    load = next(s for s in report["steps"] if s["name"] == "load")
    assert load["checkpoint"] == "damaged", load
    assert [(v["key"], v["label"].split()[0]) for v in load["lost"]] == [(key, "arr")], load
    assert "corrupt" in load["lost"][0]["problem"], load
    assert all(s["checkpoint"] == "intact" for s in report["steps"] if s["name"] != "load")
    assert f"mn-nb reset {corrupt.name} load" in text, text

    missing = copy(notebook, tmp_path / "missing")
    blob_path(missing.with_suffix(".mn"), key).unlink()
    code, report, text = doctor(missing)
    assert code == 3, text
    assert [(m["key"], m["problem"]) for m in report["missing"]] == [(key, "missing")], report
    load = next(s for s in report["steps"] if s["name"] == "load")
    assert load["checkpoint"] == "damaged" and load["lost"][0]["problem"] == "missing", load

    paged = copy(notebook, tmp_path / "paged")
    fold_log(paged.with_suffix(".mn"))
    damage_middle_page(paged.with_suffix(".mn"))
    code, report, text = doctor(paged)
    assert code == 3, text
    assert report["database"]["integrity"] and not report["database"]["healthy"], report
    # Its manifests are intact: the doctor offers to rebuild the database from them.
    assert f"mn-nb doctor {paged.name} --rebuild" in text, text
    # The blobs are still checked, by their hashes, whatever the database says.
    assert report["damaged_blobs"] == [] and report["blob_count"] >= 1, report
