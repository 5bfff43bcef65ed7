"""The README's main job: run a notebook that fails midway, kill the kernel, resume,
finish, and print the step table. Everything runs in a real kernel."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from .kernelclient import Kernel
from .notebook import split_cell

OUTAGE_FLAG = "demo_outage.flag"


def demo_notebook() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here / "_data" / "demo.ipynb", here.parent / "notebooks" / "demo.ipynb"):
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
    parsed = split_cell(code)
    return f"step {parsed[0].split()[0]}" if parsed else code.splitlines()[0]


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
        restored = "restored from checkpoint" in result.stderr
        verb = "restored" if restored else "ran"
        if split_cell(code) is not None:
            say(f"  - {_label(code)}: {verb} in {took:.1f} s")
    return None


def run_demo(workdir: Path | None = None, say: Callable[[str], None] = print) -> int:
    work = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="mn-demo-"))
    work.mkdir(parents=True, exist_ok=True)
    notebook = work / "demo.ipynb"
    shutil.copyfile(demo_notebook(), notebook)
    shutil.rmtree(work / "demo.mn", ignore_errors=True)
    cells = [c for c in _cells(notebook) if not c.startswith("%mn_status")]
    env = {"JPY_SESSION_NAME": str(notebook)}
    say(f"mirrorneuron_nb demo in {work}\n")

    (work / OUTAGE_FLAG).touch()
    say("1. Run the notebook during a (simulated) API outage:")
    kernel = Kernel(work, env=env)
    try:
        failed = _run_cells(kernel, cells, say)
        if failed is None:
            say("the outage did not make the run fail: demo notebook changed?")
            return 1
        say("\n2. The kernel dies (SIGKILL), as after an OOM kill.")
        kernel.kill()
        (work / OUTAGE_FLAG).unlink()
        say("   The API is back. A fresh kernel resumes from the last good step:\n")
        kernel.revive()
        kernel.run("%load_ext mirrorneuron_nb")
        began = time.perf_counter()
        report = kernel.run("%mn_resume")
        say("   " + report.stdout.strip().replace("\n", "\n   "))
        say(f"   (resume took {time.perf_counter() - began:.2f} s round trip)\n")
        say("3. Continue from the failed step:")
        if _run_cells(kernel, cells[failed:], say) is not None:
            return 1
        say("\n4. Run the whole notebook again: nothing that succeeded runs twice:")
        kernel.restart()
        if _run_cells(kernel, cells, say) is not None:
            return 1
        say("\n5. The step table (also: %mn_status in the notebook):\n")
        say(kernel.run("%mn_status").stdout.rstrip())
    finally:
        kernel.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(run_demo())
