"""The sidecar: one public method per transaction, `_x_txn(conn)` helpers beneath them."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import SidecarError, UnknownStep
from ..models import Approval, Attempt, Checkpoint, Event, Run, Step, StepStatus, VarEntry
from . import journal
from .blobs import BlobStore
from .connection import BUSY_TIMEOUT_MS, connect, write_txn
from .schema import check_version, migrate

DB_NAME = "state.sqlite"
BLOB_DIR = "blobs"


@dataclass(frozen=True)
class StepStart:
    """What the runner knows about a step when an attempt begins."""

    name: str
    cell_id: str | None
    code: str
    code_hash: str
    cache_key: str
    options: dict[str, Any]
    position: int | None = None


@dataclass(frozen=True)
class NewCheckpoint:
    cache_key: str
    code_hash: str
    duration: float
    inputs: dict[str, str]
    outputs: list[dict[str, Any]]
    variables: list[VarEntry]
    new_blobs: list[tuple[str, int]]


@dataclass(frozen=True)
class GcPlan:
    checkpoints_dropped: int
    referenced: frozenset[str]
    """Every blob some checkpoint still uses: all other blob files may go."""


class Store:
    """The sidecar directory: `state.sqlite` plus content-addressed `blobs/`."""

    def __init__(
        self, root: Path, *, readonly: bool = False, busy_timeout_ms: int = BUSY_TIMEOUT_MS
    ) -> None:
        self.root = Path(root)
        self.readonly = readonly
        self.db_path = self.root / DB_NAME
        self.blobs = BlobStore(self.root / BLOB_DIR)
        if readonly:
            if not self.db_path.exists():
                raise SidecarError(f"no sidecar at {self.root}")
            self.conn = connect(self.db_path, readonly=True, busy_timeout_ms=busy_timeout_ms)
            if check_version(self.conn, str(self.db_path)) == 0:
                self.conn.close()
                raise SidecarError(f"sidecar {self.root} was never initialized (no steps ran)")
        else:
            try:
                self.root.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise SidecarError(f"cannot create sidecar {self.root}: {exc}") from exc
            if self.db_path.exists():
                # Refuse a newer (or foreign) file before connect() switches it to WAL.
                probe = connect(self.db_path, readonly=True, busy_timeout_ms=busy_timeout_ms)
                try:
                    check_version(probe, str(self.db_path))
                finally:
                    probe.close()
            self.conn = connect(self.db_path, busy_timeout_ms=busy_timeout_ms)
            migrate(self.conn, str(self.db_path))

    def close(self) -> None:
        self.conn.close()

    # -- runs ---------------------------------------------------------------------------

    def start_run(self, run: Run) -> None:
        with write_txn(self.conn) as c:
            c.execute(
                "INSERT INTO runs(id, kind, status, started_at, pid, host, parameters, notebook)"
                " VALUES (?,?,?,?,?,?,?,?)",
                (
                    run.id,
                    run.kind,
                    run.status,
                    run.started_at,
                    run.pid,
                    run.host,
                    json.dumps(run.parameters, default=repr),
                    run.notebook,
                ),
            )
            _event_txn(c, run.id, None, "run_started", {"kind": run.kind, "pid": run.pid})

    def end_run(self, run_id: str, status: str) -> None:
        with write_txn(self.conn) as c:
            c.execute(
                "UPDATE runs SET status=?, ended_at=? WHERE id=?", (status, time.time(), run_id)
            )
            _event_txn(c, run_id, None, "run_ended", {"status": status})

    def runs(self) -> list[Run]:
        rows = self.conn.execute("SELECT * FROM runs ORDER BY started_at").fetchall()
        return [Run(**{**dict(r), "parameters": json.loads(r["parameters"])}) for r in rows]

    def mark_interrupted(self, run_id: str | None) -> list[str]:
        """Steps left `running` by a process that is gone become `interrupted`."""
        host = socket.gethostname()
        with write_txn(self.conn) as c:
            rows = c.execute(
                "SELECT s.name, s.run_id, r.pid, r.host FROM steps s"
                " LEFT JOIN runs r ON r.id = s.run_id WHERE s.status = ?",
                (StepStatus.running.value,),
            ).fetchall()
            # Another host's process cannot be probed: leave its steps alone.
            dead = [r for r in rows if r["host"] in (None, host) and not pid_alive(r["pid"])]
            now = time.time()
            for r in dead:
                c.execute(
                    "UPDATE steps SET status=?, updated_at=?, error=? WHERE name=?",
                    (
                        StepStatus.interrupted.value,
                        now,
                        "the kernel stopped while this step was running",
                        r["name"],
                    ),
                )
                c.execute(
                    "UPDATE attempts SET status=?, ended_at=? WHERE step=? AND status=?",
                    (StepStatus.interrupted.value, now, r["name"], StepStatus.running.value),
                )
                c.execute(
                    "UPDATE runs SET status='died', ended_at=COALESCE(ended_at, ?)"
                    " WHERE id=? AND ended_at IS NULL",
                    (now, r["run_id"]),
                )
                _event_txn(c, run_id, r["name"], "interrupted", {"previous_run": r["run_id"]})
            return [r["name"] for r in dead]

    # -- steps --------------------------------------------------------------------------

    def step(self, name: str) -> Step | None:
        row = self.conn.execute("SELECT * FROM steps WHERE name=?", (name,)).fetchone()
        return _step(row) if row else None

    def steps(self) -> list[Step]:
        rows = self.conn.execute(
            "SELECT * FROM steps ORDER BY position IS NULL, position, started_at"
        ).fetchall()
        return [_step(r) for r in rows]

    def rejected_before(self, position: int) -> str | None:
        """The first rejected step earlier in notebook order, if any (one indexed query: it
        runs before every step)."""
        row = self.conn.execute(
            "SELECT name FROM steps WHERE status=? AND position < ? ORDER BY position LIMIT 1",
            (StepStatus.rejected.value, position),
        ).fetchone()
        return str(row[0]) if row else None

    def set_positions(self, positions: dict[str, int]) -> None:
        with write_txn(self.conn) as c:
            c.executemany(
                "UPDATE steps SET position=? WHERE name=?",
                [(pos, name) for name, pos in positions.items()],
            )

    def begin_attempt(self, run_id: str, start: StepStart) -> Attempt:
        """Record the intent to run before the body runs (so a crash shows `interrupted`)."""
        now = time.time()
        with write_txn(self.conn) as c:
            existing = c.execute(
                "SELECT position FROM steps WHERE name=?", (start.name,)
            ).fetchone()
            position = start.position
            if position is None:
                if existing is not None and existing["position"] is not None:
                    position = existing["position"]
                else:
                    top = c.execute("SELECT MAX(position) FROM steps").fetchone()[0]
                    position = 0 if top is None else int(top) + 1
            c.execute(
                "INSERT INTO steps(name, position, cell_id, code, code_hash, status, options,"
                " run_id, attempts, started_at, ended_at, duration, error, traceback, updated_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,NULL,NULL,NULL,NULL,?)"
                " ON CONFLICT(name) DO UPDATE SET position=excluded.position,"
                " cell_id=COALESCE(excluded.cell_id, steps.cell_id), code=excluded.code,"
                " code_hash=excluded.code_hash, status=excluded.status, options=excluded.options,"
                " run_id=excluded.run_id,"
                " attempts=CASE WHEN steps.run_id = excluded.run_id"
                " AND steps.status IN ('failed', 'retrying')"
                "   THEN steps.attempts + 1 ELSE 1 END,"
                " started_at=excluded.started_at, ended_at=NULL, duration=NULL, error=NULL,"
                " traceback=NULL, updated_at=excluded.updated_at",
                (
                    start.name,
                    position,
                    start.cell_id,
                    start.code,
                    start.code_hash,
                    StepStatus.running.value,
                    json.dumps(start.options),
                    run_id,
                    1,
                    now,
                    now,
                ),
            )
            number = (
                c.execute(
                    "SELECT COUNT(*) FROM attempts WHERE step=? AND run_id=?", (start.name, run_id)
                ).fetchone()[0]
                + 1
            )
            cur = c.execute(
                "INSERT INTO attempts(run_id, step, number, cache_key, status, started_at)"
                " VALUES (?,?,?,?,?,?)",
                (run_id, start.name, number, start.cache_key, StepStatus.running.value, now),
            )
            attempt_id = int(cur.lastrowid or 0)
            _event_txn(
                c, run_id, start.name, "running", {"attempt": number, "cache_key": start.cache_key}
            )
        return Attempt(
            id=attempt_id,
            run_id=run_id,
            step=start.name,
            number=number,
            cache_key=start.cache_key,
            status=StepStatus.running.value,
            started_at=now,
        )

    def fail_attempt(self, attempt: Attempt, error: str, traceback: str) -> None:
        now = time.time()
        with write_txn(self.conn) as c:
            c.execute(
                "UPDATE attempts SET status=?, ended_at=?, error=?, traceback=? WHERE id=?",
                (StepStatus.failed.value, now, error, traceback, attempt.id),
            )
            c.execute(
                "UPDATE steps SET status=?, ended_at=?, duration=?, error=?, traceback=?,"
                " updated_at=? WHERE name=?",
                (
                    StepStatus.failed.value,
                    now,
                    now - attempt.started_at,
                    error,
                    traceback,
                    now,
                    attempt.step,
                ),
            )
            _event_txn(
                c,
                attempt.run_id,
                attempt.step,
                "failed",
                {"attempt": attempt.number, "error": error},
            )

    def commit_checkpoint(self, attempt: Attempt, new: NewCheckpoint) -> int:
        """Blobs are already on disk and fsynced: this makes the checkpoint visible, atomically."""
        now = time.time()
        size = sum(v.size for v in new.variables)
        with write_txn(self.conn) as c:
            c.executemany(
                "INSERT OR IGNORE INTO blobs(hash, size, created_at) VALUES (?,?,?)",
                [(key, n, now) for key, n in new.new_blobs],
            )
            cur = c.execute(
                "INSERT INTO checkpoints(step, cache_key, code_hash, run_id, attempt_id,"
                " created_at, duration, inputs, outputs, size) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    attempt.step,
                    new.cache_key,
                    new.code_hash,
                    attempt.run_id,
                    attempt.id,
                    now,
                    new.duration,
                    json.dumps(new.inputs),
                    json.dumps(new.outputs),
                    size,
                ),
            )
            checkpoint_id = int(cur.lastrowid or 0)
            c.executemany(
                "INSERT INTO checkpoint_vars(checkpoint_id, name, type_name, fingerprint,"
                " serializer, size, header, stream_blob, buffers, signature, error)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        checkpoint_id,
                        v.name,
                        v.type_name,
                        v.fingerprint,
                        v.serializer,
                        v.size,
                        v.header,
                        v.stream_blob,
                        json.dumps(v.buffers),
                        v.signature,
                        v.error,
                    )
                    for v in new.variables
                ],
            )
            c.execute(
                "UPDATE attempts SET status=?, ended_at=? WHERE id=?",
                (StepStatus.succeeded.value, now, attempt.id),
            )
            c.execute(
                "UPDATE steps SET status=?, checkpoint_id=?, ended_at=?, duration=?, error=NULL,"
                " traceback=NULL, updated_at=? WHERE name=?",
                (StepStatus.succeeded.value, checkpoint_id, now, new.duration, now, attempt.step),
            )
            # A successful run uses up the approval that let it through.
            c.execute(
                "UPDATE approvals SET consumed=1 WHERE step=? AND status='approved'",
                (attempt.step,),
            )
            # The execution is over: its durable calls are kept but never replayed again,
            # so a forced or changed re-run starts an empty journal.
            journal.close_txn(c, attempt.step)
            unsaved = [v.name for v in new.variables if not v.saved]
            _event_txn(
                c,
                attempt.run_id,
                attempt.step,
                "succeeded",
                {
                    "attempt": attempt.number,
                    "checkpoint": checkpoint_id,
                    "variables": [v.name for v in new.variables if v.saved],
                    "unsaved": unsaved,
                    "bytes": size,
                    "duration": new.duration,
                },
            )
        return checkpoint_id

    def record_cache_hit(
        self, run_id: str, start: StepStart, checkpoint: Checkpoint, restored: Sequence[str]
    ) -> None:
        now = time.time()
        with write_txn(self.conn) as c:
            c.execute(
                "INSERT INTO steps(name, position, cell_id, code, code_hash, status, options,"
                " checkpoint_id, run_id, attempts, started_at, ended_at, duration, updated_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,0,?,?,?,?)"
                " ON CONFLICT(name) DO UPDATE SET"
                " cell_id=COALESCE(excluded.cell_id, steps.cell_id), code=excluded.code,"
                " code_hash=excluded.code_hash, status=excluded.status,"
                " options=excluded.options, checkpoint_id=excluded.checkpoint_id,"
                " run_id=excluded.run_id, attempts=0, started_at=excluded.started_at,"
                " ended_at=excluded.ended_at, duration=excluded.duration, error=NULL,"
                " traceback=NULL, updated_at=excluded.updated_at",
                (
                    start.name,
                    start.position,
                    start.cell_id,
                    start.code,
                    start.code_hash,
                    StepStatus.cached.value,
                    json.dumps(start.options),
                    checkpoint.id,
                    run_id,
                    now,
                    now,
                    checkpoint.duration,
                    now,
                ),
            )
            _event_txn(
                c,
                run_id,
                start.name,
                "cached",
                {"checkpoint": checkpoint.id, "restored": list(restored)},
            )

    def mark_retrying(self, attempt: Attempt, delay: float, total: int) -> None:
        with write_txn(self.conn) as c:
            c.execute(
                "UPDATE steps SET status=?, updated_at=? WHERE name=?",
                (StepStatus.retrying.value, time.time(), attempt.step),
            )
            _event_txn(
                c,
                attempt.run_id,
                attempt.step,
                "retrying",
                {
                    "attempt": attempt.number,
                    "next": attempt.number + 1,
                    "of": total,
                    "delay": delay,
                },
            )

    # -- approvals ----------------------------------------------------------------------

    def approval(self, step: str) -> Approval | None:
        """The step's latest approval not yet used up by a successful run."""
        row = self.conn.execute(
            "SELECT * FROM approvals WHERE step=? AND consumed=0 ORDER BY id DESC LIMIT 1",
            (step,),
        ).fetchone()
        return Approval(**dict(row)) if row else None

    def pending_approvals(self) -> list[Approval]:
        rows = self.conn.execute(
            "SELECT * FROM approvals WHERE status='pending' AND consumed=0 ORDER BY id"
        ).fetchall()
        return [Approval(**dict(r)) for r in rows]

    def request_approval(self, run_id: str, start: StepStart, question: str) -> Approval:
        """Park the step at its gate (once: asking again keeps the pending request)."""
        now = time.time()
        with write_txn(self.conn) as c:
            _upsert_step_txn(c, run_id, start, StepStatus.awaiting_approval, now)
            row = c.execute(
                "SELECT * FROM approvals WHERE step=? AND consumed=0 AND status='pending'"
                " ORDER BY id DESC LIMIT 1",
                (start.name,),
            ).fetchone()
            if row is None:
                cur = c.execute(
                    "INSERT INTO approvals(step, question, status, requested_at, run_id)"
                    " VALUES (?,?,?,?,?)",
                    (start.name, question, "pending", now, run_id),
                )
                _event_txn(c, run_id, start.name, "awaiting_approval", {"question": question})
                row = c.execute("SELECT * FROM approvals WHERE id=?", (cur.lastrowid,)).fetchone()
            return Approval(**dict(row))

    def decide(
        self, step: str, approve: bool, by: str, note: str | None, run_id: str | None = None
    ) -> Approval:
        """Approve or reject the step's pending request."""
        now = time.time()
        status = "approved" if approve else "rejected"
        with write_txn(self.conn) as c:
            row = c.execute(
                "SELECT id FROM approvals WHERE step=? AND consumed=0 AND status='pending'"
                " ORDER BY id DESC LIMIT 1",
                (step,),
            ).fetchone()
            if row is None:
                raise UnknownStep(f"step {step!r} is not awaiting approval")
            c.execute(
                "UPDATE approvals SET status=?, decided_at=?, decided_by=?, note=? WHERE id=?",
                (status, now, by, note, row["id"]),
            )
            if not approve:
                c.execute(
                    "UPDATE steps SET status=?, error=?, updated_at=? WHERE name=?",
                    (
                        StepStatus.rejected.value,
                        f"rejected by {by}" + (f": {note}" if note else ""),
                        now,
                        step,
                    ),
                )
            _event_txn(c, run_id, step, status, {"by": by, "note": note})
            found = c.execute("SELECT * FROM approvals WHERE id=?", (row["id"],)).fetchone()
            return Approval(**dict(found))

    def mark_rejected(self, run_id: str, start: StepStart, approval: Approval) -> None:
        with write_txn(self.conn) as c:
            _upsert_step_txn(c, run_id, start, StepStatus.rejected, time.time())
            c.execute(
                "UPDATE steps SET error=? WHERE name=?",
                (
                    f"rejected by {approval.decided_by}"
                    + (f": {approval.note}" if approval.note else ""),
                    start.name,
                ),
            )

    def reset(self, names: Sequence[str] | None, run_id: str | None = None) -> list[str]:
        """Drop checkpoints so the steps run again. None means every step."""
        with write_txn(self.conn) as c:
            known = [r[0] for r in c.execute("SELECT name FROM steps ORDER BY position")]
            targets = known if names is None else list(names)
            missing = [n for n in targets if n not in known]
            if missing:
                raise UnknownStep(f"unknown step(s): {', '.join(missing)}")
            now = time.time()
            for name in targets:
                c.execute("DELETE FROM checkpoints WHERE step=?", (name,))
                journal.delete_open_txn(c, name)
                c.execute("UPDATE approvals SET consumed=1 WHERE step=?", (name,))
                c.execute(
                    "UPDATE steps SET status=?, checkpoint_id=NULL, error=NULL, traceback=NULL,"
                    " attempts=0, updated_at=? WHERE name=?",
                    (StepStatus.pending.value, now, name),
                )
                _event_txn(c, run_id, name, "reset", {})
            return targets

    def gc(self, keep_runs: int | None = None) -> GcPlan:
        """Drop checkpoints no longer needed; return the blobs nothing references any more.

        Every step's current checkpoint is kept. With `keep_runs`, other checkpoints are
        kept only if one of the newest `keep_runs` runs wrote them. The caller deletes
        the returned blob files (after a grace period; see BlobStore.collect).
        """
        with write_txn(self.conn) as c:
            dropped = 0
            if keep_runs is not None:
                recent = [
                    r[0]
                    for r in c.execute(
                        "SELECT id FROM runs ORDER BY started_at DESC LIMIT ?", (keep_runs,)
                    )
                ]
                marks = ",".join("?" * len(recent)) or "NULL"
                cur = c.execute(
                    "DELETE FROM checkpoints WHERE id NOT IN"
                    " (SELECT checkpoint_id FROM steps WHERE checkpoint_id IS NOT NULL)"
                    f" AND (run_id IS NULL OR run_id NOT IN ({marks}))",
                    recent,
                )
                dropped = cur.rowcount
            referenced: set[str] = set()
            for row in c.execute(
                "SELECT stream_blob, buffers FROM checkpoint_vars"
                " UNION ALL SELECT stream_blob, buffers FROM durable_calls"
            ):
                if row["stream_blob"]:
                    referenced.add(row["stream_blob"])
                referenced.update(key for key, _ in json.loads(row["buffers"]))
            rows = c.execute("SELECT hash FROM blobs").fetchall()
            unused = [r["hash"] for r in rows if r["hash"] not in referenced]
            c.executemany("DELETE FROM blobs WHERE hash=?", [(h,) for h in unused])
            _event_txn(
                c,
                None,
                None,
                "gc",
                {"checkpoints_dropped": dropped, "blobs_unreferenced": len(unused)},
            )
        return GcPlan(dropped, frozenset(referenced))

    # -- checkpoints --------------------------------------------------------------------

    def find_checkpoint(self, step: str, cache_key: str) -> Checkpoint | None:
        row = self.conn.execute(
            "SELECT * FROM checkpoints WHERE step=? AND cache_key=? ORDER BY id DESC LIMIT 1",
            (step, cache_key),
        ).fetchone()
        return _checkpoint(row) if row else None

    def checkpoint(self, checkpoint_id: int) -> Checkpoint | None:
        row = self.conn.execute("SELECT * FROM checkpoints WHERE id=?", (checkpoint_id,)).fetchone()
        return _checkpoint(row) if row else None

    def variables(self, checkpoint_id: int) -> list[VarEntry]:
        rows = self.conn.execute(
            "SELECT * FROM checkpoint_vars WHERE checkpoint_id=? ORDER BY name", (checkpoint_id,)
        ).fetchall()
        return [_var(r) for r in rows]

    def current_variables(self) -> dict[str, list[VarEntry]]:
        """Variables of every step's current checkpoint, keyed by step name."""
        rows = self.conn.execute(
            "SELECT s.name AS step, v.* FROM steps s JOIN checkpoint_vars v"
            " ON v.checkpoint_id = s.checkpoint_id ORDER BY s.position, v.name"
        ).fetchall()
        out: dict[str, list[VarEntry]] = {}
        for r in rows:
            out.setdefault(r["step"], []).append(_var(r))
        return out

    # -- events -------------------------------------------------------------------------

    def events(self, step: str | None = None, after: int = 0, limit: int = 1000) -> list[Event]:
        if step is None:
            rows = self.conn.execute(
                "SELECT * FROM events WHERE id>? ORDER BY id LIMIT ?", (after, limit)
            ).fetchall()
        else:
            rows = self.conn.execute(
                "SELECT * FROM events WHERE step=? AND id>? ORDER BY id LIMIT ?",
                (step, after, limit),
            ).fetchall()
        return [Event(**{**dict(r), "detail": json.loads(r["detail"])}) for r in rows]

    def attempts(self, step: str) -> list[Attempt]:
        rows = self.conn.execute(
            "SELECT * FROM attempts WHERE step=? ORDER BY id", (step,)
        ).fetchall()
        return [Attempt(**dict(r)) for r in rows]

    def disk_usage(self) -> int:
        files = [self.db_path, self.db_path.with_name(DB_NAME + "-wal")]
        db = sum(p.stat().st_size for p in files if p.exists())
        return db + (self.blobs.total_size() if self.blobs.root.exists() else 0)


def _event_txn(
    c: sqlite3.Connection, run_id: str | None, step: str | None, kind: str, detail: dict[str, Any]
) -> None:
    c.execute(
        "INSERT INTO events(ts, run_id, step, kind, detail) VALUES (?,?,?,?,?)",
        (time.time(), run_id, step, kind, json.dumps(detail, default=repr)),
    )


def _step(row: sqlite3.Row) -> Step:
    return Step(**{**dict(row), "options": json.loads(row["options"])})


def _checkpoint(row: sqlite3.Row) -> Checkpoint:
    d = dict(row)
    d["inputs"] = json.loads(d["inputs"])
    d["outputs"] = json.loads(d["outputs"])
    return Checkpoint(**d)


def _var(row: sqlite3.Row) -> VarEntry:
    d = dict(row)
    d["buffers"] = [tuple(b) for b in json.loads(d["buffers"])]
    return VarEntry(**d)


def pid_alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _upsert_step_txn(
    c: sqlite3.Connection, run_id: str, start: StepStart, status: StepStatus, now: float
) -> None:
    """Record a step that reached a state without an attempt (a gate, a rejection)."""
    c.execute(
        "INSERT INTO steps(name, position, cell_id, code, code_hash, status, options, run_id,"
        " attempts, updated_at) VALUES (?,?,?,?,?,?,?,?,0,?)"
        " ON CONFLICT(name) DO UPDATE SET status=excluded.status,"
        " position=COALESCE(excluded.position, steps.position),"
        " cell_id=COALESCE(excluded.cell_id, steps.cell_id), code=excluded.code,"
        " code_hash=excluded.code_hash, options=excluded.options, run_id=excluded.run_id,"
        " error=NULL, updated_at=excluded.updated_at",
        (
            start.name,
            start.position,
            start.cell_id,
            start.code,
            start.code_hash,
            status.value,
            json.dumps(start.options),
            run_id,
            now,
        ),
    )
