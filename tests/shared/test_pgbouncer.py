"""The shared store through a PgBouncer in transaction mode (issue 15): every transaction
may run on any server connection, so nothing a store needs may be session state.

Before: each connection set `search_path` and `default_transaction_read_only` for its
session, and through the pooler (one server connection here) a notebook's writes landed
in whichever schema the last client had set, and a reader's read-only setting refused
other clients' writes. Run against f85b014: both tests fail."""

from __future__ import annotations

from pathlib import Path

import psycopg

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


def _client_messages(trace: str) -> list[str]:
    """The frontend's messages in a libpq trace, as `Name argument...` strings."""
    lines = (line.split("\t") for line in trace.splitlines())
    return [" ".join(f[2:]) for f in lines if len(f) > 2 and f[0] == "F"]


def test_no_flush_follows_the_sync_that_ends_a_transaction(
    pg_url: str, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """A Flush sent after the Sync that answers ReadyForQuery-idle reaches a transaction
    pooler once it has handed the server connection back: PgBouncer 1.18 gives it to this
    client again and waits for an answer that never comes, and every other client waits
    for the pool (query_wait_timeout; the test above failed so in CI, and here about once
    in 30 to 50 runs).
    psycopg ends a pipeline with Sync + Flush, so COMMIT must come after the pipeline.
    On 9b227a9 every write transaction ended `COMMIT ... Sync, Flush`."""
    monkeypatch.setenv("MIRRORNEURON_ROOT", str(tmp_path))
    store = _open(tmp_path, "nb", pg_url)
    log = tmp_path / "trace"
    try:
        new_run(store, "run1")
        with log.open("w") as out:
            with store.conn.session() as raw:
                raw.pgconn.trace(out.fileno())
                raw.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)
            try:
                succeed(store, "run1", "first")
                succeed(store, "run1", "second")
            finally:
                with store.conn.session() as raw:
                    raw.pgconn.untrace()
    finally:
        store.close()
    sent = _client_messages(log.read_text())
    # Where each COMMIT's exchange ends: a simple Query, or the Sync after its Execute.
    ends = [i for i, m in enumerate(sent) if m == 'Query  "COMMIT"']
    for at in (i for i, m in enumerate(sent) if m.startswith("Parse") and '"COMMIT"' in m):
        ends.append(next(i for i in range(at, len(sent)) if sent[i] == "Sync"))
    assert len(ends) >= 2, "\n".join(sent)
    for end in ends:
        assert sent[end + 1 : end + 2] != ["Flush"], "\n".join(sent[: end + 2])
