"""Stopping the servers tests start (moto, PgBouncer, jupyter_server, Dask): politely, then
for sure."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence


def stop(procs: Sequence[subprocess.Popen[bytes]], timeout: float = 10) -> None:
    """SIGTERM all (in the order given), wait up to `timeout` each, SIGKILL what remains."""
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
