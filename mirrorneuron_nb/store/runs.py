"""Runs (kernel sessions, batch runs) and the steps a dead run left behind."""

from __future__ import annotations

import json
import time

from .. import config
from ..models import IN_FLIGHT_NAMES, LeaseOwner, Run, StepStatus
from .base import Tables, event_txn
from .connection import write_txn
from .leases import INTERRUPTED_ERROR, lease_free, owner_alive, pid_alive, this_host

__all__ = ["INTERRUPTED_ERROR", "RunsTable", "pid_alive"]


class RunsTable(Tables):
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
            event_txn(c, run.id, None, "run_started", {"kind": run.kind, "pid": run.pid})

    def end_run(self, run_id: str, status: str) -> None:
        with write_txn(self.conn) as c:
            c.execute(
                "UPDATE runs SET status=?, ended_at=? WHERE id=?", (status, time.time(), run_id)
            )
            event_txn(c, run_id, None, "run_ended", {"status": status})

    def runs(self) -> list[Run]:
        rows = self.conn.execute("SELECT * FROM runs ORDER BY started_at").fetchall()
        return [Run(**{**dict(r), "parameters": json.loads(r["parameters"])}) for r in rows]

    def running_pids(self) -> tuple[int, ...]:
        """Processes of the runs that have a step `running` or `checkpointing`: when one
        dies, that step is shown interrupted without any write to the sidecar."""
        rows = self.conn.execute(
            "SELECT DISTINCT r.pid FROM steps s JOIN runs r ON r.id = s.run_id"
            " WHERE s.status IN (?,?) AND r.pid IS NOT NULL ORDER BY r.pid",
            IN_FLIGHT_NAMES,
        ).fetchall()
        return tuple(int(r[0]) for r in rows)

    def mark_interrupted(self, run_id: str | None) -> list[str]:
        """Steps left `running` (or `checkpointing`: its commit never landed) by a process
        that is gone become `interrupted`: by the
        lease rule when the step's run holds a lease on it (leases.py), else (a step from
        before leases) when its run's process is gone from this host."""
        host, timeout = this_host(), config.lease_timeout()
        with write_txn(self.conn) as c:
            rows = c.execute(
                "SELECT s.name, s.run_id, r.pid, r.host, r.started_at, l.id AS lease,"
                " l.kind, l.host AS lhost, l.pid AS lpid, l.started, l.heartbeat FROM steps s"
                " LEFT JOIN runs r ON r.id = s.run_id"
                " LEFT JOIN leases l ON l.step = s.name AND l.run_id = s.run_id"
                " WHERE s.status IN (?,?)",
                IN_FLIGHT_NAMES,
            ).fetchall()
            now = time.time()
            dead = []
            for r in rows:
                if r["lease"] is not None:
                    owner = LeaseOwner(
                        r["run_id"], r["kind"], r["lhost"], r["lpid"], r["started"], r["heartbeat"]
                    )
                    if lease_free(owner, now, host, timeout):
                        c.execute("DELETE FROM leases WHERE id=?", (r["lease"],))
                        dead.append(r)
                # Another host's process cannot be probed: leave its steps alone.
                elif r["host"] in (None, host) and not owner_alive(r["pid"], r["started_at"]):
                    dead.append(r)
            for r in dead:
                c.execute(
                    "UPDATE steps SET status=?, updated_at=?, error=? WHERE name=?",
                    (StepStatus.interrupted.value, now, INTERRUPTED_ERROR, r["name"]),
                )
                c.execute(
                    "UPDATE attempts SET status=?, ended_at=? WHERE step=? AND status IN (?,?)",
                    (StepStatus.interrupted.value, now, r["name"], *IN_FLIGHT_NAMES),
                )
                c.execute(
                    "UPDATE runs SET status='died', ended_at=COALESCE(ended_at, ?)"
                    " WHERE id=? AND ended_at IS NULL",
                    (now, r["run_id"]),
                )
                event_txn(c, run_id, r["name"], "interrupted", {"previous_run": r["run_id"]})
            return [r["name"] for r in dead]
