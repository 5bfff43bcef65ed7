"""Real kernels on a real PostgreSQL store: a notebook run in one directory is resumed by
a kernel in another directory sharing nothing but the store (and a blob directory); the
database stopped mid-run is one `store unavailable` line, the kernel and its values
survive, and the next step after a restart records again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ..helpers import run, runs_of, tick, usage_error, value
from ..kernels import Kernel
from .postgres import PgServer

pytestmark = pytest.mark.kernel

LOAD = "%%mn_step load\n" + tick("load.count") + "x = 41\n"
DOUBLE = "%%mn_step double\n" + tick("double.count") + "y = (x + 1) * 2\n"


@pytest.fixture
def shared_env(pg_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "MIRRORNEURON_STORE": pg_url,
        "MIRRORNEURON_PROJECT": "team-" + tmp_path.name,
        "MIRRORNEURON_BLOBS": (tmp_path / "shared-blobs").as_uri(),
    }


def kernel_in(path: Path, env: dict[str, str]) -> Kernel:
    path.mkdir()
    k = Kernel(path, env)
    run(k, "%load_ext mirrorneuron_nb")
    return k


@pytest.fixture
def kernels() -> Iterator[list[Kernel]]:
    started: list[Kernel] = []
    yield started
    for k in started:
        k.shutdown()


def test_resumed_in_another_directory(
    tmp_path: Path, shared_env: dict[str, str], kernels: list[Kernel]
) -> None:
    first, second = tmp_path / "machine-a", tmp_path / "machine-b"
    kernels.append(kernel_in(first, shared_env))
    run(kernels[0], LOAD)
    run(kernels[0], DOUBLE)
    kernels.append(kernel_in(second, shared_env))
    run(kernels[1], LOAD)
    run(kernels[1], DOUBLE)
    # Restored from the store: no body ran in the second directory, the values came back.
    assert (runs_of(first, "load.count"), runs_of(first, "double.count")) == (1, 1)
    assert (runs_of(second, "load.count"), runs_of(second, "double.count")) == (0, 0)
    assert value(kernels[1], "y") == "84"
    # Nothing beside either notebook: only the counters the step bodies wrote.
    for where in (first, second):
        assert sorted(p.name for p in where.iterdir() if not p.name.endswith(".count")) == []


def test_database_stopped_mid_run(
    pg_server: PgServer, tmp_path: Path, shared_env: dict[str, str], kernels: list[Kernel]
) -> None:
    kernels.append(kernel_in(tmp_path / "nb", shared_env))
    k = kernels[0]
    run(k, LOAD)
    # The body stops the database: its attempt was recorded, its checkpoint cannot be.
    stop = " ".join(repr(a) for a in pg_server.stop_command())
    body = DOUBLE + f"import subprocess\nsubprocess.run([{stop.replace(' ', ', ')}], check=True)\n"
    try:
        message = usage_error(k, body)
        assert message.startswith("store unavailable:"), message
        assert value(k, "y") == "84"  # the kernel and the step's values survive
        assert usage_error(k, DOUBLE).startswith("store unavailable:")  # still down
    finally:
        pg_server.start()
    # Back: nothing half-written is used (the step runs again) and it is recorded.
    before = runs_of(tmp_path / "nb", "double.count")
    run(k, DOUBLE)
    assert runs_of(tmp_path / "nb", "double.count") == before + 1
    assert value(k, "y") == "84"
    run(k, DOUBLE)  # now a checkpoint serves it
    assert runs_of(tmp_path / "nb", "double.count") == before + 1
