"""pytest-jupyter's server fixtures, for the tests in this directory only.

Imported here rather than registered with `pytest_plugins` (which pytest allows only in the
rootdir conftest): that way its autouse fixtures (an event loop per test, server cleanup)
and its coroutine-test hooks apply to these tests and leave the kernel tests alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F403
from traitlets.config import Config

from .builders import Kernelish


@pytest.fixture
def jp_server_config() -> Config:
    return Config({"ServerApp": {"jpserver_extensions": {"mirrorneuron_nb": True}}})


@pytest.fixture
def root(jp_root_dir: Path) -> Path:
    """The server root: notebooks of a test live here."""
    return Path(jp_root_dir)


@pytest.fixture
def api(jp_fetch: Any) -> Iterator[Any]:
    """GET/POST helpers for /mirrorneuron/api/<endpoint> that never raise on 4xx/5xx."""

    async def call(endpoint: str, method: str = "GET", body: Any = None, **params: Any) -> Any:
        kwargs: dict[str, Any] = {"method": method, "raise_error": False}
        if body is not None:
            kwargs["body"] = body if isinstance(body, str) else json.dumps(body)
        return await jp_fetch(
            "mirrorneuron",
            "api",
            endpoint,
            params={k: v for k, v in params.items() if v is not None},
            **kwargs,
        )

    yield call


@pytest.fixture
def kernel(nb: Path) -> Iterator[Kernelish]:
    """A kernel-like writer of the sidecar of the module's notebook fixture `nb`."""
    k = Kernelish(nb)
    yield k
    k.close()
