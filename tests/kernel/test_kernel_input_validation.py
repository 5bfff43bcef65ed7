"""Bad step input is refused up front with one line, and never recorded as a failure:
numeric options out of range, --outputs names the body does not bind, top-level `return`.
Real kernels; a counter file (helpers.tick) shows whether a body ran."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from mirrorneuron_nb.kernel.policy import StepOptions

from ..helpers import db_content, run, runs_of, sidecar, tick, usage_error, value
from ..kernels import Kernel

BAD_NUMBERS = [
    ("--timeout inf", "--timeout"),
    ("--timeout nan", "--timeout"),
    ("--timeout 1e300", "--timeout"),
    ("--timeout 1e10", "--timeout"),  # beyond threading.TIMEOUT_MAX and setitimer
    ("--backoff inf", "--backoff"),
    ("--backoff nan", "--backoff"),
    ("--max-backoff 1e300", "--max-backoff"),
    ("--backoff-factor inf", "--backoff-factor"),
    ("--backoff-factor nan", "--backoff-factor"),
    ("--retries 10000000000000", "--retries"),
]


def step_row(workdir: Path, name: str) -> tuple[str, int] | None:
    with sqlite3.connect(sidecar(workdir) / "state.sqlite") as conn:
        row = conn.execute("SELECT status, attempts FROM steps WHERE name=?", (name,)).fetchone()
    return None if row is None else (str(row[0]), int(row[1]))


def attempt_statuses(workdir: Path, name: str) -> list[str]:
    with sqlite3.connect(sidecar(workdir) / "state.sqlite") as conn:
        rows = conn.execute("SELECT status FROM attempts WHERE step=? ORDER BY id", (name,))
        return [str(r[0]) for r in rows]


def checkpoints_of(workdir: Path, name: str) -> int:
    with sqlite3.connect(sidecar(workdir) / "state.sqlite") as conn:
        found = conn.execute("SELECT COUNT(*) FROM checkpoints WHERE step=?", (name,)).fetchone()
        return int(found[0])


def test_out_of_range_numbers_are_one_line_and_nothing_runs(kernel: Kernel, workdir: Path) -> None:
    run(kernel, "%%mn_step first\nx = 1\n")  # the sidecar exists: compare it before/after
    before = db_content(sidecar(workdir))
    for option, named in BAD_NUMBERS:
        message = usage_error(kernel, f"%%mn_step bad {option}\n{tick('calls')}y = 1\n")
        assert message.startswith(named + " must be"), (option, message)
        assert "at most" in message, (option, message)  # the allowed range is stated
    assert runs_of(workdir, "calls") == 0
    assert value(kernel, "'y' in globals()") == "False"
    assert db_content(sidecar(workdir)) == before


def test_backoff_growth_is_capped_not_an_overflow(kernel: Kernel, workdir: Path) -> None:
    # factor ** attempt passes a float's range at attempt 104: the delay stays capped.
    step = (
        "%%mn_step flaky --retries 110 --backoff 1e-300 --backoff-factor 1000 "
        "--max-backoff 0.001\n" + tick("calls") + "raise ConnectionError('down')\n"
    )
    out = kernel.run(step, check=False, timeout=300)
    assert out.error is not None and out.error["ename"] == "ConnectionError", out.error
    assert runs_of(workdir, "calls") == 111
    assert step_row(workdir, "flaky") == ("failed", 111)


def test_delay_never_overflows() -> None:
    options = StepOptions(retries=10**9, backoff=300.0, backoff_factor=1000.0, max_backoff=60.0)
    assert options.delay(10**9, rng=None) <= 60.0 * 1.25
    assert StepOptions(backoff=2.0, backoff_factor=3.0, max_backoff=1e6).delay(3) >= 18 * 0.75


def test_outputs_the_body_never_binds_is_refused_before_it_runs(
    kernel: Kernel, workdir: Path
) -> None:
    run(kernel, "%%mn_step first\nx = 1\n")
    before = db_content(sidecar(workdir))
    message = usage_error(kernel, f"%%mn_step pick --outputs x,zz\n{tick('calls')}x = 2\n")
    assert "zz" in message and "never assigns" in message, message
    assert runs_of(workdir, "calls") == 0
    assert value(kernel, "x") == "1"
    assert db_content(sidecar(workdir)) == before


def test_outputs_bound_by_a_function_the_body_calls_is_accepted(
    kernel: Kernel, workdir: Path
) -> None:
    # Not a static certainty: a `global` in a notebook function binds it.
    run(kernel, "def setup():\n    global ready\n    ready = 42\n")
    run(kernel, "%%mn_step init --outputs ready\nsetup()\n")
    assert step_row(workdir, "init") == ("succeeded", 1)
    assert checkpoints_of(workdir, "init") == 1


def test_outputs_left_unbound_by_a_branch_is_not_a_failure(kernel: Kernel, workdir: Path) -> None:
    step = f"%%mn_step maybe --outputs zz\n{tick('calls')}if flag:\n    zz = 7\n"
    run(kernel, "flag = False")
    message = usage_error(kernel, step)
    assert "zz" in message and "not marked failed" in message, message
    assert runs_of(workdir, "calls") == 1
    assert step_row(workdir, "maybe") == ("pending", 1)
    assert attempt_statuses(workdir, "maybe") == ["invalid"]
    assert checkpoints_of(workdir, "maybe") == 0

    run(kernel, "flag = True")
    run(kernel, step)
    assert step_row(workdir, "maybe") == ("succeeded", 1)
    assert checkpoints_of(workdir, "maybe") == 1

    # A good step keeps its status and checkpoint when a later run leaves zz unbound.
    run(kernel, "del zz\nflag = False")
    usage_error(kernel, step)
    assert runs_of(workdir, "calls") == 3
    assert step_row(workdir, "maybe") == ("succeeded", 1)
    assert attempt_statuses(workdir, "maybe") == ["invalid", "succeeded", "invalid"]
    assert checkpoints_of(workdir, "maybe") == 1


@pytest.mark.parametrize(
    ("body", "mention"),
    [
        ("return 5\n", "`return` outside a function (line 4)"),
        ("if True:\n    return\n", "`return` outside a function (line 5)"),
        ("class A:\n    return 1\n", "`return` outside a function"),
        ("break\n", "'break' outside loop"),
    ],
)
def test_top_level_return_is_one_line_and_not_recorded(
    kernel: Kernel, workdir: Path, body: str, mention: str
) -> None:
    run(kernel, "%%mn_step first\nx = 1\n")
    before = db_content(sidecar(workdir))
    message = usage_error(kernel, f"%%mn_step early\n{tick('calls')}{body}")
    assert mention in message, message
    assert runs_of(workdir, "calls") == 0
    assert db_content(sidecar(workdir)) == before


def test_mn_status_prints_no_control_characters(kernel: Kernel, workdir: Path) -> None:
    hostile = "\\x1b]0;pwned\\x07\\x1b[31mred\\r\\u202eevil"
    out = kernel.run(f"%%mn_step boom\nraise ValueError('{hostile}')\n", check=False)
    assert out.error is not None
    shown = run(kernel, "%mn_status").notes
    assert "boom" in shown and "pwned" in shown
    assert not any(c in shown for c in "\x1b\x07\r\u202e"), repr(shown)
    assert "\\x1b]0;pwned" in shown  # escaped, still readable
