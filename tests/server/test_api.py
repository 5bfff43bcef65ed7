"""The REST API the Steps panel reads, against a real in-process Jupyter server (jp_fetch):
every endpoint, change tokens, auth, path confinement, and bad sidecars."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mirrorneuron_nb.sidecar import sidecar_of
from mirrorneuron_nb.store.sqlite import DB_NAME

from ..messages import NO_SIDECAR_YET
from .builders import Kernelish, body, dead_pid, notebook

STEPS = {"load": "x = 1", "features": "y = x + 1", "train": "z = y * 2"}


@pytest.fixture
def nb(root: Path) -> Path:
    return notebook(root / "work" / "analysis.ipynb", STEPS)


# -- /steps ----------------------------------------------------------------------------------


async def test_steps_in_notebook_order_with_pending_and_failed(api: Any, nb: Path, kernel: Any):
    kernel.fail("features", STEPS["features"], "NameError: name 'x' is not defined")
    kernel.succeed("load", STEPS["load"], {"x": 28})
    r = await api("steps", path="work/analysis.ipynb")
    assert r.code == 200
    data = body(r)
    assert data["path"] == "work/analysis.ipynb"
    assert data["changed"] is True and data["sidecar"] is True
    rows = {row["name"]: row for row in data["steps"]}
    assert [row["name"] for row in data["steps"]] == ["load", "features", "train"]
    assert rows["load"]["status"] == "succeeded"
    assert rows["load"]["checkpoint_bytes"] == 28
    assert rows["load"]["duration"] == 1.5
    assert rows["load"]["attempts"] == 1
    assert rows["load"]["last_run"] is not None
    assert rows["features"]["status"] == "failed"
    assert rows["features"]["error"] == "NameError: name 'x' is not defined"
    assert rows["train"]["status"] == "pending"
    assert data["deleted"] == []
    assert data["summary"] == {
        "total": 3,
        "good": 1,
        "first_unfinished": "features",
        "text": "1 of 3 steps good",
    }


async def test_no_sidecar_yet_is_an_empty_state_not_an_error(api: Any, nb: Path):
    r = await api("steps", path="work/analysis.ipynb")
    assert r.code == 200
    data = body(r)
    assert data["sidecar"] is False
    assert [(s["name"], s["status"]) for s in data["steps"]] == [
        ("load", "pending"),
        ("features", "pending"),
        ("train", "pending"),
    ]
    assert data["summary"]["text"] == "0 of 3 steps good"
    assert not sidecar_of(nb).exists(), "reading must not create the sidecar"


async def test_notebook_without_steps(api: Any, root: Path):
    notebook(root / "plain.ipynb", {}, extra_cells=2)
    data = body(await api("steps", path="plain.ipynb"))
    assert data["steps"] == [] and data["summary"]["total"] == 0
    assert data["summary"]["text"].startswith("no steps yet")


async def test_step_whose_cell_was_deleted_is_listed_apart(api: Any, nb: Path, kernel: Any):
    kernel.succeed("load", STEPS["load"], {"x": 28})
    kernel.succeed("old_plot", "plot()", {"fig": 10})
    data = body(await api("steps", path="work/analysis.ipynb"))
    assert "old_plot" not in [s["name"] for s in data["steps"]]
    assert [(s["name"], s["status"], s["in_notebook"]) for s in data["deleted"]] == [
        ("old_plot", "succeeded", False)
    ]


async def test_unchanged_token_costs_nothing_and_any_change_shows(api: Any, nb: Path, kernel: Any):
    kernel.succeed("load", STEPS["load"], {"x": 28})
    first = body(await api("steps", path="work/analysis.ipynb"))
    same = body(await api("steps", path="work/analysis.ipynb", since=first["token"]))
    assert same == {
        "path": "work/analysis.ipynb",
        "token": first["token"],
        "changed": False,
        "sidecar": True,
        "steps": None,
        "deleted": None,
        "summary": None,
        "invalid_cells": None,
    }
    # A kernel starts a step: the very next poll sees it running.
    kernel.begin("features", STEPS["features"])
    running = body(await api("steps", path="work/analysis.ipynb", since=first["token"]))
    assert running["changed"] is True
    assert {s["name"]: s["status"] for s in running["steps"]}["features"] == "running"
    # Saving the notebook (a new step cell) changes the answer too.
    notebook(nb, {**STEPS, "report": "print(z)"})
    saved = body(await api("steps", path="work/analysis.ipynb", since=running["token"]))
    assert saved["changed"] is True
    assert [s["name"] for s in saved["steps"]][-1] == "report"


async def test_running_step_of_a_dead_kernel_turns_interrupted(api: Any, nb: Path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    k = Kernelish(nb, pid=sleeper.pid)
    try:
        k.begin("load", STEPS["load"])
        live = body(await api("steps", path="work/analysis.ipynb"))
        assert live["steps"][0]["status"] == "running"
        # The kernel dies: nothing is written to the sidecar, yet the token must change.
        sleeper.kill()
        sleeper.wait()
        dead = body(await api("steps", path="work/analysis.ipynb", since=live["token"]))
        assert dead["changed"] is True
        assert dead["steps"][0]["status"] == "interrupted"
    finally:
        sleeper.kill()
        sleeper.wait()
        k.close()


async def test_running_step_of_a_dead_run_is_interrupted(api: Any, nb: Path):
    k = Kernelish(nb, pid=dead_pid())
    try:
        k.begin("load", STEPS["load"])
    finally:
        k.close()
    data = body(await api("steps", path="work/analysis.ipynb"))
    assert data["steps"][0]["status"] == "interrupted"


async def test_stale_step_says_why(api: Any, nb: Path, kernel: Any):
    kernel.succeed("load", "x = 0", {"x": 28})  # the notebook now says x = 1
    row = body(await api("steps", path="work/analysis.ipynb"))["steps"][0]
    assert row["status"] == "stale"
    assert row["stale_reason"] == "code changed since its checkpoint"


# -- /step -----------------------------------------------------------------------------------


async def test_step_detail_is_metadata_only(api: Any, nb: Path, kernel: Any):
    kernel.succeed("load", STEPS["load"], {"x": 28, "arr": 4000}, unsaved={"gen": "generator"})
    r = await api("step", path="work/analysis.ipynb", name="load")
    assert r.code == 200
    data = body(r)
    assert data["step"]["status"] == "succeeded"
    assert data["code"] == STEPS["load"]
    assert data["checkpoint"]["size"] == 4028
    assert [(v["name"], v["type_name"], v["size"], v["saved"]) for v in data["variables"]] == [
        ("arr", "ndarray", 4000, True),
        ("gen", "generator", 0, False),
        ("x", "ndarray", 28, True),
    ]
    assert data["variables"][1]["error"] == "generator"
    assert data["outputs"] == [
        {"output_type": "stream", "summary": "stdout: load done"},
        {"output_type": "display_data", "summary": "image/png, text/plain: <Figure>"},
    ]
    assert [a["status"] for a in data["attempts"]] == ["succeeded"]
    assert data["step"]["unsaved"] == ["gen (generator)"]


async def test_failed_step_detail_has_the_traceback(api: Any, nb: Path, kernel: Any):
    kernel.fail("features", STEPS["features"], "ZeroDivisionError: division by zero")
    data = body(await api("step", path="work/analysis.ipynb", name="features"))
    assert data["step"]["error"] == "ZeroDivisionError: division by zero"
    assert data["traceback"].startswith("Traceback (most recent call last):")
    assert "ZeroDivisionError" in data["traceback"]
    assert data["checkpoint"] is None and data["variables"] == []


async def test_pending_step_detail_and_unknown_step(api: Any, nb: Path, kernel: Any):
    pending = body(await api("step", path="work/analysis.ipynb", name="train"))
    assert pending["step"]["status"] == "pending" and pending["traceback"] is None
    r = await api("step", path="work/analysis.ipynb", name="nope")
    assert r.code == 404
    assert body(r) == {
        "code": "unknown_step",
        "message": "unknown step 'nope' in work/analysis.ipynb",
    }


async def test_step_detail_without_sidecar(api: Any, nb: Path):
    assert body(await api("step", path="work/analysis.ipynb", name="load"))["code"] is None
    assert (await api("step", path="work/analysis.ipynb", name="nope")).code == 404


async def test_step_name_is_validated(api: Any, nb: Path):
    r = await api("step", path="work/analysis.ipynb", name="../x")
    assert r.code == 400
    assert body(r)["code"] == "invalid_input"
    assert body(r)["message"].startswith("name:")
    missing = await api("step", path="work/analysis.ipynb")
    assert missing.code == 400 and body(missing)["message"].startswith("name:")


# -- /runs and /events -----------------------------------------------------------------------


async def test_runs(api: Any, nb: Path, kernel: Any):
    kernel.succeed("load", STEPS["load"], {"x": 28})
    data = body(await api("runs", path="work/analysis.ipynb"))
    assert [(r["id"], r["kind"], r["pid"]) for r in data["runs"]] == [
        (kernel.run.id, "interactive", os.getpid())
    ]
    assert body(await api("runs", path="work/other.ipynb")).get("code") == "not_found"


async def test_runs_and_events_without_sidecar(api: Any, nb: Path):
    assert body(await api("runs", path="work/analysis.ipynb"))["runs"] == []
    events = body(await api("events", path="work/analysis.ipynb", after=3))
    assert events["events"] == [] and events["next_after"] == 3 and not events["has_more"]


async def test_events_are_paged(api: Any, nb: Path, kernel: Any):
    kernel.succeed("load", STEPS["load"], {"x": 28})
    kernel.fail("features", STEPS["features"], "boom")
    kinds: list[str] = []
    after = 0
    pages = 0
    while True:
        page = body(await api("events", path="work/analysis.ipynb", after=after, limit=2))
        assert len(page["events"]) <= 2
        kinds += [e["kind"] for e in page["events"]]
        after = page["next_after"]
        pages += 1
        if not page["has_more"]:
            break
    assert kinds == ["run_started", "running", "succeeded", "running", "failed"]
    assert pages == 3
    only = body(await api("events", path="work/analysis.ipynb", step="features"))
    assert [e["kind"] for e in only["events"]] == ["running", "failed"]
    assert only["events"][1]["detail"]["error"] == "boom"


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"after": -1}, "after"),
        ({"after": "x"}, "after"),
        ({"step": "a b"}, "step"),
    ],
)
async def test_events_bad_paging_is_400(api: Any, nb: Path, params: dict[str, Any], where: str):
    r = await api("events", path="work/analysis.ipynb", **params)
    assert r.code == 400
    assert body(r)["code"] == "invalid_input"
    assert body(r)["message"].startswith(f"{where}:")


# -- POST /reset -----------------------------------------------------------------------------


async def test_reset_drops_the_checkpoint(api: Any, nb: Path, kernel: Any):
    kernel.succeed("load", STEPS["load"], {"x": 28})
    kernel.succeed("features", STEPS["features"], {"y": 28})
    before = body(await api("steps", path="work/analysis.ipynb"))
    r = await api("reset", "POST", {"path": "work/analysis.ipynb", "name": "load"})
    assert r.code == 200
    assert body(r) == {"path": "work/analysis.ipynb", "reset": ["load"]}
    after = body(await api("steps", path="work/analysis.ipynb", since=before["token"]))
    rows = {s["name"]: s for s in after["steps"]}
    assert rows["load"]["status"] == "pending" and rows["load"]["checkpoint_bytes"] is None
    assert rows["features"]["status"] == "succeeded"
    assert kernel.store.step("load").checkpoint_id is None


async def test_reset_bad_input_changes_nothing(api: Any, nb: Path, root: Path, kernel: Any):
    kernel.succeed("load", STEPS["load"], {"x": 28})
    events = len(kernel.store.events())
    cases = [
        ({"path": "work/analysis.ipynb", "name": "nope"}, 404, "unknown_step"),
        ({"path": "work/analysis.ipynb", "name": "a;b"}, 400, "invalid_input"),
        ({"path": "work/analysis.ipynb"}, 400, "invalid_input"),
        ({"path": "../x.ipynb", "name": "load"}, 400, "path_outside_root"),
        ("not json", 400, "invalid_input"),
    ]
    for payload, status, code in cases:
        r = await api("reset", "POST", payload)
        assert (r.code, body(r)["code"]) == (status, code), payload
    assert len(kernel.store.events()) == events
    notebook(root / "fresh.ipynb", STEPS)
    r = await api("reset", "POST", {"path": "fresh.ipynb", "name": "load"})
    assert r.code == 404 and NO_SIDECAR_YET in body(r)["message"]
    assert not sidecar_of(root / "fresh.ipynb").exists()


# -- auth ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "method"),
    [("steps", "GET"), ("runs", "GET"), ("events", "GET"), ("step", "GET"), ("reset", "POST")],
)
async def test_every_endpoint_needs_auth(
    jp_fetch: Any, nb: Path, kernel: Any, endpoint: str, method: str
):
    kernel.succeed("load", STEPS["load"], {"x": 28})
    r = await jp_fetch(
        "mirrorneuron",
        "api",
        endpoint,
        params={"path": "work/analysis.ipynb", "name": "load"},
        method=method,
        body=json.dumps({"path": "work/analysis.ipynb", "name": "load"})
        if method == "POST"
        else None,
        headers={"Authorization": ""},
        raise_error=False,
    )
    assert r.code == 403
    assert body(r)["code"] == "forbidden"
    assert set(body(r)) == {"code", "message"}
    assert kernel.store.step("load").checkpoint_id is not None


# -- path confinement ------------------------------------------------------------------------


async def test_paths_outside_the_root_are_refused(api: Any, root: Path, tmp_path: Path):
    outside = notebook(tmp_path / "secret" / "outside.ipynb", STEPS)
    Kernelish(outside).close()
    (root / "link").symlink_to(outside.parent, target_is_directory=True)
    for path in [
        "../secret/outside.ipynb",
        str(outside),
        "work/../../secret/outside.ipynb",
        "link/outside.ipynb",
    ]:
        for endpoint in ("steps", "runs", "events", "step"):
            r = await api(endpoint, path=path, name="load")
            assert r.code == 400, (endpoint, path)
            assert body(r) == {
                "code": "path_outside_root",
                "message": f"path {path!r} is outside the server root",
            }


async def test_absolute_path_inside_the_root_is_fine(api: Any, nb: Path):
    r = await api("steps", path=str(nb))
    assert r.code == 200 and len(body(r)["steps"]) == 3


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("work/missing.ipynb", 404, "not_found"),
        ("work", 400, "invalid_input"),
        ("work/analysis.py", 400, "invalid_input"),
        ("", 400, "invalid_input"),
        (None, 400, "invalid_input"),
    ],
)
async def test_bad_notebook_paths(api: Any, nb: Path, path: str | None, status: int, code: str):
    r = await api("steps", path=path)
    assert r.code == status
    assert body(r)["code"] == code
    assert body(r)["message"]


# -- bad sidecars ----------------------------------------------------------------------------


def _sidecar_db(nb: Path) -> Path:
    db = sidecar_of(nb) / DB_NAME
    db.parent.mkdir(parents=True, exist_ok=True)
    return db


async def test_corrupted_sidecar_is_a_clear_503(api: Any, nb: Path):
    # The request is fine, the storage is not: 503, without Retry-After (it will not heal).
    _sidecar_db(nb).write_bytes(b"this is not a database, just garbage" * 100)
    for endpoint in ("steps", "runs", "events", "step"):
        r = await api(endpoint, path="work/analysis.ipynb", name="load")
        assert r.code == 503, endpoint
        assert body(r)["code"] == "sidecar_damaged"
        assert "unreadable" in body(r)["message"]
        assert set(body(r)) == {"code", "message"}
        assert "Retry-After" not in r.headers
    r = await api("reset", "POST", {"path": "work/analysis.ipynb", "name": "load"})
    assert r.code == 503 and body(r)["code"] == "sidecar_damaged"


async def test_empty_sidecar_file_is_no_sidecar_yet(api: Any, nb: Path):
    _sidecar_db(nb).write_bytes(b"")
    r = await api("steps", path="work/analysis.ipynb")
    assert r.code == 200 and body(r)["sidecar"] is False


async def test_newer_schema_is_409(api: Any, nb: Path):
    conn = sqlite3.connect(_sidecar_db(nb))
    conn.execute("CREATE TABLE future(x)")
    conn.execute("PRAGMA user_version=99")
    conn.commit()
    conn.close()
    r = await api("steps", path="work/analysis.ipynb")
    assert r.code == 409
    assert body(r)["code"] == "schema_too_new"
    assert "upgrade mirrorneuron_nb" in body(r)["message"]


async def test_locked_sidecar_is_503_then_recovers(api: Any, nb: Path):
    kernel = Kernelish(nb)
    kernel.succeed("load", STEPS["load"], {"x": 28})
    kernel.close()  # an exclusive lock needs every other connection gone
    holder = sqlite3.connect(sidecar_of(nb) / DB_NAME, isolation_level=None)
    try:
        # Exclusive locking mode in WAL: no other connection can read until it ends.
        holder.execute("PRAGMA locking_mode=EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute("SELECT COUNT(*) FROM steps").fetchone()
        r = await api("steps", path="work/analysis.ipynb")
        assert r.code == 503
        assert body(r)["code"] == "sidecar_locked"
        assert r.headers["Retry-After"] == "2"
    finally:
        holder.close()
    r = await api("steps", path="work/analysis.ipynb")
    assert r.code == 200 and body(r)["steps"][0]["status"] == "succeeded"


async def test_replaced_sidecar_is_reopened(api: Any, nb: Path):
    first_kernel = Kernelish(nb)
    first_kernel.succeed("load", STEPS["load"], {"x": 28})
    first_kernel.close()
    first = body(await api("steps", path="work/analysis.ipynb"))
    shutil.rmtree(sidecar_of(nb))
    gone = body(await api("steps", path="work/analysis.ipynb", since=first["token"]))
    assert gone["changed"] and gone["sidecar"] is False
    again = Kernelish(nb)
    try:
        again.fail("load", STEPS["load"], "boom")
        data = body(await api("steps", path="work/analysis.ipynb", since=gone["token"]))
        assert data["steps"][0]["status"] == "failed"
    finally:
        again.close()


# -- the server reads, never loads ------------------------------------------------------------


async def test_reads_never_load_blobs_nor_write(api: Any, nb: Path, kernel: Any, tmp_path: Path):
    # A blob whose unpickling would leave a marker file: the server must never open it.
    marker = tmp_path / "unpickled"
    payload = b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR."
    blob_key = "ab" + "0" * 30
    kernel.store.blobs.root.mkdir(parents=True, exist_ok=True)
    (kernel.store.blobs.root / "ab").mkdir(exist_ok=True)
    (kernel.store.blobs.root / "ab" / ("0" * 30)).write_bytes(payload)
    kernel.succeed("load", STEPS["load"], {"x": len(payload)}, stream_blob=blob_key)
    kernel.close()
    db = sidecar_of(nb) / DB_NAME
    wal = db.with_name(DB_NAME + "-wal")
    before = (db.read_bytes(), wal.read_bytes() if wal.exists() else b"")
    for endpoint in ("steps", "runs", "events", "step"):
        assert (await api(endpoint, path="work/analysis.ipynb", name="load")).code == 200
    assert not marker.exists()
    assert (db.read_bytes(), wal.read_bytes() if wal.exists() else b"") == before
