"""Real-kernel fault tests: a sidecar from a newer version, SIGKILL mid-step and mid-checkpoint."""

from __future__ import annotations

import random
import sqlite3
import time
from pathlib import Path

import pytest

from mirrorneuron_nb.models import StepStatus
from mirrorneuron_nb.store import Store
from mirrorneuron_nb.values import codec
from mirrorneuron_nb.values.signing import Binding

from ..helpers import db_content, run, sidecar, usage_error, value
from ..kernels import Kernel
from ..messages import RESTORED

pytestmark = pytest.mark.kernel


def wait_for(path: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path.name} did not appear within {timeout} s")
        time.sleep(0.002)


def status_of(kernel: Kernel, step: str) -> str:
    table = run(kernel, "%mn_status").notes
    row = next((line for line in table.splitlines() if line.startswith(f"{step} ")), None)
    assert row is not None, table
    return row


def verify_sidecar(path: Path) -> dict[str, str]:
    """Open the sidecar in this process and load every checkpoint with hash checks.

    Returns each step's stored status. Fails if any checkpoint (served by a cache hit or
    a resume) is missing a blob, has a corrupted one, or a step is `succeeded` without one.
    """
    store = Store(path)
    try:
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        statuses = {}
        for step in store.steps():
            statuses[step.name] = step.status.value
            if step.status in (StepStatus.succeeded, StepStatus.cached):
                assert step.checkpoint_id is not None, step
        ids = [r[0] for r in store.conn.execute("SELECT id FROM checkpoints ORDER BY id")]
        for checkpoint_id in ids:
            checkpoint = store.checkpoint(checkpoint_id)
            assert checkpoint is not None
            place = Binding(store.sidecar_id(), checkpoint.step, "")
            for var in store.variables(checkpoint_id):
                if var.error is None and var.serializer != codec.DELETED:
                    # Reads every blob and checks its size, hash and signature.
                    codec.load(store.blobs, var, {}, place.at(var.name))
        return statuses
    finally:
        store.close()


# -- 9. a sidecar from a newer mirrorneuron_nb ---------------------------------------------


def test_newer_schema_is_refused_with_one_line_and_nothing_is_written(
    kernel: Kernel, workdir: Path
) -> None:
    run(kernel, "%%mn_step first\nvalues = [1, 2, 3]\n")
    kernel.kill()
    conn = sqlite3.connect(sidecar(workdir) / "state.sqlite")
    conn.execute("PRAGMA user_version=99")
    conn.close()
    before = db_content(sidecar(workdir))

    kernel.revive()
    run(kernel, "%load_ext mirrorneuron_nb")
    cell = "%%mn_step second\nopen('ran.txt', 'w').close()\nmore = 4\n"
    for code in (
        cell,
        "%%mn_step first\nvalues = [1, 2, 3]\n",
        "%mn_resume",
        "%mn_status",
        "%mn_reset first",
    ):
        message = usage_error(kernel, code)
        assert "schema version 99" in message, message
    assert not (workdir / "ran.txt").exists()  # the body never ran
    assert value(kernel, "[n for n in ('values', 'more') if n in globals()]") == "[]"
    assert db_content(sidecar(workdir)) == before


# -- 10. SIGKILL while a step body runs ----------------------------------------------------


def test_kill_during_a_step_body_marks_it_interrupted_and_resume_restores_the_rest(
    kernel: Kernel, workdir: Path
) -> None:
    run(
        kernel,
        "%%mn_step first\nimport numpy as np\nbase = np.arange(50_000) * 2\n"
        "meta = {'rows': 50_000, 'name': 'base'}\n",
    )
    run(kernel, "%%mn_step second\nscaled = base / 4\n")
    slow = (
        "%%mn_step slow\nimport pathlib, time\npartial = 'half'\n"
        "pathlib.Path('slow-started').write_text('x')\ntime.sleep(SECONDS)\ndone = True\n"
    )
    kernel.start(slow.replace("SECONDS", "300"))
    wait_for(workdir / "slow-started")
    kernel.kill()

    assert verify_sidecar(sidecar(workdir))["slow"] == "running"  # nobody has looked yet
    kernel.revive()
    run(kernel, "%load_ext mirrorneuron_nb")
    row = status_of(kernel, "slow")
    assert " interrupted " in row and "kernel stopped" in row, row
    assert " succeeded " in status_of(kernel, "first")

    report = run(kernel, "%mn_resume").stdout
    assert "restored 4 variable(s) from 2 step(s)" in report, report
    assert "step 'slow' not restored: its last run is interrupted" in report, report
    assert "not restored:" not in report.splitlines(), report
    assert value(kernel, "(int(base.sum()), base.dtype.name, meta, float(scaled[-1]))") == (
        "(2499950000, 'int64', {'rows': 50000, 'name': 'base'}, 24999.5)"
    )
    assert value(kernel, "[n for n in ('partial', 'done') if n in globals()]") == "[]"

    # The interrupted step is not cached: it runs again, and then it is done.
    (workdir / "slow-started").unlink()
    out = run(kernel, slow.replace("SECONDS", "0"))
    assert RESTORED not in out.notes
    assert (workdir / "slow-started").exists()
    assert " succeeded " in status_of(kernel, "slow")
    assert verify_sidecar(sidecar(workdir))["slow"] == "succeeded"


# -- 10. SIGKILL while a checkpoint is being written ---------------------------------------

ARRAYS = 16  # 16 x 10 MB in one dict, plus a 20 MB array: many blobs, written one by one


def big_step(tag: int) -> str:
    return (
        "%%mn_step big\n"
        "import pathlib\nimport numpy as np\n"
        f"tag = {tag}\n"
        f"parts = {{f'p{{i:02}}': np.full(1_250_000, tag * 100 + i) for i in range({ARRAYS})}}\n"
        "head = np.full(2_500_000, float(tag))\n"
        "pathlib.Path('body-done').write_text(str(tag))\n"
    )


STATE = (
    "(tag, config,"
    " all(int(a[0]) == int(a[-1]) == tag * 100 + i for i, a in enumerate(parts.values())),"
    " len(parts), float(head[0]) == float(head[-1]) == tag)"
)


def test_kill_during_checkpoint_write_leaves_previous_or_new_state(
    kernel: Kernel, workdir: Path
) -> None:
    marker = workdir / "body-done"
    run(kernel, "%%mn_step setup\nconfig = {'alpha': 0.5}\n")
    # Calibration, and the complete "previous" state: how long the checkpoint write takes.
    kernel.start(big_step(0))
    wait_for(marker)
    began = time.monotonic()
    # Written behind the cell: %mn_status waits for every pending checkpoint.
    run(kernel, "%mn_status")
    window = time.monotonic() - began

    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    trials = 5
    # One random delay in each fifth of the window (and a little past it).
    delays = [window * 1.2 * (i + rng.random()) / trials for i in range(trials)]
    previous = 0
    for trial, delay in enumerate(delays, start=1):
        context = f"seed={seed} trial={trial} delay={delay:.3f}s window={window:.3f}s"
        marker.unlink()
        kernel.start(big_step(trial))
        wait_for(marker)
        time.sleep(delay)
        kernel.kill()

        statuses = verify_sidecar(sidecar(workdir))
        committed = statuses["big"] == "succeeded"
        # `checkpointing`: killed after the body, before its write-behind commit landed.
        assert committed or statuses["big"] in ("running", "checkpointing"), (statuses, context)

        kernel.revive()
        run(kernel, "%load_ext mirrorneuron_nb")
        report = run(kernel, "%mn_resume").stdout
        assert "not restored" not in report, (report, context)
        expected = trial if committed else previous
        assert value(kernel, STATE) == f"({expected}, {{'alpha': 0.5}}, True, {ARRAYS}, True)", (
            report,
            context,
        )
        row = status_of(kernel, "big")
        if committed:
            assert " succeeded " in row, (row, context)
        else:
            assert " interrupted " in row, (row, context)
            assert "step 'big': its last run is interrupted; restored its last good checkpoint" in (
                report
            ), (report, context)
        previous = expected
