"""A sidecar whose database is lost (deleted) or damaged: `mn-nb doctor --rebuild` builds a
new one from the checkpoint manifests written beside the values, and a fresh kernel
resumes every step from it. Manifests not signed with this user's key are never used."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

import pytest

from ..helpers import mn, run, value
from ..kernels import Kernel
from .damage import CELLS, CHECK, GOOD, build, copy, damage_middle_page, fold_log

pytestmark = [pytest.mark.kernel, pytest.mark.faults]
STEPS = ["load", *(f"s{i}" for i in range(len(CELLS) - 1))]


def doctor_json(notebook: Path, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    out = mn("doctor", str(notebook), "--json", env=env, timeout=120)
    return out.returncode, json.loads(out.stdout)


def files(sidecar: Path) -> dict[str, bytes]:
    return {str(p.relative_to(sidecar)): p.read_bytes() for p in sidecar.rglob("*") if p.is_file()}


def resumes_everything(notebook: Path) -> None:
    kernel = Kernel(notebook.parent, env={"JPY_SESSION_NAME": str(notebook)})
    try:
        run(kernel, "%load_ext mirrorneuron_nb")
        run(kernel, "%mn_resume")
        assert value(kernel, CHECK) == GOOD
    finally:
        kernel.shutdown()


def test_a_deleted_database_is_rebuilt_from_the_manifests(workdir: Path) -> None:
    notebook = build(workdir)
    sidecar = notebook.with_suffix(".mn")
    for name in ("state.sqlite", "state.sqlite-wal", "state.sqlite-shm"):
        (sidecar / name).unlink(missing_ok=True)

    code, report = doctor_json(notebook)
    assert code == 3, report
    assert report["manifests"]["usable"] == len(STEPS), report["manifests"]
    assert report["manifests"]["steps"] == STEPS, report["manifests"]
    text = mn("doctor", str(notebook), timeout=120).stdout
    assert f"mn-nb doctor {notebook.name} --rebuild" in text, text

    out = mn("doctor", str(notebook), "--rebuild", timeout=120)
    assert out.returncode == 0, out.stderr
    assert "restored" in out.stdout and len(out.stdout.strip().splitlines()) == 1, out.stdout
    status = json.loads(mn("status", str(notebook), "--json").stdout)
    assert {s["name"]: s["status"] for s in status["steps"]} == dict.fromkeys(STEPS, "succeeded")
    assert doctor_json(notebook)[0] == 0
    resumes_everything(notebook)

    again = mn("doctor", str(notebook), "--rebuild", timeout=120)
    assert again.returncode == 2 and "intact" in again.stderr, again.stderr


def test_a_damaged_database_is_kept_aside_and_rebuilt(workdir: Path, tmp_path: Path) -> None:
    notebook = copy(build(workdir), tmp_path / "paged")
    sidecar = notebook.with_suffix(".mn")
    fold_log(sidecar)
    damage_middle_page(sidecar)
    damaged = (sidecar / "state.sqlite").read_bytes()

    out = mn("doctor", str(notebook), "--rebuild", timeout=120)
    assert out.returncode == 0, out.stderr
    aside = list(sidecar.glob("state.sqlite.damaged-*"))
    assert [p.read_bytes() for p in aside] == [damaged], aside
    resumes_everything(notebook)


def test_manifests_signed_with_another_key_are_not_used(workdir: Path, tmp_path: Path) -> None:
    notebook = copy(build(workdir), tmp_path / "foreign")
    sidecar = notebook.with_suffix(".mn")
    (sidecar / "state.sqlite").unlink()
    before = files(sidecar)
    other = tmp_path / "keys" / "other.key"
    other.parent.mkdir(mode=0o700)
    other.write_bytes(secrets.token_bytes(32))
    os.chmod(other, 0o600)
    env = {"MIRRORNEURON_KEY_FILE": str(other)}

    code, report = doctor_json(notebook, env)
    assert code == 3 and report["manifests"]["usable"] == 0, report["manifests"]
    assert report["manifests"]["unsigned"] == len(STEPS), report["manifests"]
    out = mn("doctor", str(notebook), "--rebuild", env=env, timeout=120)
    assert out.returncode == 3, out.stderr
    assert "no checkpoint manifest signed with your key" in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert files(sidecar) == before


def test_a_trusted_sidecar_rebuilds_under_the_new_key(workdir: Path, tmp_path: Path) -> None:
    """`mn-nb trust` re-signs the log too: a colleague's sidecar, trusted, then lost."""
    notebook = copy(build(workdir), tmp_path / "trusted")
    sidecar = notebook.with_suffix(".mn")
    other = tmp_path / "keys" / "other.key"
    other.parent.mkdir(mode=0o700)
    other.write_bytes(secrets.token_bytes(32))
    os.chmod(other, 0o600)
    env = {"MIRRORNEURON_KEY_FILE": str(other)}
    trusted = mn("trust", "--yes", str(notebook), env=env, timeout=120)
    assert trusted.returncode == 0, trusted.stderr
    for name in ("state.sqlite", "state.sqlite-wal", "state.sqlite-shm"):
        (sidecar / name).unlink(missing_ok=True)
    out = mn("doctor", str(notebook), "--rebuild", env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    code, report = doctor_json(notebook, env)
    assert code == 0, report
