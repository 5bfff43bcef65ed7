"""Retries, timeouts, once-only steps, approval gates and kinds, with real kernels and
call counters (a file each body appends to)."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from mirrorneuron_nb.store.base import LEASE_EVENTS

from ..helpers import mn
from ..kernels import Kernel
from ..messages import RESTORED


def db(workdir: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(workdir / "mirrorneuron.mn" / "state.sqlite")
    conn.row_factory = sqlite3.Row
    return conn


def count(workdir: Path, name: str = "calls.txt") -> int:
    path = workdir / name
    return len(path.read_text().splitlines()) if path.exists() else 0


TICK = "open('calls.txt', 'a').write('x\\n')\n"


def test_fails_twice_then_succeeds_runs_three_times(kernel: Kernel, workdir: Path) -> None:
    step = (
        "%%mn_step flaky --retries 4 --backoff 0\n"
        + TICK
        + "n = len(open('calls.txt').read().splitlines())\n"
        "if n < 3:\n    raise ConnectionError(f'try {n} failed')\nresult = n\n"
    )
    out = kernel.run(step)
    assert count(workdir) == 3
    assert "attempt 1/5 failed (ConnectionError: try 1 failed)" in out.stderr
    assert "attempt 3/5 in" in out.stderr
    with db(workdir) as conn:
        attempts = [
            tuple(r)
            for r in conn.execute(
                "SELECT number, status FROM attempts WHERE step='flaky' ORDER BY id"
            )
        ]
        kinds = [
            r[0]
            for r in conn.execute("SELECT kind FROM events WHERE step='flaky' ORDER BY id")
            if r[0] not in LEASE_EVENTS
        ]
    assert attempts == [(1, "failed"), (2, "failed"), (3, "succeeded")]
    assert kinds.count("retrying") == 2 and kinds[-1] == "succeeded"
    assert kernel.run("print(result)").stdout.strip() == "3"
    kernel.run(step)  # succeeded: served from its checkpoint
    assert count(workdir) == 3


def test_exception_not_in_retry_on_fails_at_once(kernel: Kernel, workdir: Path) -> None:
    step = (
        "%%mn_step picky --retries 3 --backoff 0 --retry-on ConnectionError,TimeoutError\n"
        + TICK
        + "raise ValueError('not transient')\n"
    )
    out = kernel.run(step, check=False)
    assert out.error is not None and out.error["ename"] == "ValueError"
    assert count(workdir) == 1
    with db(workdir) as conn:
        row = conn.execute("SELECT status, attempts FROM steps WHERE name='picky'").fetchone()
    assert tuple(row) == ("failed", 1)


def test_timeout_fails_the_attempt_and_retries(kernel: Kernel, workdir: Path) -> None:
    step = (
        "%%mn_step slow --timeout 0.5 --retries 1 --backoff 0\nimport time\n"
        + TICK
        + "time.sleep(60)\n"
    )
    out = kernel.run(step, check=False, timeout=100)
    assert out.error is not None and out.error["ename"] == "StepTimeout"
    assert "exceeded --timeout 0.5 s" in out.error["evalue"]
    assert count(workdir) == 2  # the first attempt timed out, then the retry did too
    with db(workdir) as conn:
        spans = [
            r[1] - r[0]
            for r in conn.execute("SELECT started_at, ended_at FROM attempts WHERE step='slow'")
        ]
    assert len(spans) == 2 and all(span < 30 for span in spans)  # far below the 60 s sleep


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("--retries -1", "--retries must be 0 or more"),
        ("--backoff -2", "--backoff must be 0 or more"),
        ("--backoff-factor 0.5", "--backoff-factor must be 1 or more"),
        ("--timeout 0", "--timeout must be more than 0"),
        ("--retry-on NoSuchError", "'NoSuchError' is not an exception class"),
        ("--retry-on len", "'len' is not an exception class"),
        ("--kind weird", "--kind must be one of compute, llm, tool, human"),
        ("--approve ''", "--approve needs a question"),
        ("--retries many", "invalid int value"),
    ],
)
def test_bad_policy_options_are_one_line_usage_errors(
    kernel: Kernel, workdir: Path, line: str, message: str
) -> None:
    kernel.run("%%mn_step first\nx = 1\n")
    with db(workdir) as conn:
        before = [
            conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in ("steps", "attempts", "events", "approvals")
        ]
    out = kernel.run(f"%%mn_step bad {line}\n" + TICK, check=False)
    assert out.error is not None and out.error["ename"] == "UsageError"
    assert message in out.error["evalue"] + out.stderr
    assert count(workdir) == 0
    with db(workdir) as conn:
        after = [
            conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in ("steps", "attempts", "events", "approvals")
        ]
    assert after == before


def test_once_step_never_runs_twice(kernel: Kernel, workdir: Path) -> None:
    step = "%%mn_step send --once --kind tool\n" + TICK + "sent = 'mail #1'\n"
    kernel.run(step)
    kernel.run(step)
    edited = kernel.run(step.replace("mail #1", "mail #2"))  # code changed: still not re-run
    assert RESTORED in edited.notes
    assert count(workdir) == 1
    assert kernel.run("print(sent)").stdout.strip() == "mail #1"
    forced = kernel.run(step.replace("--once", "--once --force"), check=False)
    assert forced.error is not None and forced.error["ename"] == "UsageError"
    assert "already succeeded" in forced.error["evalue"] + forced.stderr
    kernel.restart()
    kernel.run("%load_ext mirrorneuron_nb")
    kernel.run(step)
    assert count(workdir) == 1
    with db(workdir) as conn:
        options = json.loads(
            conn.execute("SELECT options FROM steps WHERE name='send'").fetchone()[0]
        )
    assert options["once"] is True and options["kind"] == "tool"
    kernel.run("%mn_reset send")
    kernel.run(step)
    assert count(workdir) == 2


def test_interrupted_once_step_asks_for_force(kernel: Kernel, workdir: Path) -> None:
    step = "%%mn_step post --once\nimport time\n" + TICK + "time.sleep(60)\nposted = True\n"
    kernel.start(step)
    deadline = time.monotonic() + 60
    while count(workdir) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    kernel.kill()
    kernel.revive()
    kernel.run("%load_ext mirrorneuron_nb")
    quick = step.replace("time.sleep(60)\n", "")
    refused = kernel.run(quick, check=False)
    assert refused.error is not None and refused.error["ename"] == "UsageError"
    text = refused.error["evalue"] + refused.stderr
    assert "interrupted while running" in text and "--force" in text
    assert count(workdir) == 1
    kernel.run(quick.replace("--once", "--once --force"))
    assert count(workdir) == 2
    kernel.run(quick)  # succeeded now: never again
    assert count(workdir) == 2


def test_interactive_approval_gate(kernel: Kernel, workdir: Path) -> None:
    step = '%%mn_step publish --approve "Post it?"\n' + TICK + "published = True\n"
    gated = kernel.run(step, check=False)
    assert gated.error is not None and gated.error["ename"] == "ApprovalRequired"
    assert any("application/vnd.jupyter.widget-view+json" in d for d in gated.displays)
    assert count(workdir) == 0
    again = kernel.run(step, check=False)  # still waiting: asks again, still no body
    assert again.error is not None and count(workdir) == 0
    with db(workdir) as conn:
        pending = conn.execute("SELECT COUNT(*) FROM approvals WHERE status='pending'")
        assert pending.fetchone()[0] == 1  # asking twice keeps one request
        assert (
            conn.execute("SELECT status FROM steps WHERE name='publish'").fetchone()[0]
            == "awaiting_approval"
        )
    # Decide from outside the kernel (what the buttons and the panel do through the store).
    notebook = workdir / "nb.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell(step)]), notebook)
    env_sidecar = {"MIRRORNEURON_SIDECAR": str(workdir / "mirrorneuron.mn")}
    decided = mn(
        "approve", "nb.ipynb", "publish", "--note", "looks good", cwd=workdir, env=env_sidecar
    )
    assert decided.returncode == 0, decided.stderr
    kernel.run(step)
    assert count(workdir) == 1
    kernel.run(step)  # succeeded: cached, no new approval needed
    assert count(workdir) == 1


def _gated_notebook(path: Path) -> None:
    cells = [
        new_code_cell("%load_ext mirrorneuron_nb"),
        new_code_cell("%%mn_step draft\n" + TICK.replace("calls", "draft") + "text = 'hi'\n"),
        new_code_cell(
            '%%mn_step publish --once --approve "Post the summaries?"\n' + TICK + "done = text\n"
        ),
        new_code_cell("%%mn_step after\n" + TICK.replace("calls", "after") + "z = done\n"),
    ]
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": kernelspec}), path)


def test_batch_gate_stops_run_and_approve_lets_next_run_through(workdir: Path) -> None:
    _gated_notebook(workdir / "gate.ipynb")
    first = mn("run", "gate.ipynb", cwd=workdir)
    assert first.returncode == 3, first.stdout + first.stderr
    assert "mn-nb approve gate.ipynb publish" in first.stderr
    assert count(workdir) == 0 and count(workdir, "after.txt") == 0
    status = json.loads(mn("status", "gate.ipynb", "--json", cwd=workdir).stdout)
    assert {s["name"]: s["status"] for s in status["steps"]}["publish"] == "awaiting_approval"
    assert mn("approve", "gate.ipynb", "publish", cwd=workdir).returncode == 0
    status = json.loads(mn("status", "gate.ipynb", "--json", cwd=workdir).stdout)
    publish = {s["name"]: s for s in status["steps"]}["publish"]
    assert publish["status"] == "approved" and publish["decided_by"]
    second = mn("run", "gate.ipynb", cwd=workdir)
    assert second.returncode == 0, second.stdout + second.stderr
    assert count(workdir) == 1 and count(workdir, "after.txt") == 1
    assert count(workdir, "draft.txt") == 1
    assert mn("run", "gate.ipynb", cwd=workdir).returncode == 0  # once: never again
    assert count(workdir) == 1
    assert mn("approve", "gate.ipynb", "publish", cwd=workdir).returncode == 2  # not waiting


def test_batch_gate_reject_stops_for_good(workdir: Path) -> None:
    _gated_notebook(workdir / "gate.ipynb")
    assert mn("run", "gate.ipynb", cwd=workdir).returncode == 3
    rejected = mn("approve", "gate.ipynb", "publish", "--reject", "--note", "not now", cwd=workdir)
    assert rejected.returncode == 0 and "rejected" in rejected.stdout
    for _ in range(2):
        run = mn("run", "gate.ipynb", cwd=workdir)
        assert run.returncode == 1 and "rejected" in run.stderr + run.stdout
    assert count(workdir) == 0 and count(workdir, "after.txt") == 0
    status = json.loads(mn("status", "gate.ipynb", "--json", cwd=workdir).stdout)
    steps = {s["name"]: s for s in status["steps"]}
    assert steps["publish"]["status"] == "rejected" and "not now" in steps["publish"]["error"]


def test_recorded_traceback_shows_the_users_frames_only(kernel: Kernel, workdir: Path) -> None:
    kernel.run("%%mn_step oops\ndef inner():\n    return 1 / 0\nvalue = inner()\n", check=False)
    with db(workdir) as conn:
        (recorded,) = conn.execute("SELECT traceback FROM steps WHERE name='oops'").fetchone()
    assert "ZeroDivisionError: division by zero" in recorded
    assert "value = inner()" in recorded and "return 1 / 0" in recorded
    assert "mirrorneuron_nb" not in recorded
