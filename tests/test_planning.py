"""The plan of the next run, on real sidecars written by real kernels: what it says must be
what a run then does (counter files count the bodies that ran)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from mirrorneuron_nb.planning import Plan, plan_notebook, plan_summary
from mirrorneuron_nb.store import Store

from .helpers import runs_of, tick
from .kernels import Kernel


def write(notebook: Path, cells: list[str]) -> None:
    nbformat.write(new_notebook(cells=[new_code_cell(c) for c in cells]), notebook)


def run_cells(kernel: Kernel, cells: list[str]) -> None:
    for source in cells:
        kernel.run(source, check=False)


def plan_of(notebook: Path) -> Plan:
    sidecar = notebook.with_name(notebook.stem + ".mn")
    if not sidecar.exists():
        return plan_notebook(notebook, None)
    store = Store(sidecar, readonly=True)
    try:
        return plan_notebook(notebook, store)
    finally:
        store.close()


def actions(plan: Plan) -> dict[str, tuple[str, str]]:
    return {s.name: (s.action, s.reason) for s in plan.steps}


def session(workdir: Path, notebook: Path) -> Kernel:
    kernel = Kernel(workdir, env={"JPY_SESSION_NAME": str(notebook)})
    kernel.run("%load_ext mirrorneuron_nb")
    return kernel


def pipeline(fit_body: str) -> list[str]:
    return [
        "rate = 5",
        "%%mn_step load\n" + tick("load.count") + "x = list(range(rate))",
        "%%mn_step fit\n" + tick("fit.count") + fit_body,
        "%%mn_step report\n" + tick("report.count") + "r = m * 2",
        "%%mn_step other\n" + tick("other.count") + "y = 7",
        "%%mn_step final\n" + tick("final.count") + "z = y + 1",
    ]


def test_after_an_edit_the_plan_names_exactly_the_steps_that_run(workdir: Path) -> None:
    notebook = workdir / "nb.ipynb"
    cells = pipeline("m = sum(x)")
    write(notebook, cells)
    # Before anything ran: every step is new.
    assert {a for a, _ in actions(plan_of(notebook)).values()} == {"run"}
    assert {r for _, r in actions(plan_of(notebook)).values()} == {"new"}
    kernel = session(workdir, notebook)
    try:
        run_cells(kernel, cells)
        plan = plan_of(notebook)
        assert {a for a, _ in actions(plan).values()} == {"restore"}, plan
        # `load` reads `rate`, which a plain cell sets: the plan cannot know its value.
        load = next(s for s in plan.steps if s.name == "load")
        assert load.detail is not None and "may run if rate changed" in load.detail

        edited = pipeline("m = sum(x) + 1")
        write(notebook, edited)
        plan = plan_of(notebook)
        assert actions(plan) == {
            "load": ("restore", "unchanged"),
            "fit": ("run", "code changed"),
            "report": ("run", "input changed"),
            "other": ("restore", "unchanged"),
            "final": ("restore", "unchanged"),
        }
        report = next(s for s in plan.steps if s.name == "report")
        assert report.detail == "reads m from 'fit', which runs"
        assert plan_summary(plan) == (
            "2 of 5 steps will run: fit (code changed), report (input changed)"
        )
        # The run does what the plan said: exactly fit and report run their bodies again.
        run_cells(kernel, edited)
    finally:
        kernel.shutdown()
    counts = {
        s: runs_of(workdir, f"{s}.count") for s in ("load", "fit", "report", "other", "final")
    }
    assert counts == {"load": 1, "fit": 2, "report": 2, "other": 1, "final": 1}
    assert {a for a, _ in actions(plan_of(notebook)).values()} == {"restore"}


def test_rejected_upstream_blocks_every_later_step(workdir: Path) -> None:
    notebook = workdir / "gate.ipynb"
    cells = [
        "%%mn_step prepare\ndata = [1, 2]",
        '%%mn_step publish --approve "Ship it?"\nshipped = len(data)',
        "%%mn_step notify\nsent = shipped",
        "%%mn_step cleanup\ndone = True",
    ]
    write(notebook, cells)
    kernel = session(workdir, notebook)
    try:
        run_cells(kernel, cells[:2])  # a run-all stops at the gate
    finally:
        kernel.shutdown()
    plan = plan_of(notebook)
    assert actions(plan)["publish"] == ("approval", "awaiting approval")
    publish = next(s for s in plan.steps if s.name == "publish")
    assert publish.detail == "asks: Ship it?"
    # The run stops at the gate: later steps say they wait for it.
    notify = next(s for s in plan.steps if s.name == "notify")
    assert notify.action == "run" and notify.detail == "after 'publish' is approved"

    store = Store(notebook.with_name("gate.mn"))
    try:
        store.decide("publish", False, "ana", "not today")
    finally:
        store.close()
    plan = plan_of(notebook)
    assert actions(plan) == {
        "prepare": ("restore", "unchanged"),
        "publish": ("blocked", "rejected"),
        "notify": ("blocked", "rejected upstream"),
        "cleanup": ("blocked", "rejected upstream"),
    }
    assert {s.detail for s in plan.steps[2:]} == {"step 'publish' was rejected"}
    assert "rejected by ana: not today" in (plan.steps[1].detail or "")


def test_an_approved_gate_runs(workdir: Path) -> None:
    notebook = workdir / "ok.ipynb"
    cells = ['%%mn_step publish --once --approve "Ship?"\nshipped = 1']
    write(notebook, cells)
    kernel = session(workdir, notebook)
    try:
        run_cells(kernel, cells)
        store = Store(notebook.with_name("ok.mn"))
        try:
            store.decide("publish", True, "ana", None)
        finally:
            store.close()
        assert actions(plan_of(notebook)) == {"publish": ("run", "approved")}
        assert plan_of(notebook).steps[0].detail == "approved by ana"
        run_cells(kernel, cells)
    finally:
        kernel.shutdown()
    # A --once step that succeeded is restored, never run again.
    assert actions(plan_of(notebook)) == {"publish": ("restore", "once")}


def test_new_failed_forced_and_opaque_steps(workdir: Path) -> None:
    notebook = workdir / "mixed.ipynb"
    cells = [
        "%%mn_step good\na = 1",
        "%%mn_step boom\nraise ValueError('bad file')",
        "%%mn_step shell\n!echo hi\nb = 2",
        "%%mn_step again --force\nc = a + 1",
    ]
    write(notebook, cells)
    kernel = session(workdir, notebook)
    try:
        run_cells(kernel, cells)
    finally:
        kernel.shutdown()
    # A step cell added since, one with an invalid name (never a step), and a duplicate.
    write(notebook, [*cells, "%%mn_step later\nd = 4", "%%mn_step bad!\ne = 5", cells[0]])
    plan = plan_of(notebook)
    assert actions(plan) == {
        "good": ("restore", "unchanged"),
        "boom": ("run", "failed last time"),
        "shell": ("run", "always runs"),
        "again": ("run", "forced"),
        "later": ("run", "new"),
    }
    boom = next(s for s in plan.steps if s.name == "boom")
    assert boom.detail is not None and "ValueError: bad file" in boom.detail
    assert [s.position for s in plan.steps] == [0, 1, 2, 3, 4]


def test_planning_never_unpickles_a_value(workdir: Path) -> None:
    notebook = workdir / "bomb.ipynb"
    cells = [
        "class Bomb:\n    def __setstate__(self, state):\n"
        "        open('unpickled', 'a').write('x')\n        self.__dict__.update(state)",
        "%%mn_step make\nb = Bomb()\nb.v = 1",
    ]
    write(notebook, cells)
    kernel = session(workdir, notebook)
    try:
        run_cells(kernel, cells)
    finally:
        kernel.shutdown()
    started = time.monotonic()
    assert actions(plan_of(notebook)) == {"make": ("restore", "unchanged")}
    assert time.monotonic() - started < 60  # bounded, not a timing assertion
    assert not (workdir / "unpickled").exists()


def test_planning_loads_neither_ipython_nor_a_kernel(workdir: Path) -> None:
    """The server plans too: planning must not pull the kernel side into its process."""
    notebook = workdir / "light.ipynb"
    write(notebook, ["%%mn_step a\n!echo hi\nx = 1", "%%mn_step b --once\ny = x"])
    code = (
        "import json, sys; from pathlib import Path; "
        "from mirrorneuron_nb.planning import plan_notebook; "
        f"plan = plan_notebook(Path({str(notebook)!r}), None); "
        "print(json.dumps([len(plan.steps), sorted(sys.modules)]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    count, modules = json.loads(out.stdout)
    assert count == 2
    assert not {"IPython", "ipykernel", "jupyter_client", "mirrorneuron_nb.kernel"} & set(modules)
