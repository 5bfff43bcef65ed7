"""Write-behind checkpoints in a real kernel: the cell returns before its checkpoint
commits (`checkpointing`, seen from another process), later cells that touch a value
written from live memory wait until it is written (not for its commit), what is written
is the value as the step left it, failures are reported, a kernel dying mid-write leaves
the previous checkpoint, and the pending-bytes bound.

MIRRORNEURON_WRITER_DELAY (tests only) makes the writer sleep before each checkpoint,
so the window between the cell's return and the commit is wide enough to look at. A
mutation that did not wait would be caught: the bytes would no longer hash to the
value's digest, and the checkpoint would fail instead of landing.
"""

from __future__ import annotations

import ast
import contextlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from mirrorneuron_nb.batch.driver import Execution
from mirrorneuron_nb.store import Store

from ..helpers import checkpointed, sidecar, stored, value
from ..helpers import run as run_settled
from ..kernels import Kernel


def run(kernel: Kernel, code: str) -> Execution:
    """A cell, with no wait for its checkpoint after it (these tests watch it being
    written, or count fingerprints, which the silent flush would forget)."""
    kernel.settle = False
    return run_settled(kernel, code)


pytestmark = pytest.mark.kernel

ARRAY_STEP = "%%mn_step load\nimport numpy as np\na = np.arange(1_000_000, dtype=float)\n"


def delay(kernel: Kernel, seconds: float) -> None:
    run(kernel, f"import os\nos.environ['MIRRORNEURON_WRITER_DELAY'] = '{seconds}'\ndel os")


def flush(kernel: Kernel) -> str:
    """Wait for every pending checkpoint; what the cell printed to stderr."""
    return run(kernel, "import mirrorneuron_nb as _m\n_m.flush()").stderr


@contextlib.contextmanager
def write_lock(workdir: Path) -> Iterator[None]:
    """Hold the sidecar database's write lock, as another process writing would: no
    commit can land meanwhile."""
    conn = sqlite3.connect(sidecar(workdir) / "state.sqlite", isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield
    finally:
        conn.rollback()
        conn.close()


def assert_load_landed(workdir: Path) -> None:
    """ARRAY_STEP's checkpoint committed, holding `a` as the step left it."""
    assert stored(workdir, "load") == ("succeeded", 1)
    saved = checkpointed(workdir, "load", "a")
    assert isinstance(saved, np.ndarray) and float(saved[-1]) == 999_999.0


def test_the_cell_returns_before_the_commit_and_readers_wait_for_it(
    kernel: Kernel, workdir: Path
) -> None:
    delay(kernel, 3)
    run(kernel, ARRAY_STEP)
    # Control is back; the checkpoint is not visible to anyone yet.
    assert stored(workdir, "load") == ("checkpointing", 0)
    run(kernel, "unrelated = 1")  # touches nothing being written: does not wait
    assert stored(workdir, "load") == ("checkpointing", 0)
    # A cell that mutates `a` waits until `a` is written: what lands is `a` before it.
    out = run(kernel, "a *= 2\nprint(float(a[-1]))")
    assert out.stdout.strip() == "1999998.0"
    assert "could not be written" not in out.stderr + flush(kernel)
    assert_load_landed(workdir)


def test_a_reader_waits_for_the_write_not_for_the_commit(kernel: Kernel, workdir: Path) -> None:
    """Once `a`'s bytes are written and checked, a cell mutating it runs, though the
    commit cannot land yet (another process holds the database's write lock; the
    writer's 2 s sleep leaves time to take it before the commit)."""
    delay(kernel, 2)
    run(kernel, ARRAY_STEP)
    with write_lock(workdir):
        out = run(kernel, "a *= 2\nprint(float(a[-1]))")
        assert out.stdout.strip() == "1999998.0"
        assert stored(workdir, "load") == ("checkpointing", 0)
    assert "could not be written" not in out.stderr + flush(kernel)
    assert_load_landed(workdir)


def test_a_later_checkpoints_array_is_written_before_an_earlier_commit(
    kernel: Kernel, workdir: Path
) -> None:
    """Two big checkpoints queued back to back: the second one's array is written while
    the first cannot commit (another process holds the write lock), so a cell mutating
    it runs; both land as their steps left them once the lock goes."""
    delay(kernel, 2)
    run(kernel, ARRAY_STEP)
    second = "%%mn_step second\nimport numpy as np\nb = np.arange(1_000_000, dtype=float) * 3\n"
    run(kernel, second)  # (not `a`'s bytes: those would be written once, for both)
    with write_lock(workdir):
        out = run(kernel, "b *= 2\nprint(float(b[-1]))")
        assert out.stdout.strip() == "5999994.0"
        assert stored(workdir, "load") == ("checkpointing", 0)
        assert stored(workdir, "second") == ("checkpointing", 0)
    assert "could not be written" not in out.stderr + flush(kernel)
    assert_load_landed(workdir)
    saved = checkpointed(workdir, "second", "b")
    assert isinstance(saved, np.ndarray) and float(saved[-1]) == 2_999_997.0


def test_a_cell_using_a_module_the_pending_step_imported_does_not_wait(
    kernel: Kernel, workdir: Path
) -> None:
    delay(kernel, 3)
    run(kernel, ARRAY_STEP)
    # `np` is in the pending checkpoint only as its import name: using it waits for nothing.
    run(kernel, "b = np.zeros(3)")
    assert stored(workdir, "load") == ("checkpointing", 0)
    run(kernel, "a[-1] = -5.0")  # `a` itself is still ordered after its write
    assert "could not be written" not in flush(kernel)
    assert_load_landed(workdir)


def test_rebinding_a_pending_name_does_not_wait_and_the_frozen_value_lands(
    kernel: Kernel, workdir: Path
) -> None:
    delay(kernel, 3)
    run(kernel, ARRAY_STEP)
    run(kernel, "a = 'replaced'")  # binds the name only: the value being written is frozen
    assert stored(workdir, "load") == ("checkpointing", 0)
    run(kernel, "import mirrorneuron_nb as _m\n_m.flush()")
    saved = checkpointed(workdir, "load", "a")
    assert isinstance(saved, np.ndarray) and float(saved[-1]) == 999_999.0


def test_a_mutation_through_an_alias_cannot_reach_a_pending_write(
    kernel: Kernel, workdir: Path
) -> None:
    """No name of `a` appears in the cell that mutates it (a timer thread holds a view):
    the write is frozen before the cell returns, so the checkpoint holds the step's value."""
    delay(kernel, 3)
    run(
        kernel,
        "%%mn_step alias\nimport numpy as np, threading\n"
        "a = np.ones(1_000_000)\n"
        "def _poke(view=a[:]):\n"
        "    view[:] = -1\n"
        "    open('poked', 'w').close()\n"
        "threading.Timer(0.2, _poke).start()\n"
        "del _poke\n",
    )
    deadline = time.monotonic() + 60
    while not (workdir / "poked").exists():
        assert time.monotonic() < deadline, "the timer never ran"
        time.sleep(0.01)
    assert stored(workdir, "alias") == ("checkpointing", 0)  # mutated while pending
    assert value(kernel, "float(a.sum())") == "-1000000.0"
    assert "could not be written" not in flush(kernel)
    saved = checkpointed(workdir, "alias", "a")
    assert isinstance(saved, np.ndarray) and float(saved.sum()) == 1_000_000.0


def test_a_big_array_is_written_from_memory_and_code_reaching_it_waits(
    kernel: Kernel, workdir: Path
) -> None:
    """No copy of the array is made in the cell (the writer writes it from memory later),
    so a cell calling notebook code, which may reach it, waits until it is written."""
    run(kernel, "def bump():\n    a[-1] += 1\n    return float(a[-1])\n")
    delay(kernel, 3)
    run(kernel, ARRAY_STEP)
    assert stored(workdir, "load") == ("checkpointing", 0)
    assert not list(workdir.rglob(".tmp-*"))  # nothing frozen in the cell
    assert run(kernel, "print(bump())").stdout.strip() == "1000000.0"
    assert "could not be written" not in flush(kernel)
    assert_load_landed(workdir)


def test_memory_changed_while_written_fails_the_checkpoint_never_lands_it(
    kernel: Kernel, workdir: Path
) -> None:
    """A view kept where no analysis looks (a module's attribute) is written into while
    the array is being written: the bytes no longer hash to the step's digest, so that
    checkpoint fails, reported, and the previous one stays."""
    run_settled(kernel, "%%mn_step load\nimport numpy as np\na = np.zeros(1_000_000)\n")
    delay(kernel, 3)
    run(
        kernel,
        "%%mn_step load\nimport numpy as np, json\n"
        "a = np.arange(1_000_000, dtype=float)\njson._kept = a[:]\n",
    )
    run(kernel, "import json\njson._kept[:] = -1\n")  # names no pending value: no wait
    out = run(kernel, "print(float(a[-1]))")  # reads `a`: waits, and learns of it
    assert out.stdout.strip() == "-1.0"
    assert (
        "mn_step load: its checkpoint could not be written (its value was changed while "
        "being written behind the cell" in out.stderr
    ), out.stderr
    assert stored(workdir, "load") == ("failed", 1)
    saved = checkpointed(workdir, "load", "a")
    assert isinstance(saved, np.ndarray) and float(saved.sum()) == 0.0
    assert not list(workdir.rglob(".tmp-*"))


def test_a_failed_background_write_is_reported_by_the_next_cell(
    kernel: Kernel, workdir: Path
) -> None:
    """The pickle stream of a list (kept in memory, written by the writer) is over the
    process's file size limit: the write fails behind the cell, and the next cell says so.
    A cell reading the list does not wait for the writer: it was frozen in its cell."""
    run(kernel, "%%mn_step big\nbig = list(range(10))\n")
    delay(kernel, 3)
    run(
        kernel,
        "import resource, signal\nsignal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "_soft, _hard = resource.getrlimit(resource.RLIMIT_FSIZE)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (8_000_000, _hard))\n",
    )
    step = run(kernel, "%%mn_step big\nbig = list(range(3_000_000))\n")
    assert "could not be written" not in step.stderr, step.stderr
    early = run(kernel, "print(len(big))")
    assert early.stdout.strip() == "3000000"  # the value stays in the kernel
    assert stored(workdir, "big") == ("checkpointing", 1)  # (the writer sleeps 3 s)
    said = "mn_step big: its checkpoint could not be written (OSError: [Errno 27] File too large)"
    assert "could not be written" not in early.stderr, early.stderr
    deadline = time.monotonic() + 60
    while said not in (out := run(kernel, "pass")).stderr:  # the first cell after it says so
        assert "could not be written" not in out.stderr, out.stderr
        assert time.monotonic() < deadline, "the write never failed"
        time.sleep(0.05)
    assert "re-run step 'big' to checkpoint them" in out.stderr
    assert stored(workdir, "big") == ("failed", 1)  # the previous checkpoint is kept
    assert checkpointed(workdir, "big", "big") == list(range(10))
    store = Store(sidecar(workdir), readonly=True)
    try:
        last = store.attempts("big")[-1]
        assert last.status == "failed"
        assert (last.error or "").startswith("checkpoint not written: OSError: [Errno 27]")
        kinds = [e.kind for e in store.events("big")]
        after = kinds[len(kinds) - kinds[::-1].index("checkpointing") :]
        assert after[0] == "failed" and "succeeded" not in after, kinds
    finally:
        store.close()
    assert "could not be written" not in run(kernel, "pass").stderr  # said once


def test_a_kernel_killed_while_checkpointing_leaves_the_previous_checkpoint(
    kernel: Kernel, workdir: Path
) -> None:
    run(kernel, "%%mn_step grow\nx = [1, 2, 3] * 100_000\n")
    delay(kernel, 60)
    run(kernel, "%%mn_step grow\nx = [4, 5, 6] * 100_000\n")
    assert stored(workdir, "grow") == ("checkpointing", 1)
    kernel.kill()
    kernel.revive()
    run(kernel, "%load_ext mirrorneuron_nb")
    report = run(kernel, "%mn_resume").stdout
    assert "step 'grow': its last run is interrupted; restored its last good checkpoint" in report
    assert value(kernel, "x[:3]") == "[1, 2, 3]"
    assert stored(workdir, "grow") == ("interrupted", 1)
    # Never served: the step runs again.
    again = run(kernel, "%%mn_step grow\nx = [4, 5, 6] * 100_000\n")
    assert "restored from checkpoint" not in again.notes
    assert value(kernel, "x[:3]") == "[4, 5, 6]"


def test_a_kernel_killed_before_an_inert_step_commits_leaves_the_previous_checkpoint(
    kernel: Kernel, workdir: Path
) -> None:
    """An inert step is claimed and committed by the writer behind its cell: killed before
    that, the step holds what it held before, is not left running, and runs again."""
    run(kernel, "%%mn_step config\nlr = 0.1\nlabel = 'first'\n")
    run(kernel, "import mirrorneuron_nb as _m\n_m.flush()")
    delay(kernel, 60)
    run(kernel, "%%mn_step config\nlr = 0.2\nlabel = 'second'\n")
    assert stored(workdir, "config") == ("succeeded", 1)  # nothing of the second run yet
    kernel.kill()
    kernel.revive()
    run(kernel, "%load_ext mirrorneuron_nb")
    run(kernel, "%mn_resume")
    assert value(kernel, "(lr, label)") == "(0.1, 'first')"
    assert stored(workdir, "config") == ("succeeded", 1)
    again = run(kernel, "%%mn_step config\nlr = 0.2\nlabel = 'second'\n")
    assert "restored from checkpoint" not in again.notes
    run(kernel, "import mirrorneuron_nb as _m\n_m.flush()")
    assert value(kernel, "(lr, label)") == "(0.2, 'second')"
    assert stored(workdir, "config") == ("succeeded", 2)


def test_an_inert_step_behind_a_big_pending_write_shows_checkpointing(
    kernel: Kernel, workdir: Path
) -> None:
    """Behind a checkpoint still writing its blobs, an inert step is claimed in its cell
    (not when the writer reaches it): meanwhile it shows `checkpointing`, not nothing."""
    delay(kernel, 3)
    run(kernel, ARRAY_STEP)
    run(kernel, "%%mn_step config\nlr = 0.1\n")
    assert stored(workdir, "config") == ("checkpointing", 0)
    run(kernel, "import mirrorneuron_nb as _m\n_m.flush()")
    assert stored(workdir, "config") == ("succeeded", 1)


def test_kernel_shutdown_lands_pending_checkpoints(kernel: Kernel, workdir: Path) -> None:
    delay(kernel, 1)
    run(kernel, ARRAY_STEP)
    assert stored(workdir, "load") == ("checkpointing", 0)
    kernel.kc.stop_channels()
    kernel.km.shutdown_kernel(now=False)  # a graceful shutdown: atexit runs
    assert stored(workdir, "load") == ("succeeded", 1)


def test_past_the_pending_bytes_bound_the_cell_waits(kernel: Kernel, workdir: Path) -> None:
    delay(kernel, 1)
    run(kernel, "import os\nos.environ['MIRRORNEURON_PENDING_BYTES'] = '1000000'\ndel os")
    first = run(kernel, ARRAY_STEP)  # 8 MB: over the bound, written through
    assert "cells wait for the disk past it" in first.stderr, first.stderr
    assert "MIRRORNEURON_PENDING_BYTES" in first.stderr
    assert stored(workdir, "load") == ("succeeded", 1)
    second = run(kernel, ARRAY_STEP.replace("load", "again"))
    assert "wait for the disk" not in second.stderr  # said once
    assert stored(workdir, "again") == ("succeeded", 1)


@pytest.mark.parametrize(
    ("variable", "said"),
    [
        ("MIRRORNEURON_PENDING_BYTES", "must be a number of bytes (0 or more), got 'lots'"),
        ("MIRRORNEURON_FREEZE", "must be 0 or 1, got 'lots'"),
        ("MIRRORNEURON_SNAPSHOT", "must be 0 or 1, got 'lots'"),
    ],
)
def test_a_bad_writer_setting_is_one_line_and_runs_nothing(
    kernel: Kernel, workdir: Path, variable: str, said: str
) -> None:
    run(kernel, f"import os\nos.environ[{variable!r}] = 'lots'\ndel os")
    out = kernel.run("%%mn_step bad\nopen('ran', 'w').close()\n", check=False)
    assert out.error is not None
    assert f"{variable} {said}" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr
    assert not (workdir / "ran").exists()


def test_flush_waits_for_every_pending_checkpoint(kernel: Kernel, workdir: Path) -> None:
    delay(kernel, 2)
    run(kernel, ARRAY_STEP)
    run(kernel, "import mirrorneuron_nb as mn")  # touches nothing being written
    assert stored(workdir, "load") == ("checkpointing", 0)
    run(kernel, "mn.flush()")
    assert stored(workdir, "load") == ("succeeded", 1)


# Counts the analyses the read barrier makes (other parts analyse cells for their own ends).
SPY = (
    "from mirrorneuron_nb.kernel import barrier as _barrier\n"
    "_analysed = []\n"
    "def _spy(code, _real=_barrier.analyze, _seen=_analysed):\n"
    "    _seen.append(code)\n"
    "    return _real(code)\n"
    "_barrier.analyze = _spy\n"
    "del _barrier\n"
)


def test_a_plain_cell_is_analysed_only_while_something_is_pending(
    kernel: Kernel, workdir: Path
) -> None:
    """The read barrier is on every cell's path: with nothing pending it analyses nothing;
    with a checkpoint pending, each cell once."""
    run(kernel, SPY)
    for cell in ("y = 1", "z = y + 1", "print(z)"):
        run(kernel, cell)
    assert value(kernel, "len(_analysed)") == "0"
    delay(kernel, 30)
    run(kernel, ARRAY_STEP)
    run(kernel, "_analysed.clear()")  # pending: analysed before it clears
    run(kernel, "unrelated = 2")
    assert value(kernel, "len(_analysed)") == "2"  # that cell and this one, once each
    assert stored(workdir, "load") == ("checkpointing", 0)
    run(kernel, "import mirrorneuron_nb as mn\nmn.flush()")
    run(kernel, "_analysed.clear()")
    for cell in ("y = 3", "print(y)"):
        run(kernel, cell)
    assert value(kernel, "len(_analysed)") == "0"


LANDINGS = """\
import time
import mirrorneuron_nb.kernel.writer as _writer
_landings = []
_land = _writer.Writer._land
def _timed_land(self, store, job):
    _landings.append(time.time())
    return _land(self, store, job)
_writer.Writer._land = _timed_land
"""


def answered_at(kernel: Kernel, code: str) -> float:
    """Run a cell; when (the kernel's clock) its execute_reply was made."""
    msg_id = kernel.kc.execute(code)
    while True:
        reply = kernel.kc.get_shell_msg(timeout=60)
        if reply["parent_header"].get("msg_id") == msg_id:
            break
    assert reply["content"]["status"] == "ok", reply["content"]
    while True:  # the idle status ends the cell's messages
        msg = kernel.kc.get_iopub_msg(timeout=60)
        parent = msg["parent_header"].get("msg_id")
        if parent == msg_id and msg["content"].get("execution_state") == "idle":
            return float(reply["header"]["date"].timestamp())


def test_the_writer_starts_once_the_cell_is_answered(kernel: Kernel, workdir: Path) -> None:
    """A checkpoint queued by a cell is landed after the cell's reply is sent, not while
    it is: the writer thread would take the GIL from the reply in turns (wakeup.py)."""
    run(kernel, LANDINGS)
    replies = [answered_at(kernel, f"%%mn_step s{i}\nx{i} = {i}\n") for i in range(6)]
    run(kernel, "%mn_status")  # waits for every pending checkpoint
    out = run(kernel, "print(repr(_landings))")
    landings = ast.literal_eval(out.stdout.strip())  # the floats the kernel printed
    assert len(landings) == 6
    early = [round(r - s, 6) for r, s in zip(replies, landings, strict=True) if s < r]
    assert not early, f"landings began this many seconds before their cell's reply: {early}"
    for i in range(6):
        assert stored(workdir, f"s{i}") == ("succeeded", 1)
