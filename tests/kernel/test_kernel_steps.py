"""Real-kernel tests of one step's life: never twice, outputs replay, failure, dedup, bad input."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ..helpers import db_content, fresh, run, runs_of, sidecar, tick, usage_error, value
from ..kernels import Execution, Kernel
from ..messages import RESTORED

pytestmark = pytest.mark.kernel

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def blob_files(path: Path) -> list[str]:
    root = path / "blobs"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


def blobs_size(path: Path) -> int:
    root = path / "blobs"
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


# -- 1. never twice ------------------------------------------------------------------------


def test_step_body_never_runs_twice_for_the_same_code_and_inputs(
    kernel: Kernel, workdir: Path
) -> None:
    body = "import math\n" + tick("count.txt") + "n = 6 * 7\nroot = math.sqrt(n)\n"
    cell = "%%mn_step count\n" + body

    first = run(kernel, cell)
    assert RESTORED not in first.notes
    for _ in range(2):
        again = run(kernel, cell)
        assert "mn_step count: restored from checkpoint" in again.notes
    assert runs_of(workdir, "count.txt") == 1

    # A new kernel knows nothing in memory: the checkpoint alone prevents the re-run.
    fresh(kernel)
    assert value(kernel, "'n' in globals()") == "False"
    hit = run(kernel, cell)
    assert "mn_step count: restored from checkpoint" in hit.notes
    assert runs_of(workdir, "count.txt") == 1
    assert value(kernel, "(n, root == math.sqrt(42), math.__name__)") == "(42, True, 'math')"

    # --force runs it although the checkpoint matches; the next plain run is a hit again.
    forced = run(kernel, "%%mn_step count --force\n" + body)
    assert RESTORED not in forced.notes
    assert runs_of(workdir, "count.txt") == 2
    run(kernel, cell)
    assert runs_of(workdir, "count.txt") == 2

    # Editing the code is a new cache key: the body runs and its new values are kept.
    edited = "%%mn_step count\n" + body.replace("6 * 7", "6 * 8")
    out = run(kernel, edited)
    assert RESTORED not in out.notes
    assert runs_of(workdir, "count.txt") == 3
    assert value(kernel, "n") == "48"
    fresh(kernel)
    assert RESTORED in run(kernel, edited).notes
    assert runs_of(workdir, "count.txt") == 3
    assert value(kernel, "n") == "48"


def test_changed_input_reruns_the_step(kernel: Kernel, workdir: Path) -> None:
    run(kernel, "%%mn_step source\nbase = [1, 2, 3]\n")
    cell = "%%mn_step derive\n" + tick("derive.txt") + "total = sum(base)\n"
    run(kernel, cell)
    run(kernel, cell)
    assert runs_of(workdir, "derive.txt") == 1
    run(kernel, "base.append(4)")  # the step's input changed outside any step
    run(kernel, cell)
    assert runs_of(workdir, "derive.txt") == 2
    assert value(kernel, "total") == "10"


# -- 7. outputs replay ---------------------------------------------------------------------


def test_cache_hit_replays_printed_text_and_rich_displays(kernel: Kernel, workdir: Path) -> None:
    cell = (
        "%%mn_step show\n"
        "from IPython.display import HTML, display\n"
        + tick("show.txt")
        + "print('hello from the step body')\n"
        "display(HTML('<b>bold result</b>'))\n"
        "40 + 2\n"
    )

    def html(out: Execution) -> list[str]:
        return [d["text/html"] for d in out.displays if "text/html" in d]

    first = run(kernel, cell)
    assert "hello from the step body" in first.stdout
    assert html(first) == ["<b>bold result</b>"]
    assert "42" in first.plain()

    for restart in (False, True):
        if restart:
            fresh(kernel)
        hit = run(kernel, cell)
        assert "mn_step show: restored from checkpoint" in hit.notes
        assert runs_of(workdir, "show.txt") == 1
        assert hit.stdout == first.stdout
        assert html(hit) == ["<b>bold result</b>"]
        assert "42" in hit.plain()


# -- 6. failure ----------------------------------------------------------------------------


def test_failing_step_reports_its_error_and_a_fixed_rerun_succeeds(
    kernel: Kernel, workdir: Path
) -> None:
    broken = "%%mn_step divide\n" + tick("divide.txt") + "num = 10\nratio = num / 0\n"
    out = kernel.run(broken, check=False)
    assert out.error is not None and out.error["ename"] == "ZeroDivisionError"
    shown = ANSI.sub("", "\n".join(out.error["traceback"]))
    # The frame the user sees is the step body's own line, marked as the failing one.
    assert re.search(r"-+> *5 ratio = num / 0", shown), shown

    status = run(kernel, "%mn_status").notes
    row = next(line for line in status.splitlines() if line.startswith("divide "))
    assert " failed " in row and "ZeroDivisionError: division by zero" in row, status

    # A failed attempt leaves no checkpoint: the same cell runs (and fails) again.
    again = kernel.run(broken, check=False)
    assert again.error is not None and again.error["ename"] == "ZeroDivisionError"
    assert runs_of(workdir, "divide.txt") == 2

    fixed = broken.replace("num / 0", "num / 4")
    run(kernel, fixed)
    assert runs_of(workdir, "divide.txt") == 3
    status = run(kernel, "%mn_status").notes
    row = next(line for line in status.splitlines() if line.startswith("divide "))
    assert " succeeded " in row and "ZeroDivisionError" not in row, status

    fresh(kernel)
    out = run(kernel, "%mn_resume")
    assert "not restored" not in out.stdout, out.stdout
    assert value(kernel, "(num, ratio)") == "(10, 2.5)"
    assert RESTORED in run(kernel, fixed).notes
    assert runs_of(workdir, "divide.txt") == 3


# -- 4. dedup ------------------------------------------------------------------------------


def test_rerun_with_an_unchanged_large_array_stores_no_new_blob(
    kernel: Kernel, workdir: Path
) -> None:
    body = "import numpy as np\nbig = np.random.default_rng(7).random(2_500_000)\n"  # 20 MB
    run(kernel, "%%mn_step big\n" + body)
    first = blobs_size(sidecar(workdir))
    assert first >= 20_000_000  # the array really is stored

    run(kernel, "%%mn_step big --force\n" + body)  # a new, equal array object is bound
    run(kernel, "%%mn_step copy\nbig2 = big.copy()\n")  # another step, same content
    assert blobs_size(sidecar(workdir)) - first < 1_000_000

    original = "float(np.random.default_rng(7).random(2_500_000)[123])"
    fresh(kernel)
    run(kernel, "%mn_resume")
    assert value(kernel, f"(np.array_equal(big, big2), float(big[123]) == {original})") == (
        "(True, True)"
    )
    # Restored arrays are copy-on-write maps of the blobs: writing to one is allowed and
    # never reaches the checkpoint.
    run(kernel, "big[123] = -1.0\nbig2 += 1.0")
    fresh(kernel)
    run(kernel, "%mn_resume")
    assert value(kernel, f"(float(big[123]) == float(big2[123]) == {original})") == "True"


# -- 8. bad input changes nothing ----------------------------------------------------------


BAD_INPUTS = [
    ("%%mn_step bad name\nx = 1\n", "unrecognized arguments"),
    ("%%mn_step ../x\nx = 1\n", "invalid step name"),
    ("%%mn_step ok --nope\nx = 1\n", "--nope"),
    ("%%mn_step ok --after nosuch\nx = 1\n", "nosuch"),
    ("%%mn_step ok --outputs ,\nx = 1\n", "--outputs"),
    ("%%mn_step ok\nx = (\n", "syntax error"),
    ("%mn_reset nosuch", "nosuch"),
    ("%mn_reset", "--all"),
    ("%mn_reset ../x", "invalid step name"),
    ("%mn_resume --to nosuch", "nosuch"),
    ("%mn_resume --to ../x", "invalid step name"),
    ("%mn_status --verbose", "unrecognized arguments"),
]


def test_bad_input_is_a_one_line_usage_error_and_changes_nothing(
    kernel: Kernel, workdir: Path
) -> None:
    run(kernel, "%%mn_step good\nimport numpy as np\nkept = np.arange(100_000)\n")
    # A fresh kernel has no run yet: a bad command must not even start one.
    fresh(kernel)
    before = db_content(sidecar(workdir))
    files = blob_files(sidecar(workdir))
    for code, mention in BAD_INPUTS:
        message = usage_error(kernel, code)
        assert mention in message, (code, message)
        assert value(kernel, "'x' in globals()") == "False", code
    assert db_content(sidecar(workdir)) == before
    assert blob_files(sidecar(workdir)) == files
    # ...and in a kernel that has already run steps.
    run(kernel, "%%mn_step good\nimport numpy as np\nkept = np.arange(100_000)\n")
    before = db_content(sidecar(workdir))
    for code, _ in BAD_INPUTS:
        usage_error(kernel, code)
    assert db_content(sidecar(workdir)) == before
    assert blob_files(sidecar(workdir)) == files
