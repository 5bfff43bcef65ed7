"""The shared store through a PgBouncer in transaction mode (issue 15): every transaction
may run on any server connection, so nothing a store needs may be session state.

Before: each connection set `search_path` and `default_transaction_read_only` for its
session, and through the pooler (one server connection here) a notebook's writes landed
in whichever schema the last client had set, and a reader's read-only setting refused
other clients' writes. Run against f85b014: both tests fail."""

from __future__ import annotations

from pathlib import Path

from mirrorneuron_nb.store import open_store

from ..store.helpers import new_run, succeed
from .postgres import Bouncer


def _open(tmp_path: Path, name: str, url: str, **kwargs: bool):  # type: ignore[no-untyped-def]
    notebook = tmp_path / f"{name}.ipynb"
    return open_store(notebook.with_suffix(".mn"), notebook=notebook, url=url, **kwargs)


def test_two_notebooks_through_one_pooled_connection_keep_their_own_schemas(
    pgbouncer: Bouncer, pg_url: str, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MIRRORNEURON_ROOT", str(tmp_path))
    # Two client connections (two URLs), multiplexed by the bouncer on one server one.
    a = _open(tmp_path, "a", pgbouncer.url("a"))
    b = _open(tmp_path, "b", pgbouncer.url("b"))
    try:
        new_run(a, "run-a")
        new_run(b, "run-b")
        succeed(a, "run-a", "step_a")
        succeed(b, "run-b", "step_b")
        assert [r.id for r in a.runs()] == ["run-a"]
        assert [r.id for r in b.runs()] == ["run-b"]
        assert sorted(s.name for s in a.steps()) == ["step_a"]
        assert sorted(s.name for s in b.steps()) == ["step_b"]
    finally:
        a.close()
        b.close()
    # Seen directly on the server: each notebook's rows in its own schema.
    direct = _open(tmp_path, "a", pg_url, readonly=True)
    try:
        assert [r.id for r in direct.runs()] == ["run-a"]
    finally:
        direct.close()


def test_a_read_only_client_leaves_writers_through_the_pooler_writing(
    pgbouncer: Bouncer, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MIRRORNEURON_ROOT", str(tmp_path))
    writer = _open(tmp_path, "nb", pgbouncer.url("writer"))
    try:
        new_run(writer, "run1")
        succeed(writer, "run1", "first")
        reader = _open(tmp_path, "nb", pgbouncer.url("reader"), readonly=True)
        try:
            assert [s.name for s in reader.steps()] == ["first"]
            succeed(writer, "run1", "second")  # refused before: "read-only transaction"
            assert sorted(s.name for s in reader.steps()) == ["first", "second"]
        finally:
            reader.close()
    finally:
        writer.close()
