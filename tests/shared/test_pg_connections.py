"""One PostgreSQL connection per process and database (issue 15): a kernel's session, its
checkpoint writer thread and its lease heartbeat thread each open the notebook's store, and
before this each store held a connection of its own (2-3 per kernel: 100 workers needed
250-300 against the default max_connections of 100). Against f85b014 the first test fails
with 3 connections."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import psycopg
import pytest

from mirrorneuron_nb.store import Store, open_store

from ..store.helpers import new_run, succeed


def _server_connections(url: str, name: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (name,)
        ).fetchone()
    return int(row[0]) if row else -1


@pytest.fixture
def named(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """A URL whose connections the server can tell apart from every other test's."""
    monkeypatch.setenv("MIRRORNEURON_ROOT", str(tmp_path))
    name = f"mn-{uuid.uuid4().hex[:8]}"
    return f"{pg_url}?application_name={name}", name


def _open(tmp_path: Path, url: str, **kwargs: bool) -> Store:
    notebook = tmp_path / "nb.ipynb"
    return open_store(notebook.with_suffix(".mn"), notebook=notebook, url=url, **kwargs)


def test_a_kernels_three_stores_share_one_connection(
    named: tuple[str, str], pg_url: str, tmp_path: Path
) -> None:
    url, name = named
    session, writer, heartbeat = (_open(tmp_path, url) for _ in range(3))
    try:
        new_run(session, "run1")
        errors: list[BaseException] = []

        def work(store: Store, step: str) -> None:
            try:
                for i in range(20):
                    succeed(store, "run1", f"{step}{i}")
                    store.heartbeat("run1")
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [
            threading.Thread(target=work, args=(s, n))
            for s, n in ((session, "a"), (writer, "b"), (heartbeat, "c"))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert errors == []
        assert len(session.steps()) == 60
        assert _server_connections(pg_url, name) == 1
    finally:
        for s in (session, writer, heartbeat):
            s.close()
    assert _server_connections(pg_url, name) == 0  # the last close gives it back


def test_a_store_used_inside_anothers_transaction_gets_its_own_connection(
    named: tuple[str, str], tmp_path: Path
) -> None:
    """The same thread inside one store's write transaction reads through another store of
    the notebook: it must not join the open transaction (and see its uncommitted rows)."""
    url, _ = named
    one, two = _open(tmp_path, url), _open(tmp_path, url, readonly=False)
    try:
        new_run(one, "run1")
        with one.conn.write_transaction():  # type: ignore[attr-defined]
            one.conn.execute("UPDATE runs SET status = 'failed' WHERE id = 'run1'")
            assert [r.status for r in two.runs()] == ["running"]  # not committed yet
        assert [r.status for r in two.runs()] == ["failed"]
    finally:
        one.close()
        two.close()
