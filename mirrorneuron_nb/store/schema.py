"""Numbered schema migrations. PRAGMA user_version holds the applied version."""

from __future__ import annotations

import sqlite3

from ..errors import SchemaTooNew, SidecarError
from .connection import write_txn

MIGRATIONS: list[str] = [
    # 1: runs, steps, attempts, checkpoints and their variables, blob index, events
    """
    CREATE TABLE runs(
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        status TEXT NOT NULL,
        started_at REAL NOT NULL,
        ended_at REAL,
        pid INTEGER,
        host TEXT,
        parameters TEXT NOT NULL DEFAULT '{}',
        notebook TEXT
    );
    CREATE TABLE steps(
        name TEXT PRIMARY KEY,
        position INTEGER,
        cell_id TEXT,
        code TEXT NOT NULL,
        code_hash TEXT NOT NULL,
        status TEXT NOT NULL,
        options TEXT NOT NULL DEFAULT '{}',
        checkpoint_id INTEGER,
        run_id TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        started_at REAL,
        ended_at REAL,
        duration REAL,
        error TEXT,
        traceback TEXT,
        updated_at REAL NOT NULL
    );
    CREATE TABLE attempts(
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL REFERENCES runs(id),
        step TEXT NOT NULL REFERENCES steps(name) ON DELETE CASCADE,
        number INTEGER NOT NULL,
        cache_key TEXT NOT NULL,
        status TEXT NOT NULL,
        started_at REAL NOT NULL,
        ended_at REAL,
        error TEXT,
        traceback TEXT
    );
    CREATE INDEX attempts_step ON attempts(step, id);
    CREATE TABLE checkpoints(
        id INTEGER PRIMARY KEY,
        step TEXT NOT NULL REFERENCES steps(name) ON DELETE CASCADE,
        cache_key TEXT NOT NULL,
        code_hash TEXT NOT NULL,
        run_id TEXT,
        attempt_id INTEGER,
        created_at REAL NOT NULL,
        duration REAL NOT NULL,
        inputs TEXT NOT NULL DEFAULT '{}',
        outputs TEXT NOT NULL DEFAULT '[]',
        size INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX checkpoints_step_key ON checkpoints(step, cache_key, id);
    CREATE TABLE checkpoint_vars(
        checkpoint_id INTEGER NOT NULL REFERENCES checkpoints(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        type_name TEXT NOT NULL,
        fingerprint TEXT,
        serializer TEXT,
        size INTEGER NOT NULL DEFAULT 0,
        header BLOB,
        stream_blob TEXT,
        buffers TEXT NOT NULL DEFAULT '[]',
        signature TEXT,
        error TEXT,
        PRIMARY KEY(checkpoint_id, name)
    );
    CREATE TABLE blobs(
        hash TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TABLE events(
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts REAL NOT NULL,
        run_id TEXT,
        step TEXT,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX events_step ON events(step, id);
    """,
    # 2: durable calls inside steps, approval gates
    """
    CREATE TABLE durable_calls(
        id INTEGER PRIMARY KEY,
        step TEXT NOT NULL,
        open INTEGER NOT NULL DEFAULT 1,
        function TEXT NOT NULL,
        call_key TEXT NOT NULL,
        occurrence INTEGER NOT NULL,
        status TEXT NOT NULL,
        run_id TEXT,
        attempt_id INTEGER,
        started_at REAL NOT NULL,
        duration REAL,
        type_name TEXT,
        serializer TEXT,
        size INTEGER NOT NULL DEFAULT 0,
        header BLOB,
        stream_blob TEXT,
        buffers TEXT NOT NULL DEFAULT '[]',
        signature TEXT,
        error TEXT
    );
    CREATE UNIQUE INDEX durable_calls_open ON durable_calls(step, call_key, occurrence)
        WHERE open = 1 AND status = 'succeeded';
    CREATE INDEX durable_calls_step ON durable_calls(step, open);
    CREATE TABLE approvals(
        id INTEGER PRIMARY KEY,
        step TEXT NOT NULL,
        question TEXT NOT NULL,
        status TEXT NOT NULL,
        requested_at REAL NOT NULL,
        run_id TEXT,
        decided_at REAL,
        decided_by TEXT,
        note TEXT,
        consumed INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX approvals_step ON approvals(step, id);
    """,
    # 3: variables saved together in one group stream (values/groups.py)
    """
    ALTER TABLE checkpoint_vars ADD COLUMN stream_size INTEGER;
    ALTER TABLE checkpoint_vars ADD COLUMN cosaved INTEGER NOT NULL DEFAULT 0;
    """,
    # 4: signatures bound to their place (values/signing.py): the sidecar's random id,
    # each value's cryptographic stream hash, and a signature over a checkpoint's outputs
    """
    CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO meta(key, value) VALUES ('sidecar_id', lower(hex(randomblob(16))));
    ALTER TABLE checkpoint_vars ADD COLUMN stream_hash TEXT;
    ALTER TABLE durable_calls ADD COLUMN stream_hash TEXT;
    ALTER TABLE checkpoints ADD COLUMN signature TEXT;
    """,
    # 5: step ownership (store/leases.py): one row per held lease (cache_key NULL: a
    # --once step, exclusive per step), and the claimants waiting for one
    """
    CREATE TABLE leases(
        id INTEGER PRIMARY KEY,
        step TEXT NOT NULL,
        cache_key TEXT,
        run_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        started REAL NOT NULL,
        heartbeat REAL NOT NULL
    );
    CREATE INDEX leases_step ON leases(step, cache_key);
    CREATE INDEX leases_run ON leases(run_id);
    CREATE TABLE lease_waiters(
        step TEXT NOT NULL,
        run_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        since REAL NOT NULL,
        PRIMARY KEY(step, run_id)
    );
    """,
    # The first rejected step before a position: asked before every step (look_to_run),
    # it scanned and sorted the whole steps table.
    """
    CREATE INDEX steps_status_position ON steps(status, position);
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)


def current_version(conn: sqlite3.Connection) -> int:
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        raise SidecarError(f"sidecar database is unreadable: {exc}") from exc


def check_version(conn: sqlite3.Connection, path: str) -> int:
    found = current_version(conn)
    if found > SCHEMA_VERSION:
        raise SchemaTooNew(path, found, SCHEMA_VERSION)
    return found


def migrate(conn: sqlite3.Connection, path: str) -> None:
    """Apply pending migrations, each in its own transaction (re-checked under the lock)."""
    if check_version(conn, path) == SCHEMA_VERSION:
        return
    with write_txn(conn):
        found = check_version(conn, path)
        for number in range(found, SCHEMA_VERSION):
            for statement in MIGRATIONS[number].split(";"):
                if statement.strip():
                    conn.execute(statement)
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
