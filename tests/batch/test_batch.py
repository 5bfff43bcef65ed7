"""Batch runs with real papermill and a real kernel: a failed run resumes where it failed."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from .. import notebooks
from ..helpers import mn
from ..messages import RESTORED, output_text
from ..notebooks import counts, step


def write_notebook(path: Path) -> Path:
    return notebooks.write_notebook(
        path,
        "lr = 0.1\nepochs = 3",
        [
            step(
                "load",
                "data = list(range(1000))\nraw = bytes(range(256)) * 1200\n"
                "print('loaded', len(data))",
            ),
            step("prep", "scaled = [x * 2 for x in data]"),
            step(
                "fit",
                "import os\nif os.path.exists('outage.flag'):\n"
                "    raise ConnectionError('API outage')\nmodel = sum(scaled) * lr",
            ),
            step("report", "print('model', model, 'epochs', epochs)"),
        ],
    )


@pytest.fixture
def notebook(workdir: Path) -> Path:
    return write_notebook(workdir / "analysis.ipynb")


def test_failed_run_resumes_and_never_reruns_good_steps(notebook: Path, workdir: Path) -> None:
    (workdir / "outage.flag").touch()
    first = mn("run", "analysis.ipynb", "out/a.ipynb", "-p", "lr", "0.1", cwd=workdir)
    assert first.returncode == 1, first.stdout + first.stderr
    assert "run failed at step 'fit': ConnectionError: API outage" in first.stderr
    assert counts(workdir) == Counter(load=1, prep=1, fit=1)

    (workdir / "outage.flag").unlink()
    second = mn("run", "analysis.ipynb", "out/a.ipynb", "-p", "lr", "0.1", cwd=workdir)
    assert second.returncode == 0, second.stdout + second.stderr
    progress = [line.split()[:2] for line in second.stdout.splitlines() if line.startswith("  ")]
    assert progress[:4] == [
        ["load", "restored"],
        ["prep", "restored"],
        ["fit", "ran"],
        ["report", "ran"],
    ]
    # Steps before the failure ran exactly once across both runs.
    assert counts(workdir) == Counter(load=1, prep=1, fit=2, report=1)

    out = nbformat.read(workdir / "out" / "a.ipynb", as_version=4)
    marks = {
        c.metadata["mirrorneuron"]["step"]: c for c in out.cells if "mirrorneuron" in c.metadata
    }
    assert marks["load"].metadata["mirrorneuron"]["outcome"] == "restored"
    load_text = "".join(output_text(o) for o in marks["load"].outputs)
    assert "loaded 1000" in load_text and RESTORED in load_text
    assert "model 99900.0 epochs 3" in "".join(o.get("text", "") for o in marks["report"].outputs)

    with sqlite3.connect(workdir / "analysis.mn" / "state.sqlite") as db:
        kinds = {r[0] for r in db.execute("SELECT kind FROM runs")}
        params = [json.loads(r[0]) for r in db.execute("SELECT parameters FROM runs")]
    assert kinds == {"batch"} and {"lr": 0.1} in params


def test_changed_parameter_reruns_only_dependent_steps(notebook: Path, workdir: Path) -> None:
    assert mn("run", "analysis.ipynb", "-p", "lr", "0.1", cwd=workdir).returncode == 0
    changed = mn("run", "analysis.ipynb", "-p", "lr", "0.2", cwd=workdir)
    assert changed.returncode == 0, changed.stderr
    # fit reads lr; report reads fit's model; load and prep read neither.
    assert counts(workdir) == Counter(load=1, prep=1, fit=2, report=2)
    # Switching back serves the older checkpoints: nothing runs.
    assert mn("run", "analysis.ipynb", "-p", "lr", "0.1", cwd=workdir).returncode == 0
    assert counts(workdir) == Counter(load=1, prep=1, fit=2, report=2)
    assert (workdir / "analysis.mn" / "last-run.ipynb").exists()  # default OUTPUT


def test_fresh_reruns_everything(notebook: Path, workdir: Path) -> None:
    assert mn("run", "analysis.ipynb", cwd=workdir).returncode == 0
    fresh = mn("run", "analysis.ipynb", "--fresh", cwd=workdir)
    assert fresh.returncode == 0, fresh.stderr
    assert counts(workdir) == Counter(load=2, prep=2, fit=2, report=2)


def test_papermill_engine_and_plain_papermill_with_env(
    notebook: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = subprocess.run(
        [
            sys.executable,
            "-m",
            "papermill",
            "--engine",
            "mirrorneuron",
            "analysis.ipynb",
            "out1.ipynb",
            "-p",
            "lr",
            "0.1",
        ],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert engine.returncode == 0, engine.stderr
    assert (workdir / "analysis.mn" / "state.sqlite").exists()
    # Plain papermill: the kernel finds the sidecar through MIRRORNEURON_SIDECAR.
    monkeypatch.setenv("MIRRORNEURON_SIDECAR", str(workdir / "analysis.mn"))
    plain = subprocess.run(
        [sys.executable, "-m", "papermill", "analysis.ipynb", "out2.ipynb", "-p", "lr", "0.1"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert plain.returncode == 0, plain.stderr
    assert counts(workdir) == Counter(load=1, prep=1, fit=1, report=1)


def test_status_log_json_reset_and_gc(notebook: Path, workdir: Path) -> None:
    assert mn("run", "analysis.ipynb", cwd=workdir).returncode == 0
    status = json.loads(mn("status", "analysis.ipynb", "--json", cwd=workdir).stdout)
    by_name = {s["name"]: s for s in status["steps"]}
    with sqlite3.connect(workdir / "analysis.mn" / "state.sqlite") as db:
        stored = dict(db.execute("SELECT name, status FROM steps").fetchall())
        sizes = dict(db.execute("SELECT step, size FROM checkpoints").fetchall())
    assert {n: s["status"] for n, s in by_name.items()} == stored
    assert {n: s["checkpoint_bytes"] for n, s in by_name.items()} == sizes

    log = json.loads(mn("log", "analysis.ipynb", "--step", "fit", "--json", cwd=workdir).stdout)
    assert [e["kind"] for e in log] == ["claimed", "running", "succeeded", "released"]

    assert mn("reset", "analysis.ipynb", "load", "prep", cwd=workdir).returncode == 0
    gc = mn("gc", "analysis.ipynb", "--grace-seconds", "0", cwd=workdir)
    assert gc.returncode == 0 and "deleted" in gc.stdout
    freed_files = int(gc.stdout.split("deleted ")[1].split()[0])
    assert freed_files >= 1  # the stream of load's 300 KB `raw` was only used by load
    assert mn("run", "analysis.ipynb", cwd=workdir).returncode == 0
    assert counts(workdir) == Counter(load=2, prep=2, fit=1, report=1)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "missing.ipynb"], "no such notebook"),
        (["run", "plain.ipynb"], "has no %%mn_step cells"),
        (["run", "analysis.ipynb", "-p", "bad name", "1"], "not a valid parameter name"),
        (["run", "analysis.ipynb", "-f", "nope.yaml"], "cannot read parameters file"),
        (["run", "analysis.ipynb", "analysis.ipynb"], "OUTPUT is the input notebook"),
        (["status", "analysis.ipynb"], "no sidecar"),
        (["reset", "analysis.ipynb"], "name the steps to reset"),
        (["gc", "analysis.ipynb", "--keep-runs", "-1"], "--keep-runs must be 0 or more"),
    ],
)
def test_bad_input_exits_2(notebook: Path, workdir: Path, args: list[str], message: str) -> None:
    nbformat.write(new_notebook(cells=[new_code_cell("x = 1")]), workdir / "plain.ipynb")
    result = mn(*args, cwd=workdir)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr and result.stderr.strip().count("\n") == 0
    assert not (workdir / "counts.txt").exists()


def test_newer_sidecar_is_refused_before_running_exit_6(notebook: Path, workdir: Path) -> None:
    assert mn("run", "analysis.ipynb", cwd=workdir).returncode == 0
    with sqlite3.connect(workdir / "analysis.mn" / "state.sqlite") as db:
        db.execute("PRAGMA user_version=99")
    before = counts(workdir)
    result = mn("run", "analysis.ipynb", "--fresh", cwd=workdir)
    assert result.returncode == 6 and "schema version 99" in result.stderr
    assert counts(workdir) == before
    for command in (
        ["status", "analysis.ipynb"],
        ["log", "analysis.ipynb"],
        ["reset", "analysis.ipynb", "--all"],
        ["gc", "analysis.ipynb"],
    ):
        assert mn(*command, cwd=workdir).returncode == 6


# After the step's own cell committed, and before papermill hands its reply to the engine,
# a run sharing the sidecar (another sweep combination) restores the step: its row says
# `cached`, by another run. What the engine reports must still be what THIS run did.
OTHER_RUN_RESTORES = """
def _other_run_restores(result):
    import sqlite3
    with sqlite3.connect('flip.mn/state.sqlite') as db:
        db.execute("UPDATE steps SET status='cached', run_id='other' WHERE name='fit'")
    get_ipython().events.unregister('post_run_cell', _other_run_restores)
get_ipython().events.register('post_run_cell', _other_run_restores)
"""


def test_outcome_is_this_runs_own_not_the_shared_row(workdir: Path) -> None:
    notebooks.write_notebook(
        workdir / "flip.ipynb",
        "lr = 0.1",
        [
            # The run id is the kernel's alone: taken from its environment as the extension
            # loads, before any cell could hand it to a process it starts.
            "import os\nleaked = os.environ.get('MIRRORNEURON_RUN_ID')",
            step("fit", "assert leaked is None\nmodel = lr * 2\n" + OTHER_RUN_RESTORES),
            step("report", "print(model)"),
        ],
    )
    done = mn("run", "flip.ipynb", "out.ipynb", cwd=workdir)
    assert done.returncode == 0, done.stdout + done.stderr
    progress = [line.split()[:2] for line in done.stdout.splitlines() if line.startswith("  ")]
    assert progress[:2] == [["fit", "ran"], ["report", "ran"]], done.stdout
    out = nbformat.read(workdir / "out.ipynb", as_version=4)
    marks = [
        c.metadata["mirrorneuron"]["outcome"] for c in out.cells if "mirrorneuron" in c.metadata
    ]
    assert marks == ["ran", "ran"]
    assert counts(workdir) == Counter(fit=1, report=1)
