"""A real `jupyter lab` (or Jupyter Notebook 7) for browser tests: 127.0.0.1, a free port,
a token, a temp root, hermetic Jupyter/IPython directories, stopped at the end.

The server loads the labextension built in the checkout its `mirrorneuron_nb` is imported
from (PYTHONPATH; so the front end and the server extension match), not whichever one the
venv links to: a hermetic JUPYTER_PATH entry, first
on the labextensions path (ahead of the venv's, which a venv otherwise prefers), holds a
link to it."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

# Waiting for the server to listen, not a timed assertion: generous, for a slow CI machine.
STARTUP_LIMIT_S = 120

CHROMIUM = "/usr/bin/chromium"
# What works here as root and offline (see TOOLCHAIN.md).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@dataclass(frozen=True)
class Lab:
    url: str
    token: str
    root: Path
    log: Path

    def page_url(self, notebook: str, workspace: str) -> str:
        # A fresh workspace per test, reset: no layout from an earlier run comes back.
        return f"{self.url}lab/workspaces/{workspace}/tree/{notebook}?reset&token={self.token}"

    def notebook7_url(self, notebook: str) -> str:
        return f"{self.url}notebooks/{notebook}?token={self.token}"


EXTENSION_NAME = "mirrorneuron-nb"


def built_extension(env: Mapping[str, str]) -> Path:
    """The labextension built beside the `mirrorneuron_nb` the server will import."""
    code = "import mirrorneuron_nb, os; print(os.path.dirname(mirrorneuron_nb.__file__))"
    # Run from / so the current directory (a checkout, maybe) does not shadow PYTHONPATH.
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=dict(env),
        cwd="/",
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(out.stdout.strip()) / "labextension"


def hermetic_env(home: Path) -> dict[str, str]:
    """The environment of a server shared by a module's tests: its own Jupyter/IPython
    directories and signing key under `home` (what tests/conftest.py's `hermetic` sets
    per test)."""
    env = dict(os.environ)
    for var, sub in [
        ("IPYTHONDIR", "ipython"),
        ("JUPYTER_CONFIG_DIR", "jupyter_config"),
        ("JUPYTER_DATA_DIR", "jupyter_data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
    ]:
        (home / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(home / sub)
    env["JUPYTER_PATH"] = str(home / "jupyter_path")
    env["MIRRORNEURON_KEY_FILE"] = str(home / "signing.key")
    env.pop("MIRRORNEURON_SIDECAR", None)
    env.pop("JPY_SESSION_NAME", None)
    return env


def _link_extension(env: Mapping[str, str]) -> None:
    """This checkout's built extension, ahead of the venv's on the labextensions path."""
    built = built_extension(env)
    if not (built / "package.json").exists():
        raise RuntimeError(f"no built labextension at {built}: run `jlpm build` in labextension/")
    first = env.get("JUPYTER_PATH", "").split(os.pathsep)[0]
    if not first:
        raise RuntimeError("set JUPYTER_PATH (see hermetic_env): the venv's extension would win")
    target = Path(first) / "labextensions" / EXTENSION_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        target.symlink_to(built, target_is_directory=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _write_config(env: Mapping[str, str]) -> None:
    config_dir = Path(env["JUPYTER_CONFIG_DIR"])
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "jupyter_server_config.json").write_text(
        json.dumps(
            {
                "LabApp": {
                    # Tests drive JupyterLab commands through window.jupyterapp.
                    "expose_app_in_browser": True,
                    "news_url": None,
                    "check_for_updates_class": (
                        "jupyterlab.handlers.announcements.NeverCheckForUpdate"
                    ),
                },
                "JupyterNotebookApp": {"expose_app_in_browser": True},
            }
        )
    )
    labconfig = config_dir / "labconfig"
    labconfig.mkdir(exist_ok=True)
    (labconfig / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}})
    )


@contextlib.contextmanager
def running_lab(
    root: Path, log: Path, env: Mapping[str, str] | None = None, app: str = "jupyterlab"
) -> Iterator[Lab]:
    """`app`: "jupyterlab", or "notebook" for Jupyter Notebook 7."""
    env = dict(os.environ if env is None else env)
    _write_config(env)
    _link_extension(env)
    port = free_port()
    token = secrets.token_hex(16)
    cmd = [
        sys.executable,
        "-m",
        app,
        "--no-browser",
        "--allow-root",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, cwd=root, env=env, start_new_session=True
        )
    lab = Lab(f"http://127.0.0.1:{port}/", token, root, log)
    try:
        _wait_ready(proc, lab)
        yield lab
    finally:
        _stop(proc)


def _wait_ready(proc: subprocess.Popen[bytes], lab: Lab) -> None:
    deadline = time.monotonic() + STARTUP_LIMIT_S
    status = f"{lab.url}api/status?token={lab.token}"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited ({proc.returncode}):\n{lab.log.read_text()}")
        try:
            with urllib.request.urlopen(status, timeout=5) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"jupyter lab did not start:\n{lab.log.read_text()}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM lets the server shut its kernels down; then make sure the group is gone."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=30)
    # Kernels live in the server's process group (its own session): none may outlive it.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
