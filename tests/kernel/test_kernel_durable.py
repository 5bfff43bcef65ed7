"""Real-kernel tests of durable calls: a completed call is never repeated by a re-run, a
retry, or a kernel killed with SIGKILL mid-loop. Counter files count executions."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ..kernels import Kernel
from ..messages import RESTORED
from .test_kernel_faults import status_of, wait_for
from .test_kernel_steps import run, runs_of, sidecar, usage_error, value

pytestmark = pytest.mark.kernel

WIDGET = "application/vnd.jupyter.widget-view+json"

# A step that defines the durable function: re-running it in a new kernel restores the
# function from its checkpoint (by value), which is what the loop then calls.
DEFINE = (
    "%%mn_step define\n"
    "import os, pathlib, time\n"
    "import mirrorneuron_nb as mn\n"
    "@mn.durable\n"
    "def work(x):\n"
    "    if x == 120 and not os.path.exists('paused'):\n"
    "        pathlib.Path('paused').touch()\n"
    "        time.sleep(300)  # the test kills the kernel here\n"
    "    with open('count.txt', 'a') as fh:\n"
    "        fh.write('x')\n"
    "    return (x * x, os.getpid())\n"
)
LOOP = "%%mn_step loop\nresults = [work(x) for x in range(200)]\n"


def journal(workdir: Path) -> list[tuple[int, str]]:
    """(open, status) of every recorded call."""
    conn = sqlite3.connect(sidecar(workdir) / "state.sqlite")
    try:
        return [tuple(r) for r in conn.execute("SELECT open, status FROM durable_calls")]
    finally:
        conn.close()


def test_sigkill_mid_loop_resumes_at_the_next_call(kernel: Kernel, workdir: Path) -> None:
    run(kernel, DEFINE)
    first_pid = value(kernel, "os.getpid()")
    kernel.start(LOOP)
    wait_for(workdir / "paused")  # call 120 is running: calls 0..119 have returned
    assert runs_of(workdir, "count.txt") == 120
    kernel.kill()
    assert journal(workdir) == [(1, "succeeded")] * 120  # each committed as it returned

    kernel.revive()
    run(kernel, "%load_ext mirrorneuron_nb")
    assert RESTORED in run(kernel, DEFINE).notes
    out = run(kernel, LOOP)
    assert "mn_step loop: replayed 120 recorded call(s), running from call 121" in out.stderr
    assert "durable calls: 200 made: 120 replayed, 80 run" in out.stderr
    # The progress bar is a widget only: nothing of it lands in the recorded outputs.
    assert any(WIDGET in d and "text/plain" not in d for d in out.displays), out.displays

    assert runs_of(workdir, "count.txt") == 200  # the body ran exactly 200 times in all
    assert value(kernel, "[r[0] for r in results] == [x * x for x in range(200)]") == "True"
    # The first 120 results are the ones the killed kernel recorded, not recomputed.
    pids = value(
        kernel,
        "[len({r[1] for r in results[:120]}), results[0][1], "
        "{r[1] for r in results[120:]} == {os.getpid()}]",
    )
    assert pids == f"[1, {first_pid}, True]", pids
    assert "durable calls: 200 recorded" in status_of(kernel, "loop")
    assert journal(workdir) == [(0, "succeeded")] * 200  # closed by the commit

    # A new kernel: the restored function fingerprints the same, so the step is cached.
    kernel.restart()
    run(kernel, "%load_ext mirrorneuron_nb")
    run(kernel, DEFINE)
    assert RESTORED in run(kernel, LOOP).notes
    assert runs_of(workdir, "count.txt") == 200


FETCH = (
    "import os\n"
    "import mirrorneuron_nb as mn\n"
    "@mn.durable\n"
    "def fetch(x):\n"
    "    with open('fetch.txt', 'a') as fh:\n"
    "        fh.write('x')\n"
    "    if x == 3 and not os.path.exists('api-up'):\n"
    "        raise ConnectionError('API down')\n"
    "    return x + 100\n"
)
FETCH_ALL = (
    "%%mn_step fetch_all\n"
    "out = [fetch(x) for x in range(6)]\n"
    "if not os.path.exists('checked'):\n"
    "    raise RuntimeError('check failed after the calls')\n"
)


def test_a_failed_step_rerun_does_not_repeat_recorded_calls(kernel: Kernel, workdir: Path) -> None:
    run(kernel, FETCH)
    failed = kernel.run(FETCH_ALL, check=False)
    assert failed.error is not None and failed.error["ename"] == "ConnectionError"
    assert runs_of(workdir, "fetch.txt") == 4  # 0, 1, 2 recorded; 3 raised
    row = status_of(kernel, "fetch_all")
    assert " failed " in row and "durable calls: 3 recorded, 1 failed" in row, row

    (workdir / "api-up").touch()
    failed = kernel.run(FETCH_ALL, check=False)  # now the body fails after its calls
    assert failed.error is not None and failed.error["ename"] == "RuntimeError"
    assert "replayed 3 recorded call(s), running from call 4" in failed.stderr
    assert runs_of(workdir, "fetch.txt") == 7  # the failed call ran again, then 4 and 5

    (workdir / "checked").touch()
    out = run(kernel, FETCH_ALL)
    assert "durable calls: 6 made: 6 replayed, 0 run" in out.stderr
    assert runs_of(workdir, "fetch.txt") == 7  # nothing recorded ran again
    assert value(kernel, "out") == "[100, 101, 102, 103, 104, 105]"
    assert "durable calls: 6 recorded, 1 failed" in status_of(kernel, "fetch_all")


def test_after_success_a_forced_rerun_calls_again(kernel: Kernel, workdir: Path) -> None:
    (workdir / "api-up").touch()
    (workdir / "checked").touch()
    run(kernel, FETCH)
    run(kernel, FETCH_ALL)
    assert runs_of(workdir, "fetch.txt") == 6
    assert RESTORED in run(kernel, FETCH_ALL).notes
    assert runs_of(workdir, "fetch.txt") == 6
    forced = run(kernel, FETCH_ALL.replace("fetch_all\n", "fetch_all --force\n", 1))
    assert "durable calls: 6 made: 0 replayed, 6 run" in forced.stderr
    assert runs_of(workdir, "fetch.txt") == 12  # the closed journal is not replayed


DRAW = (
    "import os\n"
    "import mirrorneuron_nb as mn\n"
    "@mn.durable\n"
    "def draw(seed):\n"
    "    with open('draws.txt', 'a') as fh:\n"
    "        fh.write('x')\n"
    "    return len(open('draws.txt').read())\n"
)
DRAWS = (
    "%%mn_step draws\n"
    "got = [draw(0) for _ in range(3)]\n"
    "if not os.path.exists('go'):\n"
    "    raise RuntimeError('not yet')\n"
)


def test_equal_arguments_replay_in_order_and_outside_a_step_it_just_runs(
    kernel: Kernel, workdir: Path
) -> None:
    run(kernel, DRAW)
    assert kernel.run(DRAWS, check=False).error is not None
    assert runs_of(workdir, "draws.txt") == 3
    (workdir / "go").touch()
    run(kernel, DRAWS)
    assert runs_of(workdir, "draws.txt") == 3  # 0 executions on replay
    assert value(kernel, "got") == "[1, 2, 3]"  # each occurrence got its own result

    # Outside any step the function simply runs, every time, and nothing is recorded.
    before = journal(workdir)
    assert value(kernel, "[draw(0), draw(0)]") == "[4, 5]"
    assert journal(workdir) == before

    # Misuse is a one-line UsageError in a step, and nothing is recorded.
    message = usage_error(kernel, "%%mn_step bad\n@mn.durable\ndef gen():\n    yield 1\n")
    assert "cannot record generator function 'gen'" in message, message
    message = usage_error(kernel, "%%mn_step bad\nmn.call(lambda: 1)\n")
    assert "cannot record a lambda" in message, message
    assert journal(workdir) == before


def test_a_retried_attempt_replays_the_calls_of_the_failed_one(
    kernel: Kernel, workdir: Path
) -> None:
    (workdir / "api-up").touch()
    run(kernel, FETCH)
    out = run(
        kernel,
        "%%mn_step retried --retries 2 --backoff 0\n"
        "vals = [fetch(x) for x in range(3)]\n"
        "with open('attempts.txt', 'a') as fh:\n"
        "    fh.write('x')\n"
        "if len(open('attempts.txt').read()) < 2:\n"
        "    raise RuntimeError('flaky after the calls')\n",
    )
    assert runs_of(workdir, "attempts.txt") == 2
    assert runs_of(workdir, "fetch.txt") == 3  # attempt 2 replayed all three
    assert "durable calls: 3 made: 3 replayed, 0 run" in out.stderr
    assert value(kernel, "vals") == "[100, 101, 102]"
