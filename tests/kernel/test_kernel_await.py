"""Top-level `await` in a step body, with real kernels (and papermill): it runs on the
kernel's loop like a plain cell; retries, --timeout and durable async calls work."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from ..helpers import fresh, mn, run, runs_of, tick, usage_error, value
from ..kernels import Kernel
from ..messages import RESTORED, output_text
from .test_kernel_durable import journal
from .test_kernel_faults import wait_for

pytestmark = pytest.mark.kernel

GATHER = (
    "%%mn_step gather\nimport asyncio\n"
    + tick("gather.txt")
    + "res = await asyncio.gather(*(asyncio.sleep(0.01, i) for i in range(3)))\nres\n"
)


def test_an_awaiting_body_runs_like_a_cell_and_is_restored(kernel: Kernel, workdir: Path) -> None:
    first = run(kernel, GATHER)
    assert first.plain() == ["[0, 1, 2]"]
    assert runs_of(workdir, "gather.txt") == 1
    again = run(kernel, GATHER)
    assert RESTORED in again.notes and again.plain() == ["[0, 1, 2]"]
    assert runs_of(workdir, "gather.txt") == 1
    fresh(kernel)
    run(kernel, "%mn_resume")
    assert value(kernel, "res") == "[0, 1, 2]"


def test_retries_and_timeout_work_for_awaiting_bodies(kernel: Kernel, workdir: Path) -> None:
    flaky = (
        "%%mn_step flaky --retries 2 --backoff 0\nimport asyncio\n"
        + tick("flaky.txt")
        + "await asyncio.sleep(0)\n"
        "if len(open('flaky.txt').read()) < 3:\n"
        "    raise ConnectionError('not yet')\n"
        "done = True\n"
    )
    out = run(kernel, flaky)
    assert "attempt 1/3 failed (ConnectionError: not yet)" in out.stderr
    assert runs_of(workdir, "flaky.txt") == 3 and value(kernel, "done") == "True"

    slow = "%%mn_step slow --timeout 0.5\nimport asyncio\nawait asyncio.sleep(60)\n"
    failed = kernel.run(slow, check=False, timeout=30)
    assert failed.error is not None and failed.error["ename"] == "StepTimeout", failed.error
    assert "--timeout 0.5 s" in failed.error["evalue"]
    # The kernel's loop is fine afterwards: awaiting cells and steps still run.
    assert value(kernel, "1 + 1") == "2"
    assert run(kernel, "import asyncio\nawait asyncio.sleep(0, 'ok')").plain() == ["'ok'"]


def test_bad_input_in_an_awaiting_step_is_one_line(kernel: Kernel, workdir: Path) -> None:
    body = "\nimport asyncio\nawait asyncio.sleep(0)\n"
    assert "invalid step name" in usage_error(kernel, "%%mn_step bad!name" + body)
    assert "--retries must be 0 or more" in usage_error(kernel, "%%mn_step s --retries -1" + body)
    assert "unrecognized arguments" in usage_error(kernel, "%%mn_step s --nope" + body)
    message = usage_error(
        kernel, "%%mn_step gen\nimport asyncio\nawait asyncio.sleep(0)\nyield 1\n"
    )
    assert "cannot be a generator" in message
    # With IPython's autoawait off the cell cannot await: said in one line, nothing runs.
    run(kernel, "%autoawait off")
    assert "needs IPython's autoawait" in usage_error(kernel, "%%mn_step off" + body)
    run(kernel, "%autoawait on")
    assert run(kernel, "%%mn_step on" + body).error is None
    # Unloading the extension removes its input transformer.
    run(kernel, "%unload_ext mirrorneuron_nb")
    cleanup = "[type(t).__name__ for t in get_ipython().input_transformers_cleanup]"
    assert "AwaitingSteps" not in value(kernel, cleanup)


DEFINE = (
    "%%mn_step define\n"
    "import asyncio, os, pathlib\n"
    "import mirrorneuron_nb as mn\n"
    "@mn.durable\n"
    "async def work(i):\n"
    "    await asyncio.sleep(0.01 * i)\n"
    "    if i >= 5 and not os.path.exists('go'):\n"
    "        pathlib.Path(f'started-{i}').touch()\n"
    "        await asyncio.sleep(300)  # the test kills the kernel here\n"
    "    with open(f'call-{i}.txt', 'a') as fh:\n"
    "        fh.write('x')\n"
    "    return i * i\n"
)
FAN = "%%mn_step fan\nres = await asyncio.gather(*(work(i) for i in range(8)))\n"


def test_sigkill_during_gather_reruns_only_the_unfinished_calls(
    kernel: Kernel, workdir: Path
) -> None:
    run(kernel, DEFINE)
    kernel.start(FAN)
    for i in (5, 6, 7):
        wait_for(workdir / f"started-{i}")
    kernel.kill()
    assert [runs_of(workdir, f"call-{i}.txt") for i in range(8)] == [1] * 5 + [0] * 3
    assert journal(workdir) == [(1, "succeeded")] * 5

    kernel.revive()
    run(kernel, "%load_ext mirrorneuron_nb")
    assert RESTORED in run(kernel, DEFINE).notes
    (workdir / "go").touch()
    out = run(kernel, FAN)
    assert "replayed 5 recorded call(s)" in out.stderr, out.stderr
    assert [runs_of(workdir, f"call-{i}.txt") for i in range(8)] == [1] * 8
    assert value(kernel, "res") == str([i * i for i in range(8)])


def test_awaiting_step_in_a_batch_run(workdir: Path) -> None:
    step = (
        "%%mn_step fetch\nimport asyncio\n"
        "open('counts.txt', 'a').write('fetch\\n')\n"
        "res = await asyncio.gather(*(asyncio.sleep(0.01, i) for i in range(3)))\n"
        "print('res', res)"
    )
    cells = [new_code_cell("%load_ext mirrorneuron_nb"), new_code_cell(step)]
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(
        new_notebook(cells=cells, metadata={"kernelspec": kernelspec}), workdir / "a.ipynb"
    )
    texts = []
    for _ in range(2):
        done = mn("run", "a.ipynb", "out.ipynb", cwd=workdir)
        assert done.returncode == 0, done.stdout + done.stderr
        out = nbformat.read(workdir / "out.ipynb", as_version=4)
        texts.append("".join(output_text(o) for o in out.cells[-1].outputs))
    assert "res [0, 1, 2]" in texts[0] and RESTORED not in texts[0]
    assert "res [0, 1, 2]" in texts[1] and RESTORED in texts[1]
    assert (workdir / "counts.txt").read_text().split() == ["fetch"]
