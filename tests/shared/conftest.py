"""Real parts for the shared-store tests: an S3-compatible server (moto's standalone
server, one per test session, on a free port of 127.0.0.1) and a bucket in it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from .moto import CREDENTIALS, client, moto_server

BUCKET = "mn-test"


@dataclass(frozen=True)
class S3:
    endpoint: str
    bucket: str

    @property
    def env(self) -> dict[str, str]:
        """What a process needs to reach the bucket through plain s3fs/botocore."""
        return {**CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint}

    def client(self):  # type: ignore[no-untyped-def]
        return client(self.endpoint)

    def url(self) -> str:
        """A new prefix in the bucket: each test its own blob store."""
        return f"s3://{self.bucket}/{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3]:
    log = tmp_path_factory.mktemp("moto") / "server.log"
    with moto_server(BUCKET, log) as endpoint:
        yield S3(endpoint, BUCKET)


@pytest.fixture
def s3(s3_server: S3, monkeypatch: pytest.MonkeyPatch) -> S3:
    """The server, reachable from this process and from the kernels and CLI runs it
    starts (they inherit the environment)."""
    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    return s3_server
