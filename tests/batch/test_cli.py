"""mn-nb as a user runs it: a real process, real exit codes."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from mirrorneuron_nb.batch.cli import build_parser

from ..helpers import mn
from ..kernels import Kernel


def test_every_command_is_documented() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, command in sub.choices.items():  # type: ignore[union-attr]
        assert command.description, f"mn-nb {name} has no description"
        helps = {a.dest: a.help for a in command._actions if a.dest != "help"}
        assert all(helps.values()), f"mn-nb {name}: undocumented options {helps}"
        assert mn(name, "--help").returncode == 0


def test_missing_notebook_exits_2_with_one_line(tmp_path: Path) -> None:
    result = mn("status", str(tmp_path / "nope.ipynb"))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "no such notebook" in result.stderr


def test_no_sidecar_exits_2(tmp_path: Path) -> None:
    notebook = tmp_path / "fresh.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("%%mn_step a\nx = 1")]), notebook)
    result = mn("status", str(notebook))
    assert result.returncode == 2 and "no sidecar" in result.stderr


def test_bad_arguments_exit_2() -> None:
    assert mn("status").returncode == 2
    assert mn("frobnicate").returncode == 2


def test_status_json_matches_sidecar(workdir: Path) -> None:
    notebook = workdir / "nb.ipynb"
    sources = [
        "%%mn_step ok\nx = 1\ng = (i for i in [1])",
        "%%mn_step boom\n1 / 0",
        "%%mn_step later\ny = 2",
    ]
    nbformat.write(new_notebook(cells=[new_code_cell(s) for s in sources]), notebook)
    kernel = Kernel(workdir, env={"JPY_SESSION_NAME": str(notebook)})
    try:
        kernel.run("%load_ext mirrorneuron_nb")
        kernel.run("%%mn_step ok\nx = 1\ng = (i for i in [1])")
        kernel.run("%%mn_step boom\n1 / 0", check=False)
    finally:
        kernel.shutdown()
    result = mn("status", str(notebook), "--json")
    assert result.returncode == 0, result.stderr
    steps = {s["name"]: s for s in json.loads(result.stdout)["steps"]}
    assert steps["ok"]["status"] == "succeeded"
    assert steps["ok"]["unsaved"] == ["g (TypeError: cannot pickle 'generator' object)"]
    assert steps["boom"]["status"] == "failed" and "ZeroDivisionError" in steps["boom"]["error"]
    assert steps["later"]["status"] == "pending"
    with sqlite3.connect(workdir / "nb.mn" / "state.sqlite") as db:
        stored = dict(db.execute("SELECT name, status FROM steps").fetchall())
    assert stored == {"ok": "succeeded", "boom": "failed"}
    table = mn("status", str(notebook))
    assert table.returncode == 0 and "ZeroDivisionError" in table.stdout
    assert "not checkpointed: g" in table.stdout
    exported = mn("export", str(notebook))
    assert exported.returncode == 0, exported.stderr
    records = json.loads(exported.stdout)
    assert {s["name"]: s["status"] for s in records["steps"]} == stored
    assert [e["kind"] for e in records["events"]][:3] == ["run_started", "claimed", "running"]
    assert all("header" not in c for c in records["checkpoints"])
    csv_dir = workdir / "export"
    assert mn("export", str(notebook), "--format", "csv", "--out", str(csv_dir)).returncode == 0
    with open(csv_dir / "steps.csv", newline="") as fh:
        assert {r["name"]: r["status"] for r in csv.DictReader(fh)} == stored
    assert mn("export", str(notebook), "--format", "csv").returncode == 2


def test_demo_fails_midway_resumes_and_finishes(tmp_path: Path) -> None:
    result = mn("demo", "--dir", str(tmp_path / "demo"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "TCP" not in result.stdout + result.stderr  # no IPKernelApp transport warning
    first, second, interactive = (
        result.stdout.split("2. The API is back")[0],
        result.stdout.split("2. The API is back")[1].split("3. Interactive")[0],
        result.stdout.split("3. Interactive")[1],
    )
    assert "fetch      failed" in first and "-> failed" in first
    assert "load       restored" in second and "features   restored" in second
    assert "fetch      ran" in second and "-> succeeded" in second
    # The interactive kernel really runs something (the edited cell) before it is killed.
    assert "report     ran" in interactive and "fetch      restored" in interactive
    assert "mn_resume: restored" in interactive and "prices" in interactive
    assert "after resume: 50 targets, df has 5,000,000 rows" in interactive
    # The closing table tells the story: per run outcomes and bodies run in all.
    table = result.stdout.split("5. What each step did")[1].splitlines()
    rule = next(i for i, line in enumerate(table) if line.startswith("--------"))
    rows = {line.split()[0]: line.split()[1:] for line in table[rule + 1 :] if line.strip()}
    assert rows == {
        "load": ["ran", "restored", "restored", "1"],
        "features": ["ran", "restored", "restored", "1"],
        "fetch": ["failed", "ran", "restored", "2"],
        "report": ["-", "ran", "ran", "2"],
    }, table
    with sqlite3.connect(tmp_path / "demo" / "demo.mn" / "state.sqlite") as db:
        attempts = dict(db.execute("SELECT step, COUNT(*) FROM attempts GROUP BY step"))
    # load ran once in the whole demo; fetch failed once and succeeded once; report ran in
    # the second batch run and again, edited, in the kernel.
    assert attempts == {"load": 1, "features": 1, "fetch": 2, "report": 2}
