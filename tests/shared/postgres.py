"""A real PostgreSQL for the tests: Debian's binaries, started once per test session in a
temp dir on a free 127.0.0.1 port, stopped at the end (pytest plugin: tests/conftest.py).

Missing binaries skip the tests that need it, with the reason, except in CI (CI=true),
where scripts/setup.sh installs the package and a missing server is a failure."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..processes import stop


@dataclass
class PgServer:
    bindir: Path
    datadir: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def stop_command(self) -> list[str]:
        """What stops the server (a step body runs it to stop the database mid-step)."""
        return _as_postgres(
            str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop"
        )

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            _as_postgres(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), *args),
            check=True,
            capture_output=True,
            timeout=60,
        )

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.datadir} -h 127.0.0.1 -c fsync=off"
        self._ctl("-o", opts, "-l", str(self.datadir / "log"), "-w", "start")

    def stop(self) -> None:
        self._ctl("-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        """Stop it (fast: open connections are cut) and delete its files."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.datadir.parent, ignore_errors=True)


def _as_postgres(*cmd: str) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else list(cmd)


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server() -> PgServer:
    """initdb in a new temp dir and start it on a free port (`destroy` undoes both)."""
    bindir = _bindir()
    if bindir is None:
        raise FileNotFoundError("PostgreSQL binaries not installed (apt-get install postgresql)")
    top = Path(tempfile.mkdtemp(prefix="mn-pg-"))
    top.chmod(0o755)
    datadir = top / "data"
    datadir.mkdir()
    if os.geteuid() == 0:
        shutil.chown(datadir, "postgres", "postgres")
    try:
        subprocess.run(
            _as_postgres(
                str(bindir / "initdb"), "-D", str(datadir), "-A", "trust", "-U", "postgres"
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
        server = PgServer(bindir, datadir, _free_port())
        server.start()
    except BaseException:
        shutil.rmtree(top, ignore_errors=True)
        raise
    return server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    if _bindir() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL binaries missing in CI: scripts/setup.sh installs them")
        pytest.skip("PostgreSQL binaries not installed (apt-get install postgresql)")
    server = start_server()
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture
def pg_url(pg_server: PgServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The server's URL; this test's blobs cache lives in its tmp dir. Each test's notebooks
    are in their own tmp dir, hence their own project and schemas."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return pg_server.url


@dataclass
class Bouncer:
    """A PgBouncer in transaction mode in front of the test server: each transaction may
    run on any server connection, and `pool` server connections serve every client."""

    port: int
    pool: int

    def url(self, client: str = "mn") -> str:
        """A URL through the bouncer; a different `client` name is a different client
        connection in one process (the store shares one connection per URL)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres?application_name={client}"


def _pgbouncer() -> str | None:
    return shutil.which("pgbouncer") or next(
        (p for p in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if os.path.exists(p)), None
    )


@pytest.fixture(scope="session")
def pgbouncer(pg_server: PgServer) -> Iterator[Bouncer]:
    """PgBouncer (Debian's package) in transaction mode with ONE server connection, so any
    session state a client leaves behind reaches the next client for certain."""
    binary = _pgbouncer()
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("pgbouncer missing in CI: scripts/setup.sh installs it")
        pytest.skip("pgbouncer not installed (apt-get install pgbouncer)")
    # Not under pytest's tmp dirs (private to root): it runs as the postgres user and
    # writes its log and pid file here.
    top = Path(tempfile.mkdtemp(prefix="mn-pgbouncer-"))
    top.chmod(0o777)
    bouncer = Bouncer(_free_port(), 1)
    (top / "users.txt").write_text('"postgres" ""\n')
    (top / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"postgres = host=127.0.0.1 port={pg_server.port} dbname=postgres\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {bouncer.port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {top}/users.txt\n"
        f"pool_mode = transaction\ndefault_pool_size = {bouncer.pool}\nmin_pool_size = 0\n"
        "reserve_pool_size = 0\nmax_client_conn = 100\nquery_wait_timeout = 60\n"
        f"logfile = {top}/log\npidfile = {top}/pid\n"
    )
    proc = subprocess.Popen(
        # As root it must be told whom to run as (it refuses root); then its pid is ours.
        [binary, *(["-u", "postgres"] if os.geteuid() == 0 else []), str(top / "pgbouncer.ini")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", bouncer.port)) == 0:
                    break
            log = top / "log"
            if proc.poll() is not None or time.monotonic() > deadline:
                text = log.read_text()[-2000:] if log.exists() else ""
                raise RuntimeError(f"pgbouncer did not start: {text}")
            time.sleep(0.05)
        yield bouncer
    finally:
        stop([proc])
        shutil.rmtree(top, ignore_errors=True)
