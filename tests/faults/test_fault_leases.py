"""One owner per step across kernels and batch runs (a lease): a --once body runs once per
reset whatever races for it, the same work is done once (the others are served its
checkpoint), a dead owner's step is taken over (a --once one needs --force), a second
claimant waits and says who holds the step (or fails at once with --no-wait), batch runs
wait the same way (--lease-wait, exit 4), and status shows the owner and who waits.

Real kernels, real `mn-nb` processes, call counters (a file each body appends to)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from mirrorneuron_nb.store import Store

from ..helpers import mn, run, runs_of, tick
from ..kernels import Execution, Kernel

pytestmark = [pytest.mark.kernel, pytest.mark.faults]

ROUNDS = 20


def together(kernels: list[Kernel], code: str) -> list[Execution]:
    """Run one cell in every kernel at the same instant; their executions, in order."""
    results: list[Execution | BaseException | None] = [None] * len(kernels)
    barrier = threading.Barrier(len(kernels))

    def one(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = kernels[i].run(code, check=False)
        except BaseException as exc:  # reported below
            results[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(kernels))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    out: list[Execution] = []
    for r in results:
        assert isinstance(r, Execution), r
        out.append(r)
    return out


class Background:
    """A cell running in a kernel on a thread (the kernel's client is used by it alone)."""

    def __init__(self, kernel: Kernel, code: str) -> None:
        self.result: Execution | BaseException | None = None

        def go() -> None:
            try:
                self.result = kernel.run(code, check=False, timeout=150)
            except BaseException as exc:
                self.result = exc

        self.thread = threading.Thread(target=go, daemon=True)
        self.thread.start()

    def join(self, timeout: float = 150) -> Execution:
        self.thread.join(timeout)
        assert isinstance(self.result, Execution), self.result
        return self.result


def until(what: str, check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def waiters(sidecar: Path, step: str) -> int:
    store = Store(sidecar, readonly=True)
    try:
        return len(store.lease_waiters().get(step, []))
    finally:
        store.close()


def one_line_error(out: Execution, ename: str) -> str:
    assert out.error is not None, out.text
    assert out.error["ename"] == ename, out.error
    assert len(out.error["traceback"]) == 1, out.error["traceback"]
    message = str(out.error["evalue"])
    assert "\n" not in message
    return message


@pytest.fixture
def shared(workdir: Path, hermetic: Path) -> Iterator[Callable[..., list[Kernel]]]:
    """Kernels on one sidecar (`shared.mn`), shut down at the end."""
    started: list[Kernel] = []

    def make(n: int, **extra: str) -> list[Kernel]:
        env = {"MIRRORNEURON_SIDECAR": str(workdir / "shared.mn"), **extra}
        made = [Kernel(workdir, env=env) for _ in range(n)]
        started.extend(made)
        for k in made:
            run(k, "%load_ext mirrorneuron_nb")
        return made

    yield make
    for k in started:
        k.shutdown()


def test_four_kernels_race_a_once_step_for_twenty_rounds(
    workdir: Path, shared: Callable[..., list[Kernel]]
) -> None:
    kernels = shared(4)
    cell = "%%mn_step notify --once\n" + tick("sent.txt") + "sent = True\n"
    for r in range(ROUNDS):
        outs = together(kernels, cell)
        for out in outs:
            assert out.error is None and "Error" not in out.stderr, out.text
        # One kernel ran the body; the three others were served its checkpoint.
        assert runs_of(workdir, "sent.txt") == r + 1, [o.text for o in outs]
        assert sum("restored from checkpoint" in o.notes for o in outs) == 3
        run(kernels[r % 4], "%mn_reset notify")
    assert runs_of(workdir, "sent.txt") == ROUNDS


def test_two_kernels_same_key_run_once_and_the_second_waits_naming_the_owner(
    workdir: Path, shared: Callable[..., list[Kernel]]
) -> None:
    a, b = shared(2)
    cell = "%%mn_step fit\nimport time\n" + tick("fit.txt") + "time.sleep(3)\nmodel = 42\n"
    first = Background(a, cell)
    until("the first body", lambda: runs_of(workdir, "fit.txt") == 1)
    second = b.run(cell, check=False)
    assert second.error is None, second.text
    assert f"step `fit` is running in another kernel (pid {a.pid} on host" in second.stderr
    assert "waiting" in second.stderr and "interrupt to stop waiting" in second.stderr
    assert "restored from checkpoint" in second.notes
    assert first.join().error is None
    assert runs_of(workdir, "fit.txt") == 1
    assert run(b, "print(model)").stdout.strip() == "42"


def test_no_wait_fails_at_once_and_an_interrupted_wait_records_nothing(
    workdir: Path, shared: Callable[..., list[Kernel]]
) -> None:
    a, b = shared(2)
    body = "import time\n" + tick("hold.txt") + "time.sleep(8)\nopen('done.txt', 'w').close()\n"
    first = Background(a, "%%mn_step hold\n" + body)
    until("the first body", lambda: runs_of(workdir, "hold.txt") == 1)
    message = one_line_error(b.run("%%mn_step hold --no-wait\n" + body, check=False), "LeaseHeld")
    assert f"step `hold` is running in another kernel (pid {a.pid} on host" in message
    assert "--no-wait" in message
    assert not (workdir / "done.txt").exists()  # it did not wait for the owner
    # Waiting, then interrupted: one line, nothing recorded as failed, no waiter left.
    waiting = Background(b, "%%mn_step hold\n" + body)
    until("the waiter", lambda: waiters(workdir / "shared.mn", "hold") == 1)
    b.km.interrupt_kernel()
    message = one_line_error(waiting.join(), "LeaseHeld")
    assert "stopped waiting" in message and f"pid {a.pid}" in message
    assert not (workdir / "done.txt").exists()
    assert waiters(workdir / "shared.mn", "hold") == 0
    assert first.join().error is None
    store = Store(workdir / "shared.mn", readonly=True)
    try:
        assert [t.status for t in store.attempts("hold")] == ["succeeded"]
        kinds = [e.kind for e in store.events(step="hold")]
    finally:
        store.close()
    assert {"claimed", "waiting", "stopped_waiting", "released"} <= set(kinds), kinds
    assert runs_of(workdir, "hold.txt") == 1


def test_the_heartbeat_keeps_a_long_step_owned(
    workdir: Path, shared: Callable[..., list[Kernel]]
) -> None:
    # Leases expire after 1 s without a renewal; the owner renews every 0.2 s, so a step
    # running 4 s is never taken over: the second kernel waits and is served.
    a, b = shared(2, MIRRORNEURON_LEASE_TIMEOUT="1", MIRRORNEURON_HEARTBEAT="0.2")
    cell = "%%mn_step long\nimport time\n" + tick("long.txt") + "time.sleep(4)\ndone = 1\n"
    first = Background(a, cell)
    until("the first body", lambda: runs_of(workdir, "long.txt") == 1)
    began = time.monotonic()
    second = b.run(cell, check=False)
    assert time.monotonic() - began >= 2  # it waited (longer than the lease timeout)
    assert second.error is None and "restored from checkpoint" in second.notes, second.text
    assert first.join().error is None
    assert runs_of(workdir, "long.txt") == 1


def test_a_killed_owner_is_taken_over_and_its_once_step_needs_force(
    workdir: Path, shared: Callable[..., list[Kernel]]
) -> None:
    a, b = shared(2)
    delay = workdir / "delay.txt"
    delay.write_text("120")
    body = "import time\n" + tick("work.txt") + "time.sleep(float(open('delay.txt').read()))\n"
    a.start("%%mn_step work\n" + body + "w = 1\n")
    until("the first body", lambda: runs_of(workdir, "work.txt") == 1)
    waiting = Background(b, "%%mn_step work\n" + body + "w = 1\n")
    until("the waiter", lambda: waiters(workdir / "shared.mn", "work") == 1)
    delay.write_text("0")
    a.kill()  # SIGKILL: no cleanup, its lease stays in the table
    out = waiting.join()
    assert out.error is None, out.text
    assert runs_of(workdir, "work.txt") == 2  # taken over: the body ran again, in b
    assert run(b, "print(w)").stdout.strip() == "1"
    store = Store(workdir / "shared.mn", readonly=True)
    try:
        assert "taken_over" in [e.kind for e in store.events(step="work")]
    finally:
        store.close()

    # A --once step whose owner died mid-body is interrupted: it needs --force.
    a.revive()
    run(a, "%load_ext mirrorneuron_nb")
    delay.write_text("120")
    once = "%%mn_step pay --once\nimport time\n" + tick("pay.txt")
    once += "time.sleep(float(open('delay.txt').read()))\n"
    a.start(once)
    until("the once body", lambda: runs_of(workdir, "pay.txt") == 1)
    a.kill()
    delay.write_text("0")
    refused = b.run(once, check=False)
    assert "UsageError" in refused.stderr and "interrupted" in refused.stderr, refused.text
    assert "--force" in refused.stderr
    assert runs_of(workdir, "pay.txt") == 1
    forced = b.run(once.replace("--once", "--once --force", 1), check=False)
    assert forced.error is None and "UsageError" not in forced.stderr, forced.text
    assert runs_of(workdir, "pay.txt") == 2
    again = b.run(once, check=False)
    assert "restored from checkpoint" in again.notes, again.text
    assert runs_of(workdir, "pay.txt") == 2


def _sweep_notebook(path: Path, counters: Path) -> None:
    go = counters / "go.txt"
    shared_body = (
        "import os, time\n"
        + tick(str(counters / "shared.txt"))
        + f"while not os.path.exists({str(go)!r}):\n    time.sleep(0.1)\nbase = 10\n"
    )
    per_body = "import time\n" + tick(str(counters / "per.txt")) + "time.sleep(3)\ny = base + q\n"
    params = new_code_cell("q = 0")
    params.metadata["tags"] = ["parameters"]
    nb = new_notebook(
        cells=[
            params,
            new_code_cell("%%mn_step shared\n" + shared_body),
            new_code_cell("%%mn_step per\n" + per_body),
        ]
    )
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)


def test_batch_runs_and_a_kernel_share_steps_by_key(workdir: Path, hermetic: Path) -> None:
    notebook = workdir / "sweep.ipynb"
    _sweep_notebook(notebook, workdir)
    sidecar = workdir / "sweep.mn"
    kernel = Kernel(workdir, env={"JPY_SESSION_NAME": str(notebook)})
    sweeps: list[subprocess.Popen[str]] = []
    try:
        run(kernel, "%load_ext mirrorneuron_nb")
        cell = nbformat.read(notebook, as_version=4).cells[1].source
        holder = Background(kernel, cell)
        until("the kernel's body", lambda: runs_of(workdir, "shared.txt") == 1)

        # A bounded batch run stops with exit 4, naming the owner.
        bounded = mn("run", str(notebook), str(workdir / "bounded.ipynb"), "--lease-wait", "1")
        assert bounded.returncode == 4, bounded.stdout + bounded.stderr
        assert f"pid {kernel.pid}" in bounded.stderr and "shared" in bounded.stderr
        ours = [line for line in bounded.stderr.splitlines() if line.startswith("mn-nb")]
        assert len(ours) == 1, bounded.stderr

        # Three sweeps, q = 1, 1, 2: they wait for the kernel's `shared`...
        for i, q in enumerate(("1", "1", "2")):
            sweeps.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "mirrorneuron_nb.batch.cli",
                        "run",
                        str(notebook),
                        str(workdir / f"out{i}.ipynb"),
                        "-p",
                        "q",
                        q,
                    ],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    env=os.environ.copy(),
                )
            )
        until("three waiting sweeps", lambda: waiters(sidecar, "shared") == 3, timeout=120)
        # ... and status shows who runs it and who waits.
        status = mn("status", str(notebook), "--json")
        assert status.returncode == 0, status.stderr
        row = next(r for r in json.loads(status.stdout)["steps"] if r["name"] == "shared")
        assert row["status"] == "running"
        assert row["owner"]["pid"] == kernel.pid and row["owner"]["kind"] == "kernel"
        assert set(row["owner"]) == {"run_id", "kind", "host", "pid", "since", "heartbeat"}
        assert [w["kind"] for w in row["waiting"]] == ["batch"] * 3
        assert set(row["waiting"][0]) == {"run_id", "kind", "host", "pid", "since"}
        table = mn("status", str(notebook))
        assert f"running in kernel pid {kernel.pid}" in table.stdout, table.stdout
    finally:
        (workdir / "go.txt").touch()
        results = []
        for p in sweeps:
            try:
                out, err = p.communicate(timeout=240)
            except subprocess.TimeoutExpired:
                p.kill()
                out, err = p.communicate()
            results.append((p.returncode, out + err))
        if "holder" in locals():
            holder.join()
        kernel.shutdown()
    for code, text in results:
        assert code == 0, text
    # One execution per distinct key: `shared` once (the kernel's), `per` for q=1 and q=2.
    assert runs_of(workdir, "shared.txt") == 1
    assert runs_of(workdir, "per.txt") == 2
