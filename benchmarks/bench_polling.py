"""Panel polling overhead: GET /mirrorneuron/api/steps?path=NB&since=TOKEN, nothing changed.

Run from the repository root:

    .venv/bin/python benchmarks/bench_polling.py                   # 40 steps, 500 requests x 3 runs
    .venv/bin/python benchmarks/bench_polling.py --quick           # 100 requests, 1 run
    .venv/bin/python benchmarks/bench_polling.py --steps 200 --requests 1000 --json /tmp/p.json

A real `jupyter server` subprocess with the extension (127.0.0.1, a free port, a token,
hermetic JUPYTER_*/IPython directories in a scratch directory, DEBUG log so every request's
server time is logged), a notebook whose sidecar holds N succeeded steps (written with the
Store API, like tests/server/builders.py). Interleaved, request by request, over one
keep-alive HTTP connection:
  - unchanged: `since=` the token of the last answer -> `{"changed": false}`
  - changed:   no `since` -> the full answer (every step row)
Three figures for each: the client round trip, the server time from jupyter_server's request
log (tornado's request_time: headers parsed -> finish), and `queries.steps_state` called
in this process (same Sidecars cache, no HTTP). Target: unchanged <= 5 ms server time.
Nothing is asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_core import hermetic_env  # noqa: E402  (the benchmarks' folder, just added)

TARGET_MS = 5.0
LOG_LINE = re.compile(r"200 GET /mirrorneuron/api/steps\?(\S+) .* ([0-9.]+)ms")


def build_sidecar(root: Path, n_steps: int) -> Path:
    """A notebook of n_steps `%%mn_step` cells, each with a committed checkpoint."""
    from tests.server.builders import Kernelish, notebook

    steps = {f"s{i}": f"x{i} = {i}\ny{i} = [x{i}] * 3\n" for i in range(n_steps)}
    nb = notebook(root / "nb" / "many.ipynb", steps)
    k = Kernelish(nb)
    try:
        for pos, (name, body) in enumerate(steps.items()):
            k.succeed(name, body, {f"x{pos}": 28, f"y{pos}": 80}, position=pos)
    finally:
        k.close()
    return nb


def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def jupyter_server(root: Path, env: dict[str, str], log: Path) -> Iterator[tuple[int, str]]:
    port = free_port()
    token = secrets.token_hex(16)
    cmd = [
        sys.executable,
        "-m",
        "jupyter_server",
        "--no-browser",
        "--allow-root",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        '--ServerApp.jpserver_extensions={"mirrorneuron_nb": True}',
        "--ServerApp.log_level=DEBUG",
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=root,
            env={**os.environ, **env},
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"jupyter server exited:\n{log.read_text()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/api/status", headers={"Authorization": f"token {token}"})
                if conn.getresponse().status == 200:
                    conn.close()
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"jupyter server did not start:\n{log.read_text()}")
            time.sleep(0.2)
        yield port, token
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def summary(values: list[float]) -> dict[str, float]:
    return {"p50": statistics.median(values), "p90": pct(values, 0.9), "n": len(values)}


def one_run(root: Path, env: dict[str, str], nb: Path, requests: int, run: int) -> dict[str, Any]:
    log = root / f"server{run}.log"
    api_path = nb.relative_to(root).as_posix()
    out: dict[str, Any] = {}
    with jupyter_server(root, env, log) as (port, token):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Authorization": f"token {token}", "Connection": "keep-alive"}

        def get(since: str | None) -> tuple[float, dict[str, Any], int]:
            params = {"path": api_path}
            if since is not None:
                params["since"] = since
            url = "/mirrorneuron/api/steps?" + urllib.parse.urlencode(params)
            t0 = time.perf_counter()
            conn.request("GET", url, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            dt = time.perf_counter() - t0
            if resp.status != 200:
                raise RuntimeError(f"{resp.status}: {body[:300]!r}")
            return dt, json.loads(body), len(body)

        _, first, _ = get(None)
        token_now = first["token"]
        assert len(first["steps"]) > 0
        for _ in range(20):  # warm-up: connection, thread pool, caches
            get(token_now)
            get(None)
        unchanged_rt: list[float] = []
        changed_rt: list[float] = []
        sizes = set()
        changed_flags = set()
        for _ in range(requests):
            dt, body, _ = get(token_now)
            unchanged_rt.append(dt * 1e3)
            changed_flags.add(body["changed"])
            dt, body, size = get(None)
            changed_rt.append(dt * 1e3)
            sizes.add(size)
        conn.close()
        out["unchanged_changed_flags"] = sorted(changed_flags)
        out["full_bytes"] = max(sizes)
        out["unchanged_bytes"] = len(json.dumps({"changed": False}))
        out["steps_in_answer"] = len(first["steps"])
    # Server-side times from the request log (the last 2 * requests lines: after warm-up).
    server_unchanged: list[float] = []
    server_changed: list[float] = []
    for line in log.read_text().splitlines():
        m = LOG_LINE.search(line)
        if m:
            (server_unchanged if "since=" in m.group(1) else server_changed).append(
                float(m.group(2))
            )
    out["client_unchanged"] = summary(unchanged_rt)
    out["client_changed"] = summary(changed_rt)
    out["server_unchanged"] = summary(server_unchanged[-requests:])
    out["server_changed"] = summary(server_changed[-requests:])
    return out


def in_process(root: Path, nb: Path, requests: int) -> dict[str, Any]:
    """queries.steps_state directly (what the handler runs in its worker thread)."""
    from mirrorneuron_nb.server import queries
    from mirrorneuron_nb.server.paths import resolve_notebook
    from mirrorneuron_nb.server.sidecars import Sidecars

    sidecars = Sidecars()
    api_path = nb.relative_to(root).as_posix()
    try:
        ref = resolve_notebook(root, api_path)
        token = queries.steps_state(sidecars, ref, None).token
        unchanged, changed, dumped = [], [], []
        for _ in range(20):
            queries.steps_state(sidecars, resolve_notebook(root, api_path), token)
        for _ in range(requests):
            t0 = time.perf_counter()
            r = queries.steps_state(sidecars, resolve_notebook(root, api_path), token)
            r.model_dump_json()
            unchanged.append((time.perf_counter() - t0) * 1e3)
            assert not r.changed
            t0 = time.perf_counter()
            r = queries.steps_state(sidecars, resolve_notebook(root, api_path), None)
            t1 = time.perf_counter()
            r.model_dump_json()
            t2 = time.perf_counter()
            changed.append((t2 - t0) * 1e3)
            dumped.append((t2 - t1) * 1e3)
    finally:
        sidecars.close()
    return {
        "inproc_unchanged": summary(unchanged),
        "inproc_changed": summary(changed),
        "inproc_changed_json": summary(dumped),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--requests", type=int, default=None)
    ap.add_argument("--runs", type=int, default=None)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    requests = args.requests or (100 if args.quick else 500)
    runs = args.runs or (1 if args.quick else 3)

    from bench_core import machine

    print(json.dumps(machine()))
    print("load average:", Path("/proc/loadavg").read_text().split()[:3])
    scratch = Path(tempfile.mkdtemp(prefix="mn-bench-poll-"))
    root = scratch / "root"
    root.mkdir()
    env = hermetic_env(scratch / "home")
    os.environ.update(env)  # the builder signs nothing, but keep this process hermetic too
    results: list[dict[str, Any]] = []
    try:
        nb = build_sidecar(root, args.steps)
        for run in range(runs):
            r = one_run(root, env, nb, requests, run)
            r.update(in_process(root, nb, requests))
            results.append(r)
            print(json.dumps(r), flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)

    def med(key: str, q: str) -> float:
        return statistics.median(r[key][q] for r in results)

    print(
        f"\n{args.steps} steps, {requests} requests of each kind per run, interleaved, "
        f"median over {runs} run(s) of each run's p50 / p90 (ms)"
    )
    print(f"  {'':38} {'unchanged (since=)':>20} {'changed (full)':>20}")
    for label, a, b in [
        ("client round trip (keep-alive)", "client_unchanged", "client_changed"),
        ("server time (request log)", "server_unchanged", "server_changed"),
        ("steps_state + JSON, in process", "inproc_unchanged", "inproc_changed"),
    ]:
        print(
            f"  {label:<38} {med(a, 'p50'):9.2f} / {med(a, 'p90'):6.2f}"
            f"   {med(b, 'p50'):9.2f} / {med(b, 'p90'):6.2f}"
        )
    s = med("server_unchanged", "p50")
    print(
        f"  target: unchanged server time <= {TARGET_MS} ms: "
        f"{'met' if s <= TARGET_MS else 'MISSED'} ({s:.2f} ms p50)"
    )
    print(
        f"  answer sizes: full {results[0]['full_bytes']} bytes for "
        f"{results[0]['steps_in_answer']} steps; unchanged answers all changed=false: "
        f"{all(r['unchanged_changed_flags'] == [False] for r in results)}"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
