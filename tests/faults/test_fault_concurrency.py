"""Two kernels and the CLI on one sidecar at once: no corruption, no lock error reaching the
user, every step recorded."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_notebook

from mirrorneuron_nb.models import StepStatus
from mirrorneuron_nb.store import Store
from mirrorneuron_nb.values import codec
from mirrorneuron_nb.values.signing import Binding

from ..kernels import Kernel

pytestmark = [pytest.mark.kernel, pytest.mark.faults]

STEPS = 200  # per kernel


def step_cell(who: str, i: int) -> str:
    """A small step; every tenth one also writes a 1 MB array (a blob file)."""
    body = f"{who}_{i} = {{'i': {i}, 'items': list(range({i} % 50))}}\n"
    if i % 10 == 0:
        body += f"import numpy as np\n{who}_arr_{i} = np.full(125_000, {i})\n"
    return f"%%mn_step {who}-{i}\n{body}"


def test_two_kernels_and_the_cli_share_one_sidecar(workdir: Path, hermetic: Path) -> None:
    sidecar = workdir / "shared.mn"
    notebook = workdir / "nb.ipynb"
    nbformat.write(new_notebook(), notebook)
    env = {"MIRRORNEURON_SIDECAR": str(sidecar)}
    problems: list[str] = []
    kernels = {who: Kernel(workdir, env=env) for who in ("k1", "k2")}
    done = threading.Event()
    cli_runs: dict[str, int] = {"status": 0, "log": 0}

    def drive(who: str, kernel: Kernel) -> None:
        try:
            kernel.run("%load_ext mirrorneuron_nb")
            for i in range(STEPS):
                out = kernel.run(step_cell(who, i), check=False)
                text = out.text + (str(out.error) if out.error else "")
                if out.error is not None or "locked" in text or "mn_step" in out.stderr:
                    problems.append(f"{who} step {i}: {text}")
        except BaseException as exc:  # the assertion below reports it
            problems.append(f"{who}: {exc!r}")

    def cli() -> None:
        command = [sys.executable, "-m", "mirrorneuron_nb.batch.cli"]
        while not done.is_set() or min(cli_runs.values()) < 3:
            for name, args in (("status", ["--json"]), ("log", ["--limit", "200"])):
                result = subprocess.run(
                    [*command, name, str(notebook), *args],
                    capture_output=True,
                    text=True,
                    timeout=120,
                    env={**os.environ, **env},
                )
                cli_runs[name] += 1
                if result.returncode != 0 or result.stderr:
                    problems.append(f"mn-nb {name}: exit {result.returncode}: {result.stderr}")

    try:
        # The sidecar exists before the CLI looks at it (otherwise it says "no sidecar yet").
        kernels["k1"].run("%load_ext mirrorneuron_nb")
        first = kernels["k1"].run("%%mn_step setup\nready = True\n")
        assert first.error is None and not first.stderr, first.text
        threads = [
            threading.Thread(target=drive, args=(who, kernel)) for who, kernel in kernels.items()
        ]
        reader = threading.Thread(target=cli)
        for thread in [*threads, reader]:
            thread.start()
        for thread in threads:
            thread.join(timeout=600)
        done.set()
        reader.join(timeout=600)
        assert not any(t.is_alive() for t in [*threads, reader])
    finally:
        for kernel in kernels.values():
            kernel.shutdown()

    assert not problems, "\n".join(problems[:10])
    store = Store(sidecar)
    try:
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        steps = {s.name: s for s in store.steps()}
        names = {"setup"} | {f"{who}-{i}" for who in kernels for i in range(STEPS)}
        assert set(steps) == names
        assert all(s.status is StepStatus.succeeded for s in steps.values()), [
            (s.name, s.status, s.error) for s in steps.values() if s.status.value != "succeeded"
        ]
        attempts = store.conn.execute("SELECT step, COUNT(*) FROM attempts GROUP BY step")
        assert dict(attempts.fetchall()) == dict.fromkeys(names, 1)
        succeeded = store.conn.execute("SELECT COUNT(*) FROM events WHERE kind='succeeded'")
        assert succeeded.fetchone()[0] == len(names)
        # Every checkpoint is whole: its values load with hashes and signatures verified.
        for step in steps.values():
            assert step.checkpoint_id is not None
            variables = store.variables(step.checkpoint_id)
            assert variables and all(v.error is None for v in variables), step.name
            for var in variables:
                place = Binding(store.sidecar_id(), step.name, var.name)
                codec.load(store.blobs, var, {}, place)
        # The two kernels really wrote at the same time: their attempts interleave.
        order = [
            r[0][:2]
            for r in store.conn.execute(
                "SELECT step FROM attempts WHERE step != 'setup' ORDER BY id"
            )
        ]
        switches = sum(a != b for a, b in itertools.pairwise(order))
        assert switches > 10, f"the kernels barely overlapped ({switches} switches)"
    finally:
        store.close()
    assert min(cli_runs.values()) >= 3, cli_runs
    print(f"concurrency: {2 * STEPS + 1} steps, {switches} kernel switches, CLI {cli_runs}")
