"""The README's main job: a batch run of a notebook fails midway and the next run resumes
where it failed; a kernel dies and a fresh one gets its state back; the step table is
printed. Real papermill runs and real kernels throughout."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ..models import StepStatus
from ..notebook import step_name
from ..render import table
from ..store import Store
from .driver import Kernel

OUTAGE_FLAG = "demo_outage.flag"


def demo_notebook() -> Path:
    package = Path(__file__).resolve().parent.parent
    for candidate in (
        package / "_data" / "demo.ipynb",
        package.parent / "notebooks" / "demo.ipynb",
    ):
        if candidate.exists():
            return candidate
    raise FileNotFoundError("demo.ipynb is not installed with this package")


def _cells(notebook: Path) -> list[str]:
    data = json.loads(notebook.read_text(encoding="utf-8"))
    return [
        "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        for c in data["cells"]
        if c["cell_type"] == "code"
    ]


EDIT = ('.sort_values("gap").head()', '.sort_values("gap").head(3)')
"""The edit made in the interactive kernel: the report step shows the 3 worst stores."""


def _outcome(sidecar: Path, name: str) -> str:
    """What the step's last execution did, as the sidecar recorded it."""
    store = Store(sidecar, readonly=True)
    try:
        step = store.step(name)
    finally:
        store.close()
    if step is None:
        return "?"
    return "restored" if step.status is StepStatus.cached else "ran"


def _attempts(sidecar: Path) -> dict[str, int]:
    """Every execution of each step's body over all the runs, failed ones included."""
    store = Store(sidecar, readonly=True)
    try:
        return {s.name: len(store.attempts(s.name)) for s in store.steps()}
    finally:
        store.close()


def _run_cells(
    kernel: Kernel, cells: list[str], sidecar: Path, say: Callable[[str], None]
) -> dict[str, str] | None:
    """Run cells in order, saying what each step did; None when a cell fails."""
    outcomes: dict[str, str] = {}
    for code in cells:
        began = time.perf_counter()
        result = kernel.run(code, check=False)
        took = time.perf_counter() - began
        name = step_name(code)
        if result.error is not None:
            label = f"step {name}" if name else code.splitlines()[0]
            say(f"   x {label} failed: {result.error['ename']}: {result.error['evalue']}")
            return None
        if name is None:
            continue
        outcomes[name] = _outcome(sidecar, name)
        edited = " (its cell was edited)" if EDIT[1] in code else ""
        say(f"   {name:<10} {outcomes[name]:<9} {took:5.1f} s{edited}")
    return outcomes


def _batch(notebook: Path, say: Callable[[str], None]) -> tuple[bool, dict[str, str]]:
    from .run import CellOutcome, run_notebook

    outcomes: dict[str, str] = {}

    def progress(outcome: CellOutcome) -> None:
        outcomes[outcome.step] = outcome.outcome
        detail = f"  {outcome.error}" if outcome.error else ""
        say(f"   {outcome.step:<10} {outcome.outcome:<9} {outcome.seconds:5.1f} s{detail}")

    result = run_notebook(notebook, notebook.with_name("demo.out.ipynb"), {}, progress=progress)
    say(f"   -> {'succeeded' if result.ok else 'failed'} in {result.seconds:.1f} s")
    return result.ok, outcomes


def run_demo(workdir: Path | None = None, say: Callable[[str], None] = print) -> int:
    work = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="mn-demo-"))
    work.mkdir(parents=True, exist_ok=True)
    notebook = work / "demo.ipynb"
    shutil.copyfile(demo_notebook(), notebook)
    sidecar = work / "demo.mn"
    shutil.rmtree(sidecar, ignore_errors=True)
    cells = [c for c in _cells(notebook) if not c.startswith("%mn_status")]
    say(f"mirrorneuron_nb demo in {work}\n")

    (work / OUTAGE_FLAG).touch()
    say("1. A batch run (`mn-nb run demo.ipynb`, papermill underneath) during an API outage:")
    ok, first = _batch(notebook, say)
    if ok:
        say("the outage did not make the run fail: demo notebook changed?")
        return 1
    (work / OUTAGE_FLAG).unlink()
    say("\n2. The API is back. The same command again resumes at the failed step:")
    ok, second = _batch(notebook, say)
    if not ok:
        return 1

    say("\n3. Interactive: a kernel opens the notebook and runs its cells. The steps come")
    say("   back from the batch run's checkpoints; the report cell was edited, so it runs:")
    edited = [c.replace(*EDIT) if step_name(c) == "report" else c for c in cells]
    kernel = Kernel(work, env={"JPY_SESSION_NAME": str(notebook)})
    try:
        third = _run_cells(kernel, edited, sidecar, say)
        if third is None:
            return 1
        say("\n4. The kernel is killed (SIGKILL, as after an OOM kill). A fresh kernel gets")
        say("   every step's variables back with %mn_resume, without running a cell:")
        kernel.kill()
        kernel.revive()
        kernel.run("%load_ext mirrorneuron_nb")
        began = time.perf_counter()
        report = kernel.run("%mn_resume")
        say("\n   " + report.stdout.strip().replace("\n", "\n   "))
        say(f"   (round trip {time.perf_counter() - began:.2f} s)")
        check = kernel.run("print(f'{len(targets)} targets, df has {len(df):,} rows')")
        say("   >>> after resume: " + check.stdout.strip())
    finally:
        kernel.shutdown()
    say("\n5. What each step did in each run, and how many times its body ran in all:\n")
    attempts = _attempts(sidecar)
    rows = [
        [name, first.get(name, "-"), second.get(name, "-"), third.get(name, "-"), str(count)]
        for name, count in attempts.items()
    ]
    say(table(["step", "run 1", "run 2", "kernel", "attempts"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(run_demo())
