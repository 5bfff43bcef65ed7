"""Every conformance test runs on both backends: the embedded sidecar and PostgreSQL, the
latter also through a PgBouncer in transaction mode (tests/shared/postgres.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mirrorneuron_nb.store import Store, open_store

from ..helpers import new_run

Opener = Callable[..., Store]


@pytest.fixture(params=["sqlite", "postgresql", "pgbouncer"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The backend's name ("pgbouncer" is the PostgreSQL backend, through the pooler)."""
    if request.param == "sqlite":
        return "sqlite"
    url = request.getfixturevalue("pg_url")
    if request.param == "pgbouncer":
        url = request.getfixturevalue("pgbouncer").url()
    monkeypatch.setenv("MIRRORNEURON_STORE", url)
    # Every test its own project, hence its own schemas in the one database.
    monkeypatch.setenv("MIRRORNEURON_PROJECT", request.getfixturevalue("tmp_path").name)
    return "postgresql"


@pytest.fixture
def opener(backend: str, tmp_path: Path) -> Iterator[Opener]:
    """Opens the store of tmp_path/nb.ipynb (any number of times: separate connections);
    all are closed at the end."""
    opened: list[Store] = []
    notebook = tmp_path / "project" / "nb.ipynb"
    notebook.parent.mkdir(exist_ok=True)

    def open_(**kwargs: object) -> Store:
        s = open_store(notebook.with_suffix(".mn"), notebook=notebook, **kwargs)  # type: ignore[arg-type]
        opened.append(s)
        return s

    yield open_
    for s in opened:
        s.close()


@pytest.fixture
def st(opener: Opener) -> Store:
    s = opener()
    new_run(s)
    return s
