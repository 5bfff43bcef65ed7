"""The real servers the shared-store benchmarks run against, started here and stopped at
the end: a PostgreSQL (Debian's binaries, through the tests' own helper, but with fsync on,
as a real server runs) and moto's standalone S3-compatible server, each on a free port of
127.0.0.1 in a temporary directory.

    with postgres() as url, moto() as endpoint: ...
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.shared.postgres, and this tree's package

from tests.shared.moto import CREDENTIALS, moto_server  # noqa: E402
from tests.shared.postgres import PgServer, start_server  # noqa: E402

BUCKET = "bench"


class DurablePg(PgServer):
    """The tests' server with fsync on: the tests turn it off for speed, which would make
    every commit here look cheaper than on a real server."""

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.datadir} -h 127.0.0.1"
        self._ctl("-o", opts, "-l", str(self.datadir / "log"), "-w", "start")


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
    saved = {k: os.environ.get(k) for k in (*CREDENTIALS, "AWS_ENDPOINT_URL")}
    try:
        with moto_server(BUCKET) as endpoint:
            os.environ.update(CREDENTIALS, AWS_ENDPOINT_URL=endpoint)
            yield endpoint
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def load() -> str:
    """The load average now (the machine is shared: every figure is reported with it)."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f}"
