"""A real `jupyter server` in its own process, for tests that want one server for a whole
module and raw HTTP (bytes a client library would refuse to send).

Hermetic: its own root, config, data and runtime directories, a free port, a random token;
stopped (and waited for) when the context ends.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mirrorneuron_nb import config

from ..processes import stop

START_TIMEOUT = 60.0
# Ours on; the ones installed beside it off (faster start, nothing else answering).
EXTENSIONS = {
    "mirrorneuron_nb": True,
    "jupyterlab": False,
    "jupyter_lsp": False,
    "jupyter_server_terminals": False,
    "notebook_shim": False,
}
REQUEST_TIMEOUT = 30.0


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class ServerProcess:
    root: Path
    port: int
    token: str
    proc: subprocess.Popen[bytes]

    def request(
        self,
        method: str,
        target: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """One request on a fresh connection; `target` is sent as given (raw bytes allowed
        through latin-1), so malformed URLs reach the server unchanged."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT)
        try:
            conn.putrequest(method, target, skip_accept_encoding=True)
            sent = {"Authorization": f"token {self.token}", **(headers or {})}
            if body is not None:
                sent.setdefault("Content-Length", str(len(body)))
            for name, value in sent.items():
                conn.putheader(name, value)
            conn.endheaders(body)
            response = conn.getresponse()
            return Reply(response.status, response.read(), dict(response.getheaders()))
        finally:
            conn.close()

    def api(self, endpoint: str, query: str = "") -> str:
        return f"/mirrorneuron/api/{endpoint}" + (f"?{query}" if query else "")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def jupyter_server(root: Path, home: Path) -> Iterator[ServerProcess]:
    """Start `jupyter server` with the extension enabled, serving `root`."""
    token = secrets.token_hex(16)
    port = free_port()
    env = {
        **os.environ,
        "HOME": str(home),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTER_PLATFORM_DIRS": "1",
    }
    for name in (config.SIDECAR_ENV, config.NOTEBOOK_ENV, config.SESSION_ENV):
        env.pop(name, None)
    log = (home / "server.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_server",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={root}",
            f"--IdentityProvider.token={token}",
            "--allow-root",
            f"--ServerApp.jpserver_extensions={EXTENSIONS!r}",
        ],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = ServerProcess(root, port, token, proc)
    try:
        _wait_ready(server, home / "server.log")
        yield server
    finally:
        stop([proc], timeout=20)
        log.close()


def _wait_ready(server: ServerProcess, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"jupyter server exited early:\n{log.read_text()}")
        with contextlib.suppress(OSError):
            if server.request("GET", "/api/status").status == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"jupyter server did not start in {START_TIMEOUT}s:\n{log.read_text()}")
