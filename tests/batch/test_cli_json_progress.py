"""`mn-nb gc` and `mn-nb trust` draw a progress bar on a terminal (none when piped or under
--json); `trust --json`, `push/pull --json`, and --json errors from every command (argparse's
included): one JSON document on stdout. Real `mn-nb` processes on a sidecar a real batch
run wrote."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from ..helpers import mn
from .terminal import on_terminal

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
CELLS = [
    "%load_ext mirrorneuron_nb",
    "%%mn_step make\nimport numpy as np\narr = np.arange(200_000) * 2\nconfig = {'lr': 0.1}",
    "%%mn_step words\nwords = ['w%d' % i for i in range(60_000)]",  # a stream blob
]


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A notebook run once by `mn-nb run` (a real kernel); tests work on copies."""
    workdir = tmp_path_factory.mktemp("ran")
    notebook = workdir / "nb.ipynb"
    cells = [new_code_cell(c) for c in CELLS]
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": KERNELSPEC}), notebook)
    done = mn("run", str(notebook), timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return notebook


@pytest.fixture
def nb(ran: Path, tmp_path: Path) -> Path:
    shutil.copy(ran, tmp_path / ran.name)
    shutil.copytree(ran.with_suffix(".mn"), tmp_path / "nb.mn")
    return tmp_path / ran.name


def blob_files(notebook: Path) -> list[Path]:
    blobs = notebook.with_suffix(".mn") / "blobs"
    return [p for p in blobs.glob("*/*") if p.is_file()]


def unused_blobs(notebook: Path, count: int) -> None:
    """Blob files no row references, an hour old: what gc deletes."""
    old = time.time() - 7200
    for i in range(count):
        path = notebook.with_suffix(".mn") / "blobs" / "ee" / f"{i:030x}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 100)
        os.utime(path, (old, old))


def test_gc_draws_a_bar_on_a_terminal_only(nb: Path) -> None:
    unused_blobs(nb, 5)
    files = len(blob_files(nb))
    proc, text = on_terminal("gc", str(nb), "--grace-seconds", "0")
    assert proc.returncode == 0, proc.stdout + text
    # tqdm's bar over every blob file looked at, e.g. "checking blob files: 100%|██| 7/7 [".
    assert f"| {files}/{files} [" in text and "checking blob files" in text, text
    assert "deleted 5 blob file(s)" in proc.stdout
    unused_blobs(nb, 3)
    piped = mn("gc", str(nb), "--grace-seconds", "0")
    assert piped.returncode == 0, piped.stderr
    assert "\r" not in piped.stderr and "checking" not in piped.stderr, piped.stderr
    assert "deleted 3 blob file(s)" in piped.stdout
    unused_blobs(nb, 2)
    as_json, text = on_terminal("gc", str(nb), "--grace-seconds", "0", "--json")
    assert as_json.returncode == 0, as_json.stdout + text
    assert json.loads(as_json.stdout)["files"] == 2
    assert "checking" not in text and "|" not in text, text  # --json: no bar either


def test_trust_draws_a_bar_on_a_terminal_only(nb: Path) -> None:
    proc, text = on_terminal("trust", str(nb), "--yes")
    assert proc.returncode == 0, proc.stdout + text
    # Values (np, arr, config, words, library state...) and 2 checkpoints: all checked.
    assert "checking values" in text and "100%|" in text, text
    assert "mn-nb: signed " in proc.stdout
    piped = mn("trust", str(nb), "--yes")
    assert piped.returncode == 0, piped.stderr
    assert "\r" not in piped.stderr and "checking values" not in piped.stderr, piped.stderr


def test_trust_json_lists_values_checkpoints_and_damage(nb: Path) -> None:
    done = mn("trust", str(nb), "--yes", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)  # stdout is one JSON document
    assert report["notebook"] == str(nb)
    names = {(v["step"], v["name"]): v for v in report["values"] if v["kind"] == "variable"}
    assert {("make", "arr"), ("make", "config"), ("words", "words")} <= set(names)
    assert names[("words", "words")]["type"] == "list"
    # Signatures are bound to the sidecar's place: this copy's values are signed anew.
    assert names[("words", "words")]["state"] == "sign"
    assert [c["step"] for c in report["checkpoints"]] == ["make", "words"]
    assert report["damaged"] == [] and "error" not in report
    assert report["signed"] >= 3 and report["checkpoints_signed"] == 2
    again = json.loads(mn("trust", str(nb), "--yes", "--json").stdout)
    assert again["signed"] == 0 and again["already"] == report["signed"]

    # A corrupted blob: named under `damaged` and as the error, exit 1.
    biggest = max(blob_files(nb), key=lambda p: p.stat().st_size)
    data = bytearray(biggest.read_bytes())
    data[-1] ^= 0xFF
    biggest.write_bytes(bytes(data))
    damaged = mn("trust", str(nb), "--yes", "--json")
    assert damaged.returncode == 1, damaged.stderr
    report = json.loads(damaged.stdout)
    assert report["error"]["code"] == "damaged_values"
    assert "value(s) not signed" in damaged.stderr.strip().splitlines()[-1], damaged.stderr
    assert report["damaged"] and "corrupted" in report["damaged"][0]["reason"]
    bad = [v for v in report["values"] if v["state"] == "damaged"]
    assert bad and all(v["reason"] for v in bad)


def test_trust_json_needs_yes(nb: Path) -> None:
    refused = mn("trust", str(nb), "--json")
    assert refused.returncode == 2
    assert json.loads(refused.stdout) == {
        "error": {
            "code": "usage_failure",
            "message": "mn-nb trust --json does not ask before signing: pass --yes too",
        }
    }
    assert len(refused.stderr.strip().splitlines()) == 1 and "Traceback" not in refused.stderr


def test_json_errors_from_every_command(tmp_path: Path) -> None:
    missing = str(tmp_path / "none.ipynb")
    for args in (
        ["trust", missing, "--yes", "--json"],
        ["push", missing, "--json"],
        ["pull", missing, "--json"],
        ["export", missing],  # its output is JSON already
        ["gc", missing, "--keep-runs", "banana", "--json"],  # argparse's own error
        ["log", missing, "--json", "--limit"],
    ):
        result = mn(*args)
        assert result.returncode == 2, (args, result.stderr)
        error = json.loads(result.stdout)["error"]
        assert error["code"] == "usage_failure" and error["message"], (args, error)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in result.stderr, (args, result.stderr)
