"""The real servers the shared-store benchmarks run against, started here and stopped at
the end: a PostgreSQL (Debian's binaries, through the tests' own helper, but with fsync on,
as a real server runs) and moto's standalone S3-compatible server, each on a free port of
127.0.0.1 in a temporary directory.

    with postgres() as url, moto() as endpoint: ...
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.shared.postgres, and this tree's package

from tests.shared.postgres import PgServer, start_server  # noqa: E402

BUCKET = "bench"
# Dummy credentials: moto takes any; they keep botocore from looking for real ones.
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
}


class DurablePg(PgServer):
    """The tests' server with fsync on: the tests turn it off for speed, which would make
    every commit here look cheaper than on a real server."""

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.datadir} -h 127.0.0.1"
        self._ctl("-o", opts, "-l", str(self.datadir / "log"), "-w", "start")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def postgres(max_connections: int = 100, synchronous_commit: str = "on") -> Iterator[str]:
    """A temporary PostgreSQL server's URL; the server and its files are gone afterwards."""
    made = start_server()  # initdb + a first start (fsync off): restarted durable below
    made.stop()
    server = DurablePg(made.bindir, made.datadir, made.port)
    conf = server.datadir / "postgresql.conf"
    # pg_stat_statements: the benchmarks count the statements a step costs the server.
    conf.write_text(
        conf.read_text() + f"\nmax_connections = {max_connections}\n"
        "shared_preload_libraries = 'pg_stat_statements'\n"
        f"synchronous_commit = {synchronous_commit}\n"
    )
    try:
        server.start()
        yield server.url
    finally:
        server.destroy()


@contextlib.contextmanager
def moto() -> Iterator[str]:
    """moto's S3 server with the bucket BUCKET; yields its endpoint URL. This process's
    environment points botocore/s3fs at it (so do the kernels it starts) until the end."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    saved = {k: os.environ.get(k) for k in (*S3_ENV, "AWS_ENDPOINT_URL")}
    try:
        _wait_listening(port, proc)
        os.environ.update(S3_ENV, AWS_ENDPOINT_URL=endpoint)
        import boto3

        boto3.client("s3").create_bucket(Bucket=BUCKET)
        yield endpoint
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"moto server exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("moto server did not start within 30 s")


def load() -> str:
    """The load average now (the machine is shared: every figure is reported with it)."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f}"
