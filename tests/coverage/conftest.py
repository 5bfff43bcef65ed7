"""One kernel session per group, run in the background, two at a time; each case's test
waits for its group. MN_COVERAGE_REPORT=PATH writes the coverage table when the session ends;
MN_COVERAGE_WORKERS sets how many kernel sessions run at once (default 2)."""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from .catalog import GROUPS
from .harness import run_group
from .model import ERROR, SKIPPED, CaseResult, Group, GroupResult
from .report import REPORT_ENV, markdown


def _hermetic_env(root: Path) -> dict[str, str]:
    """The kernels' Jupyter/IPython dirs and signing key: the suite's own, so the
    per-test monkeypatching of os.environ while they start does not matter."""
    env: dict[str, str] = {}
    for var, sub in [
        ("IPYTHONDIR", "ipython"),
        ("JUPYTER_CONFIG_DIR", "jupyter_config"),
        ("JUPYTER_DATA_DIR", "jupyter_data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
    ]:
        (root / "home" / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(root / "home" / sub)
    env["MIRRORNEURON_KEY_FILE"] = str(root / "home" / "signing.key")
    env["MIRRORNEURON_SIDECAR"] = ""
    return env


def _measure(group: Group, root: Path, env: dict[str, str]) -> GroupResult:
    began = time.perf_counter()
    try:
        return run_group(group, root, env)
    except Exception as exc:  # a kernel that died or hung: every case of the group says so
        why = f"kernel session failed: {type(exc).__name__}: {exc}"
        cases = {c.name: CaseResult(c) for c in group.cases}
        for result in cases.values():
            result.add(ERROR, why)
        return GroupResult(group, cases, time.perf_counter() - began, [traceback.format_exc()])


class Coverage:
    def __init__(self, root: Path, wanted: list[str]) -> None:
        self.root, self.wanted = root, wanted
        self.env = _hermetic_env(root)
        self.workers = int(os.environ.get("MN_COVERAGE_WORKERS", "2"))
        self.pool: ThreadPoolExecutor | None = None
        self.futures: dict[str, Future[GroupResult]] = {}
        self.began = 0.0
        self.ended = 0.0

    def result(self, group: str) -> GroupResult:
        if self.pool is None:  # the first test starts every group the session selected
            self.began = time.perf_counter()
            self.pool = ThreadPoolExecutor(self.workers, thread_name_prefix="coverage")
            for g in GROUPS:
                if g.name in self.wanted:
                    self.futures[g.name] = self.pool.submit(_measure, g, self.root, self.env)
        found = self.futures[group].result()
        self.ended = max(self.ended, time.perf_counter())
        return found

    def close(self) -> None:
        if self.pool is None:
            return
        self.pool.shutdown(wait=True, cancel_futures=False)
        path = os.environ.get(REPORT_ENV)
        if path:
            done = [f.result() for f in self.futures.values() if f.done()]
            seconds = self.ended - self.began
            Path(path).write_text(markdown(done, seconds, self.workers))


@pytest.fixture(scope="session")
def coverage(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Coverage]:
    wanted = []
    for item in request.session.items:
        callspec = getattr(item, "callspec", None)
        group = callspec.params.get("group") if callspec is not None else None
        if group is not None and group not in wanted:
            wanted.append(group)
    found = Coverage(tmp_path_factory.mktemp("coverage"), wanted)
    yield found
    found.close()


__all__ = ["SKIPPED", "Coverage", "coverage"]
