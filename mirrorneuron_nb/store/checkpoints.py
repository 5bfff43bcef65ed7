"""Checkpoints: what a successful attempt left behind, made visible in one transaction."""

from __future__ import annotations

import json
import sqlite3
import time

from ..models import (
    STATE_VARIABLE,
    ApprovalStatus,
    Attempt,
    Checkpoint,
    Claimant,
    LeaseDenied,
    NewCheckpoint,
    StepLook,
    StepStart,
    StepStatus,
    VarEntry,
)
from .base import Conn, EventRow, events_txn, insert_rows
from .connection import write_txn
from .journal import close_journal_txn
from .leases import live_owner, release_txn, released_event
from .manifest import STEP_FIELDS, read_meta, write_manifest_txn
from .signed import SignedRows
from .steps import NEWEST_CHECKPOINT, REJECTED_BEFORE, begin_txn


class CheckpointsTable(SignedRows):
    def commit_checkpoint(self, attempt: Attempt, new: NewCheckpoint) -> int:
        """Blobs are already on disk and fsynced: this makes the checkpoint visible, atomically."""
        with write_txn(self.conn) as c:
            return self._commit_txn(c, attempt, new, time.time(), [])

    def claim_and_commit(
        self, run_id: str, start: StepStart, claimant: Claimant, new: NewCheckpoint
    ) -> tuple[Attempt, int] | LeaseDenied:
        """A step whose body has run already, and could change nothing but the names it
        bound (kernel/inert.py): its lease taken, its attempt begun and its checkpoint
        committed in ONE transaction, with the very rows and events the two transactions
        of `claim_attempt` + `commit_checkpoint` write. When the lease is held elsewhere (or
        the step was done meanwhile) nothing of the step is written: the answer says why."""
        now = time.time()
        events: list[EventRow] = []
        with write_txn(self.conn) as c:
            began = begin_txn(c, run_id, start, claimant, now, events, keep=False)
            if isinstance(began, LeaseDenied):
                return began
            return began, self._commit_txn(c, began, new, now, events, held=False)

    def _commit_txn(
        self,
        c: Conn,
        attempt: Attempt,
        new: NewCheckpoint,
        now: float,
        events: list[EventRow],
        *,
        held: bool = True,
    ) -> int:
        """`held=False`: the lease was claimed in this transaction without a row
        (claim_txn's `keep`); its release is only its event."""
        size = sum(v.size for v in new.variables)
        insert_rows(
            c,
            "INSERT INTO blobs(hash, size, created_at)",
            [(key, n, now) for key, n in new.new_blobs],
            " ON CONFLICT DO NOTHING",
        )
        # The whole row comes back for the manifest log (no second look at it).
        checkpoint = c.execute(
            "INSERT INTO checkpoints(step, cache_key, code_hash, run_id, attempt_id,"
            " created_at, duration, inputs, outputs, size, signature)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?) RETURNING *",
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
                new.signature,
            ),
        ).fetchall()[0]
        checkpoint_id = int(checkpoint["id"])
        insert_rows(
            c,
            "INSERT INTO checkpoint_vars(checkpoint_id, name, type_name, fingerprint,"
            " serializer, size, header, stream_blob, buffers, signature, error,"
            " stream_size, cosaved, stream_hash)",
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
                    v.stream_size,
                    int(v.cosaved),
                    v.stream_hash,
                )
                for v in new.variables
            ],
        )
        c.execute(
            "UPDATE attempts SET status=?, ended_at=? WHERE id=?",
            (StepStatus.succeeded.value, now, attempt.id),
        )
        # The step's fields come back for the manifest log (no second look at them);
        # without one, nothing is waited for (PostgreSQL's pipeline goes on).
        fields = f" RETURNING {', '.join(STEP_FIELDS)}" if self.keeps_manifest else ""
        updated = c.execute(
            "UPDATE steps SET status=?, checkpoint_id=?, ended_at=?, duration=?, error=NULL,"
            f" traceback=NULL, updated_at=? WHERE name=?{fields}",
            (StepStatus.succeeded.value, checkpoint_id, now, new.duration, now, attempt.step),
        )
        # The rows again in the manifest log, for `mn-nb doctor --rebuild`.
        if self.keeps_manifest:
            step = updated.fetchall()
            if self._meta is None:
                self._meta = read_meta(c)
            write_manifest_txn(
                c,
                self.root,
                checkpoint_id,
                checkpoint=checkpoint,
                step=step[0] if step else None,
                meta=self._meta,
            )
        # A successful run uses up the approval that let it through.
        c.execute(
            "UPDATE approvals SET consumed=1 WHERE step=? AND status=?",
            (attempt.step, ApprovalStatus.approved.value),
        )
        # The execution is over: its durable calls are kept but never replayed again,
        # so a forced or changed re-run starts an empty journal.
        close_journal_txn(c, attempt.step)
        events.append(
            (
                attempt.run_id,
                attempt.step,
                "succeeded",
                {
                    "attempt": attempt.number,
                    "checkpoint": checkpoint_id,
                    "variables": [v.name for v in new.variables if v.saved],
                    "unsaved": [v.name for v in new.variables if not v.saved],
                    "bytes": size,
                    "duration": new.duration,
                },
            )
        )
        # The execution is over: whoever waits for its lease is served this checkpoint.
        if held:
            release_txn(c, attempt.step, attempt.run_id, StepStatus.succeeded.value, events)
        else:
            events.append(released_event(attempt.step, attempt.run_id, StepStatus.succeeded.value))
        events_txn(c, events)
        return checkpoint_id

    def sidecar_id(self) -> str:
        """The sidecar's random id, made with its database (schema 4), which signatures
        bind values to; "" for a read-only sidecar from before it (nothing verifies).

        Read once per store: the id never changes under an open database (a replaced file
        is refused by the write guard), and every step asks for it twice."""
        if self._sidecar_id:
            return self._sidecar_id
        try:
            row = self.conn.execute("SELECT value FROM meta WHERE key='sidecar_id'").fetchone()
        except sqlite3.OperationalError:  # no meta table: a read-only, older sidecar
            return ""
        found = str(row[0]) if row else ""
        self._sidecar_id = found  # "" is not kept: a migration may add the id later
        return found

    def look_to_run(
        self, step: str, cache_key: str, run_id: str, position: int | None = None
    ) -> StepLook:
        """What a step about to run looks at, in one statement: its newest checkpoint with
        `cache_key` (find_checkpoint), the live owner of a lease on it that excludes this
        key, other than `run_id` (lease_holder), and the first rejected step before
        `position` (rejected_before; none when the position is unknown). Most steps find
        nothing, which look_cache.py knows without a statement while nothing committed."""
        looks = self._looks
        if looks is not None and not self.conn.in_transaction:  # type: ignore[attr-defined]
            known = looks.answer(step, cache_key, position)
            if known is not None:
                return known
        rows = self.conn.execute(
            "SELECT c.id AS newest, l.run_id, l.cache_key, l.kind, l.host, l.pid, l.started,"
            f" l.heartbeat, ({REJECTED_BEFORE}) AS rejected"
            " FROM (SELECT 1 AS one) AS here"
            " LEFT JOIN leases l ON l.step=?"
            f" LEFT JOIN checkpoints c ON c.id=({NEWEST_CHECKPOINT})",
            (StepStatus.rejected.value, position, step, step, cache_key),
        ).fetchall()
        first = rows[0]
        found = self.checkpoint(int(first["newest"])) if first["newest"] is not None else None
        rejected = first["rejected"]
        return StepLook(
            found, live_owner(rows, cache_key, run_id), None if rejected is None else str(rejected)
        )

    def find_checkpoint(self, step: str, cache_key: str) -> Checkpoint | None:
        row = self.conn.execute(
            "SELECT * FROM checkpoints WHERE step=? AND cache_key=? ORDER BY id DESC LIMIT 1",
            (step, cache_key),
        ).fetchone()
        return checkpoint_record(row) if row else None

    def checkpoint(self, checkpoint_id: int) -> Checkpoint | None:
        row = self.conn.execute("SELECT * FROM checkpoints WHERE id=?", (checkpoint_id,)).fetchone()
        return checkpoint_record(row) if row else None

    def variables(self, checkpoint_id: int) -> list[VarEntry]:
        """The checkpoint's variables (not its library state: see `library_state`)."""
        rows = self.conn.execute(
            "SELECT * FROM checkpoint_vars WHERE checkpoint_id=? AND name!=? ORDER BY name",
            (checkpoint_id, STATE_VARIABLE),
        ).fetchall()
        return [var_entry(r) for r in rows]

    def library_state(self, checkpoint_id: int) -> VarEntry | None:
        """How to load the library state the checkpoint's step changed, if any."""
        row = self.conn.execute(
            "SELECT * FROM checkpoint_vars WHERE checkpoint_id=? AND name=?",
            (checkpoint_id, STATE_VARIABLE),
        ).fetchone()
        return var_entry(row) if row else None

    def current_variables(self) -> dict[str, list[VarEntry]]:
        """Variables of every step's current checkpoint, keyed by step name."""
        return self._current("v.name!=?")

    def current_library_states(self) -> dict[str, VarEntry]:
        """The library state of every step's current checkpoint that changed some."""
        return {step: entries[0] for step, entries in self._current("v.name=?").items()}

    def _current(self, condition: str) -> dict[str, list[VarEntry]]:
        rows = self.conn.execute(
            "SELECT s.name AS step, v.* FROM steps s JOIN checkpoint_vars v"
            f" ON v.checkpoint_id = s.checkpoint_id WHERE {condition}"
            " ORDER BY s.position, v.name",
            (STATE_VARIABLE,),
        ).fetchall()
        out: dict[str, list[VarEntry]] = {}
        for r in rows:
            out.setdefault(r["step"], []).append(var_entry(r))
        return out


def checkpoint_record(row: sqlite3.Row) -> Checkpoint:
    d = dict(row)
    d["inputs"] = json.loads(d["inputs"])
    try:
        outputs = json.loads(d["outputs"])
    except ValueError:
        outputs = None
    if not isinstance(outputs, list) or not all(isinstance(o, dict) for o in outputs):
        # Edited into something that is no list of outputs: nothing of it is ever served
        # (no signature verifies), and the step runs again.
        outputs, d["signature"] = [], None
    d["outputs"] = outputs
    return Checkpoint(**d)


def var_entry(row: sqlite3.Row) -> VarEntry:
    d = dict(row)
    d["buffers"] = [tuple(b) for b in json.loads(d["buffers"])]
    return VarEntry(**d)
