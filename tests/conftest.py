from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mirrorneuron_nb.models import Run
from mirrorneuron_nb.store import Store

from .kernels import Kernel

# The real PostgreSQL of the shared-store tests (started only when a test asks for it).
pytest_plugins = ["tests.shared.postgres"]


@pytest.fixture(autouse=True)
def hermetic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every Jupyter/IPython directory and the signing key live in this test's tmp dir."""
    home = tmp_path / "home"
    for var, sub in [
        ("IPYTHONDIR", "ipython"),
        ("JUPYTER_CONFIG_DIR", "jupyter_config"),
        ("JUPYTER_DATA_DIR", "jupyter_data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
    ]:
        (home / sub).mkdir(parents=True)
        monkeypatch.setenv(var, str(home / sub))
    monkeypatch.setenv("MIRRORNEURON_KEY_FILE", str(home / "signing.key"))
    monkeypatch.delenv("MIRRORNEURON_SIDECAR", raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    for var in (
        "MIRRORNEURON_STORE",
        "MIRRORNEURON_PROJECT",
        "MIRRORNEURON_ROOT",
        "MIRRORNEURON_BLOBS",
    ):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


@pytest.fixture
def kernel(workdir: Path, hermetic: Path) -> Iterator[Kernel]:
    k = Kernel(workdir)
    k.run("%load_ext mirrorneuron_nb")
    try:
        yield k
    finally:
        k.shutdown()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh sidecar with one run, "run1", started by this process."""
    s = Store(tmp_path / "nb.mn")
    s.start_run(
        Run(
            id="run1",
            kind="test",
            status="running",
            started_at=time.time(),
            pid=os.getpid(),
            host=socket.gethostname(),
        )
    )
    yield s
    s.close()
