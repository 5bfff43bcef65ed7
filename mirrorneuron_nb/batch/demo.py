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

from ..notebook import step_name
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


def _label(code: str) -> str:
    name = step_name(code)
    return f"step {name}" if name else code.splitlines()[0]


def _run_cells(kernel: Kernel, cells: list[str], say: Callable[[str], None]) -> int | None:
    """Run cells in order; return the index of the first failing cell, or None."""
    for index, code in enumerate(cells):
        began = time.perf_counter()
        result = kernel.run(code, check=False)
        took = time.perf_counter() - began
        if result.error is not None:
            say(
                f"  x {_label(code)} failed after {took:.1f} s: "
                f"{result.error['ename']}: {result.error['evalue']}"
            )
            return index
        restored = "restored from checkpoint" in result.notes
        verb = "restored" if restored else "ran"
        if step_name(code) is not None:
            say(f"  - {_label(code)}: {verb} in {took:.1f} s")
    return None


def _batch(notebook: Path, say: Callable[[str], None]) -> bool:
    from .run import CellOutcome, run_notebook

    def progress(outcome: CellOutcome) -> None:
        detail = f"  {outcome.error}" if outcome.error else ""
        say(f"   {outcome.step:<10} {outcome.outcome:<9} {outcome.seconds:5.1f} s{detail}")

    result = run_notebook(notebook, notebook.with_name("demo.out.ipynb"), {}, progress=progress)
    say(f"   -> {'succeeded' if result.ok else 'failed'} in {result.seconds:.1f} s")
    return result.ok


def run_demo(workdir: Path | None = None, say: Callable[[str], None] = print) -> int:
    work = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="mn-demo-"))
    work.mkdir(parents=True, exist_ok=True)
    notebook = work / "demo.ipynb"
    shutil.copyfile(demo_notebook(), notebook)
    shutil.rmtree(work / "demo.mn", ignore_errors=True)
    cells = [c for c in _cells(notebook) if not c.startswith("%mn_status")]
    say(f"mirrorneuron_nb demo in {work}\n")

    (work / OUTAGE_FLAG).touch()
    say("1. A batch run (`mn-nb run demo.ipynb`, papermill underneath) during an API outage:")
    if _batch(notebook, say):
        say("the outage did not make the run fail: demo notebook changed?")
        return 1
    (work / OUTAGE_FLAG).unlink()
    say("\n2. The API is back. The same command again resumes at the failed step:")
    if not _batch(notebook, say):
        return 1

    say("\n3. Interactive: a kernel on the notebook runs its cells, then dies (SIGKILL),")
    say("   as after an OOM kill. A fresh kernel gets its state back with %mn_resume:")
    kernel = Kernel(work, env={"JPY_SESSION_NAME": str(notebook)})
    try:
        if _run_cells(kernel, cells, say) is not None:
            return 1
        kernel.kill()
        kernel.revive()
        kernel.run("%load_ext mirrorneuron_nb")
        began = time.perf_counter()
        report = kernel.run("%mn_resume")
        say("\n   " + report.stdout.strip().replace("\n", "\n   "))
        say(f"   (round trip {time.perf_counter() - began:.2f} s)")
        check = kernel.run("print(f'{len(targets)} targets, df has {len(df):,} rows')")
        say("   >>> after resume: " + check.stdout.strip())
        say("\n4. The step table (mn-nb status demo.ipynb, or %mn_status in the notebook):\n")
        say(kernel.run("%mn_status").notes.rstrip())
    finally:
        kernel.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(run_demo())
