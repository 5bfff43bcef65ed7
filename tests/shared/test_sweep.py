"""`mn-nb sweep` on a real Dask LocalCluster of 2 worker processes, real kernels."""

from __future__ import annotations

import csv
import json
import os
from collections import Counter
from pathlib import Path

import nbformat
import pytest

from .. import notebooks
from ..helpers import mn
from ..notebooks import counts, step

pytestmark = pytest.mark.kernel


def write_notebook(path: Path, stop_database: str = "") -> Path:
    """prepare (reads no parameter: one cache key for every combination), train (fails
    for lr=0.01 depth=5 until fixed.flag exists), report. `stop_database`: lines `train`
    runs first (the database-restart test)."""
    return notebooks.write_notebook(
        path,
        "lr = 0.1\ndepth = 3",
        [
            step("prepare", "data = list(range(10))"),
            step(
                "train",
                stop_database + "import os\n"
                "if lr == 0.01 and depth == 5 and not os.path.exists('fixed.flag'):\n"
                "    raise ValueError('diverged')\n"
                "model = sum(data) * lr * depth",
                "f'train {lr} {depth}'",
            ),
            step("report", "score = model + 1", "f'report {lr} {depth}'"),
        ],
    )


GRID = ["-g", "lr=0.1,0.01", "-g", "depth=3,5", "--workers", "2"]
COMBOS = ["0.1 3", "0.1 5", "0.01 3", "0.01 5"]


# The PostgreSQL run takes 1-2 min more: opt-in (MN_SWEEP_PG=1). The default suite runs a
# sweep on PostgreSQL anyway: test_sweep_restart.py.
_PG = pytest.mark.skipif(
    os.environ.get("MN_SWEEP_PG") != "1", reason="opt-in: MN_SWEEP_PG=1 (1-2 min more)"
)


@pytest.fixture(params=["sidecar", pytest.param("postgresql", marks=_PG)])
def backend(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Where the sweep's combinations keep their steps: the notebook's SQLite sidecar, or a
    real PostgreSQL (the sweep and its workers inherit the setting; blobs in this test's
    cache dir)."""
    if request.param == "postgresql":
        monkeypatch.setenv("MIRRORNEURON_STORE", request.getfixturevalue("pg_url"))
        # the notebook's identity in the store: its own per test, not the folder's name
        monkeypatch.setenv("MIRRORNEURON_PROJECT", "sweep-" + tmp_path.name)
    return str(request.param)


@pytest.mark.timeout(900)  # 8 kernels on 2 workers: past the default 300 s on a busy machine
def test_sweep_fails_one_combination_then_resumes_only_it(workdir: Path, backend: str) -> None:
    write_notebook(workdir / "nb.ipynb")
    first = mn("sweep", "nb.ipynb", *GRID, cwd=workdir, timeout=600)
    assert first.returncode == 1, first.stdout + first.stderr
    ours = [line for line in first.stderr.splitlines() if line.startswith("mn-nb")]
    assert len(ours) == 1, first.stderr
    failure = ours[0]
    assert failure == (
        "mn-nb: 1 of 4 combination(s) failed: lr=0.01 depth=5 (step train: ValueError: diverged)"
    )
    ran = counts(workdir)
    # the shared upstream step ran once for the 4 combinations (its lease, then its key)
    assert ran["prepare"] == 1, ran
    assert all(ran[f"train {c}"] == 1 for c in COMBOS), ran
    assert ran["report 0.01 5"] == 0 and all(ran[f"report {c}"] == 1 for c in COMBOS[:3]), ran

    out = workdir / "nb_sweep"
    rows = list(csv.DictReader((out / "summary.csv").open()))
    assert [(r["lr"], r["depth"], r["status"]) for r in rows] == [
        ("0.1", "3", "succeeded"),
        ("0.1", "5", "succeeded"),
        ("0.01", "3", "succeeded"),
        ("0.01", "5", "failed"),
    ]
    assert rows[3]["failed_step"] == "train" and "diverged" in rows[3]["error"]
    summary = json.loads((out / "summary.json").read_text())
    assert [Path(r["output"]).is_file() for r in summary] == [True] * 4
    injected = nbformat.read(summary[3]["output"], as_version=4)
    assert any("lr = 0.01" in c.source and "depth = 5" in c.source for c in injected.cells)

    (workdir / "fixed.flag").touch()
    second = mn("sweep", "nb.ipynb", *GRID, "--json", cwd=workdir, timeout=600)
    assert second.returncode == 0, second.stdout + second.stderr
    again = counts(workdir) - ran
    # only the failed combination's failing step and what follows it ran again
    assert again == Counter({"train 0.01 5": 1, "report 0.01 5": 1}), again
    printed = json.loads(second.stdout)
    assert [r["status"] for r in printed] == ["succeeded"] * 4
    assert [(r["ran"], r["restored"]) for r in printed] == [(0, 3), (0, 3), (0, 3), (2, 1)]
    # a shared store writes nothing beside the notebook
    assert (workdir / "nb.mn").exists() is (backend == "sidecar")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-g", "lr"], "-g 'lr': expected NAME=VALUE[,VALUE...]"),
        (["-g", "lr=0.1,,2"], "-g 'lr=0.1,,2': an empty value"),
        (["-g", "lr=1", "-g", "lr=2"], "-g lr: given twice"),
        (["-g", "1x=1"], "-g: '1x' is not a valid parameter name"),
        (["-g", "lr=1,1"], "-g lr: the value 1 is given twice"),
        (["-g", "lr=1", "-p", "lr", "2"], "-g lr: also set with -p"),
        ([], "give at least one -g"),
        (["-g", "lr=1", "--workers", "0"], "--workers must be at least 1"),
    ],
)
def test_bad_grid_exits_2_with_one_line(workdir: Path, args: list[str], message: str) -> None:
    write_notebook(workdir / "nb.ipynb")
    done = mn("sweep", "nb.ipynb", *args, cwd=workdir, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1 and message in done.stderr, done.stderr
    assert not (workdir / "nb_sweep").exists() and not (workdir / "nb.mn").exists()
