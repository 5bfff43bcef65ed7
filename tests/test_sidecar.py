"""Where the sidecar lives, reading step cells from a saved notebook, and derived status."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from mirrorneuron_nb.errors import InvalidInput
from mirrorneuron_nb.models import NewCheckpoint, Run, StepStart, StepStatus, VarEntry
from mirrorneuron_nb.notebook import code_hash, duplicates, split_cell, step_cells, validate_name
from mirrorneuron_nb.sidecar import DEFAULT_SIDECAR, locate
from mirrorneuron_nb.status import status_table, step_views
from mirrorneuron_nb.store import Store

# -- sidecar.locate ----------------------------------------------------------------------------


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{}")
    return path


def test_env_override_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nb = touch(tmp_path / "proj" / "analysis.ipynb")
    monkeypatch.setenv("JPY_SESSION_NAME", str(nb))
    monkeypatch.setenv("MIRRORNEURON_SIDECAR", str(tmp_path / "elsewhere" / "state.mn"))
    found = locate(cwd=tmp_path)
    assert found.source == "env"
    assert found.sidecar == (tmp_path / "elsewhere" / "state.mn").resolve()
    assert found.notebook == nb  # still known, for positions and staleness


def test_env_override_relative_is_resolved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIRRORNEURON_SIDECAR", "rel.mn")
    found = locate()
    assert found.sidecar == (tmp_path / "rel.mn").resolve() and found.sidecar.is_absolute()


def test_absolute_session_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nb = touch(tmp_path / "proj" / "my analysis.v2.ipynb")
    monkeypatch.setenv("JPY_SESSION_NAME", str(nb))
    found = locate(cwd=tmp_path / "unrelated")
    assert found.source == "session"
    assert found.notebook == nb
    assert found.sidecar == tmp_path / "proj" / "my analysis.v2.mn"


def test_explicit_session_argument_beats_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = touch(tmp_path / "a.ipynb")
    b = touch(tmp_path / "b.ipynb")
    monkeypatch.setenv("JPY_SESSION_NAME", str(a))
    assert locate(str(b), cwd=tmp_path).sidecar == tmp_path / "b.mn"


def test_relative_session_path_resolved_against_ancestors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server root is tmp_path; the kernel runs in the notebook's folder.
    nb = touch(tmp_path / "projects" / "exp1" / "train.ipynb")
    kernel_cwd = tmp_path / "projects" / "exp1"
    monkeypatch.chdir(kernel_cwd)
    monkeypatch.setenv("JPY_SESSION_NAME", "projects/exp1/train.ipynb")
    found = locate()
    assert found.source == "session"
    assert found.notebook == nb.resolve()
    assert found.sidecar == (kernel_cwd / "train.mn").resolve()


def test_relative_session_path_in_cwd(tmp_path: Path) -> None:
    nb = touch(tmp_path / "here.ipynb")
    found = locate("here.ipynb", cwd=tmp_path)
    assert found.notebook == nb.resolve() and found.sidecar == (tmp_path / "here.mn").resolve()


@pytest.mark.parametrize(
    "session",
    [None, "", "Console 1", "/does/not/exist.ipynb", "missing/nb.ipynb"],
    ids=["none", "empty", "console", "absolute-missing", "relative-missing"],
)
def test_nothing_known_falls_back_to_cwd(tmp_path: Path, session: str | None) -> None:
    found = locate(session, cwd=tmp_path)
    assert found.source == "default"
    assert found.notebook is None
    assert found.sidecar == tmp_path / DEFAULT_SIDECAR == tmp_path / "mirrorneuron.mn"


# -- notebook parsing --------------------------------------------------------------------------


def write_notebook(path: Path, sources: list[str | tuple[str, str]]) -> Path:
    nb = nbformat.v4.new_notebook()
    for src in sources:
        if isinstance(src, tuple):
            nb.cells.append(nbformat.v4.new_markdown_cell(src[1]))
        else:
            nb.cells.append(nbformat.v4.new_code_cell(src))
    nbformat.write(nb, str(path))
    return path


@pytest.fixture
def notebook(tmp_path: Path) -> Path:
    return write_notebook(
        tmp_path / "nb.ipynb",
        [
            ("md", "%%mn_step not_code\nmarkdown is never a step"),
            "import numpy as np",
            "%%mn_step load\ndata = list(range(10))\n",
            "%%mn_stepx other\nx = 1",
            "\n\n%%mn_step clean --after load\nclean = [d for d in data if d]\ntotal = sum(clean)",
            "%%mn_step\nno_name = 1",
            "# a comment first\n%%mn_step not_a_step\ny = 1",
            "%%mn_step fit\n",
            "%%mn_step load\ndata = []",
        ],
    )


def test_step_cells_in_notebook_order(notebook: Path) -> None:
    cells = step_cells(notebook)
    assert [(c.name, c.position) for c in cells] == [
        ("load", 0),
        ("clean", 1),
        ("fit", 2),
        ("load", 3),
    ]
    raw = nbformat.read(str(notebook), as_version=4)
    assert cells[0].cell_id == raw.cells[2].id
    assert cells[0].body == "data = list(range(10))\n"
    assert cells[1].body == "clean = [d for d in data if d]\ntotal = sum(clean)"
    assert cells[2].body == ""


def test_step_cells_of_unreadable_or_missing_notebook(tmp_path: Path) -> None:
    assert step_cells(tmp_path / "missing.ipynb") == []
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not json")
    assert step_cells(bad) == []


def test_duplicates(notebook: Path) -> None:
    assert duplicates(step_cells(notebook)) == ["load"]
    assert duplicates(step_cells(notebook)[:3]) == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("%%mn_step a\nx = 1", ("a", "x = 1")),
        (
            "%%mn_step  fit --force --outputs a,b\nbody\nmore",
            ("fit --force --outputs a,b", "body\nmore"),
        ),
        ("  \n%%mn_step a", ("a", "")),
        ("%%mn_step\n", ("", "")),
        ("%%mn_stepper a\nx", None),
        ("%mn_step a\nx", None),
        ("x = 1\n%%mn_step a", None),
    ],
)
def test_split_cell(source: str, expected: tuple[str, str] | None) -> None:
    assert split_cell(source) == expected


@pytest.mark.parametrize("name", ["a", "load_data", "step-2", "_private", "9lives", "x" * 128])
def test_valid_names(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "-leading-dash", "has space", "a/b", "naïve", "x" * 129, "semi;colon", "a\nb"]
)
def test_invalid_names(name: str) -> None:
    with pytest.raises(InvalidInput, match="invalid step name"):
        validate_name(name)


def test_code_hash_ignores_surrounding_blank_lines_only() -> None:
    assert code_hash("x = 1\n") == code_hash("\nx = 1") == code_hash("x = 1   \n\n")
    assert code_hash("x = 1") != code_hash("x = 2")
    assert code_hash("if a:\n    x = 1") != code_hash("if a:\nx = 1")


# -- status.step_views -------------------------------------------------------------------------

BODIES = {
    "load": "data = list(range(10))",
    "clean": "clean = [d for d in data if d]",
    "fit": "model = sum(clean)",
}


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "nb.mn")
    s.start_run(
        Run(id="run1", kind="kernel", status="running", started_at=time.time(), pid=os.getpid())
    )
    yield s
    s.close()


@pytest.fixture
def pipeline(tmp_path: Path) -> Path:
    return write_notebook(
        tmp_path / "pipeline.ipynb", [f"%%mn_step {name}\n{body}" for name, body in BODIES.items()]
    )


def record(
    store: Store,
    name: str,
    *,
    body: str | None = None,
    writes: dict[str, str] | None = None,
    inputs: dict[str, str] | None = None,
    run_id: str = "run1",
) -> None:
    code = BODIES[name] if body is None else body
    key = f"{name}-{code}-{sorted((inputs or {}).items())}-{sorted((writes or {}).items())}"
    attempt = store.begin_attempt(
        run_id,
        StepStart(
            name=name, cell_id=None, code=code, code_hash=code_hash(code), cache_key=key, options={}
        ),
    )
    store.commit_checkpoint(
        attempt,
        NewCheckpoint(
            cache_key=key,
            code_hash=code_hash(code),
            duration=0.1,
            inputs=inputs or {},
            outputs=[],
            variables=[
                VarEntry(name=n, type_name="list", fingerprint=fp, serializer="pickle", header=b"")
                for n, fp in (writes or {}).items()
            ],
            new_blobs=[],
        ),
    )


def views_by_name(store: Store, notebook: Path | None) -> dict[str, object]:
    return {v.name: v for v in step_views(store, notebook)}


def test_never_run_steps_are_pending(store: Store, pipeline: Path) -> None:
    record(store, "load", writes={"data": "d1"})
    views = step_views(store, pipeline)
    assert [(v.name, v.status, v.position) for v in views] == [
        ("load", StepStatus.succeeded, 0),
        ("clean", StepStatus.pending, 1),
        ("fit", StepStatus.pending, 2),
    ]
    assert all(v.in_notebook for v in views)
    assert views[1].attempts == 0 and views[1].checkpoint_bytes is None


def test_code_changed_in_notebook_is_stale(store: Store, pipeline: Path) -> None:
    record(store, "load", writes={"data": "d1"})
    record(store, "clean", body="clean = data[1:]", inputs={"data": "d1"}, writes={"clean": "c1"})
    views = views_by_name(store, pipeline)
    assert views["load"].status is StepStatus.succeeded and views["load"].stale_reason is None
    assert views["clean"].status is StepStatus.stale
    assert "code changed" in views["clean"].stale_reason
    # Without the notebook there is nothing to compare the code with.
    assert views_by_name(store, None)["clean"].status is StepStatus.succeeded


def test_upstream_changed_input_makes_downstream_stale(store: Store, pipeline: Path) -> None:
    record(store, "load", writes={"data": "d1"})
    record(store, "clean", inputs={"data": "d1"}, writes={"clean": "c1"})
    record(store, "fit", inputs={"clean": "c1"}, writes={"model": "m1"})
    assert {v.status for v in step_views(store, pipeline)} == {StepStatus.succeeded}

    record(store, "load", writes={"data": "d2"})  # load re-ran and produced new data
    views = views_by_name(store, pipeline)
    assert views["load"].status is StepStatus.succeeded
    assert views["clean"].status is StepStatus.stale
    assert views["clean"].stale_reason == "input 'data' changed (step 'load' produced a new value)"


def test_cached_step_can_be_stale(store: Store, pipeline: Path) -> None:
    record(store, "load", writes={"data": "d1"})
    record(store, "clean", inputs={"data": "d1"}, writes={"clean": "c1"})
    found = store.find_checkpoint("clean", store.attempts("clean")[-1].cache_key)
    step = store.step("clean")
    start = StepStart("clean", None, step.code, step.code_hash, found.cache_key, {})
    store.record_cache_hit("run1", start, found, ["clean"])
    assert views_by_name(store, pipeline)["clean"].status is StepStatus.cached
    record(store, "load", writes={"data": "d9"})
    assert views_by_name(store, pipeline)["clean"].status is StepStatus.stale


def test_step_missing_from_notebook(store: Store, pipeline: Path) -> None:
    record(store, "load", writes={"data": "d1"})
    attempt = store.begin_attempt(
        "run1", StepStart("removed", None, "z = 1", code_hash("z = 1"), "kz", {})
    )
    store.fail_attempt(attempt, "E", "")
    views = step_views(store, pipeline)
    assert [v.name for v in views] == ["load", "clean", "fit", "removed"]
    removed = views[-1]
    assert removed.in_notebook is False and removed.status is StepStatus.failed
    assert all(v.in_notebook for v in views[:-1])
    # Without a notebook every known step counts as present.
    assert all(v.in_notebook for v in step_views(store, None))


def test_running_step_of_a_dead_process_shows_interrupted(store: Store, pipeline: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    store.start_run(
        Run(id="gone", kind="kernel", status="running", started_at=time.time(), pid=proc.pid)
    )
    store.begin_attempt(
        "gone", StepStart("load", None, BODIES["load"], code_hash(BODIES["load"]), "k", {})
    )
    store.begin_attempt(
        "run1", StepStart("clean", None, BODIES["clean"], code_hash(BODIES["clean"]), "k", {})
    )
    views = views_by_name(store, pipeline)
    assert views["load"].status is StepStatus.interrupted
    assert views["clean"].status is StepStatus.running
    # Derived only: the stored row is untouched until mark_interrupted runs.
    assert store.step("load").status is StepStatus.running


def test_an_input_without_a_stable_fingerprint_is_a_note_not_stale(
    store: Store, pipeline: Path
) -> None:
    record(store, "load", writes={"data": "d1"})
    record(store, "clean", inputs={"data": "d1", "client": "unhashable:Lock:1403"})
    view = views_by_name(store, pipeline)["clean"]
    assert view.status is StepStatus.succeeded and view.stale_reason is None
    assert view.note == "no stable fingerprint: 'client' (Lock); runs again after a restart"
    assert "no stable fingerprint" in status_table(step_views(store, pipeline))


def test_a_step_that_always_runs_says_why(store: Store, pipeline: Path) -> None:
    attempt = store.begin_attempt(
        "run1",
        StepStart(
            name="load",
            cell_id=None,
            code=BODIES["load"],
            code_hash=code_hash(BODIES["load"]),
            cache_key="k",
            options={"always_runs": ["%run cannot be analysed"]},
        ),
    )
    store.commit_checkpoint(
        attempt, NewCheckpoint("k", code_hash(BODIES["load"]), 0.1, {}, [], [], [])
    )
    view = views_by_name(store, pipeline)["load"]
    assert view.status is StepStatus.succeeded
    assert view.note == "always runs: %run cannot be analysed"
    assert "always runs: %run cannot be analysed" in status_table(step_views(store, pipeline))
