"""moto's standalone S3-compatible server on a free 127.0.0.1 port, for the shared-store
tests and the benchmarks (benchmarks/services.py): started, given a bucket, stopped."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from ..processes import stop

# Dummy credentials: moto accepts any; they keep boto from looking for real ones.
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def client(endpoint: str):  # type: ignore[no-untyped-def]
    """A boto3 S3 client of the server (boto3 has no type hints)."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=CREDENTIALS["AWS_DEFAULT_REGION"],
    )


@contextlib.contextmanager
def moto_server(bucket: str, log: Path | None = None) -> Iterator[str]:
    """The server with `bucket` made; yields its endpoint URL. Its output goes to `log`."""
    port = free_port()
    with contextlib.ExitStack() as files:
        out = files.enter_context(log.open("wb")) if log is not None else subprocess.DEVNULL
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_listening(port, proc, log)
        endpoint = f"http://127.0.0.1:{port}"
        client(endpoint).create_bucket(Bucket=bucket)
        yield endpoint
    finally:
        stop([proc])


def _wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path | None) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            said = log.read_text()[-2000:] if log is not None else f"code {proc.returncode}"
            raise RuntimeError(f"moto server exited: {said}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("moto server did not start within 30 s")
