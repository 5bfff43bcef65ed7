"""Step ownership: the process running a step holds its lease; others wait or are served.

A lease is keyed by (step, cache key): two executions of one step with different keys (a
parameter sweep) may run at once, the same key is exclusive, and a --once step's lease
(key NULL) is exclusive per step. Claiming happens inside `begin_attempt`'s transaction
(steps.py), releasing inside the commit's (checkpoints.py), so a trivial step pays no
extra transaction. The rule that frees a lease (`lease_free`) reads a row and the clock,
nothing SQLite-specific, so a shared store (PostgreSQL) can apply the very same rule.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import socket
import sqlite3
import time
from typing import Any

from .. import config
from ..models import (
    IN_FLIGHT_NAMES,
    Claimant,
    LeaseDenied,
    LeaseOwner,
    LeaseWaiter,
    StepStart,
    StepStatus,
)
from .base import Conn, Cursor, EventRow, Tables, event_txn, events_txn
from .connection import write_txn

INTERRUPTED_ERROR = "the kernel stopped while this step was running"

# /proc's clock ticks and boot time are whole units: a process may look this much younger.
_START_SLACK = 1.0


def lease_free(owner: LeaseOwner, now: float, host: str, timeout: float) -> bool:
    """THE lease rule: free when its heartbeat is older than `timeout` (any host), or when
    its owner's process is gone (same host, where it can be probed)."""
    if now - owner.heartbeat > timeout:
        return True
    return owner.host == host and not owner_alive(owner.pid, owner.since)


def owner_alive(pid: int | None, since: float | None) -> bool:
    """Whether process `pid`, which was running at `since`, still runs: a process with that
    pid started after `since` is another one (the pid was reused)."""
    if pid is None or not pid_alive(pid):
        return False
    started = process_started(pid)
    return started is None or since is None or started <= since + _START_SLACK


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


def process_started(pid: int) -> float | None:
    """When a process started (epoch seconds), where /proc tells; else None."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            stat = fh.read()
        ticks = int(stat.rpartition(")")[2].split()[19])
        return _boot_time() + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


@functools.cache
def _boot_time() -> float:
    with open("/proc/stat", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("btime "):
                return float(line.split()[1])
    raise ValueError("no btime in /proc/stat")


def this_host() -> str:
    return socket.gethostname()


def conflicts(held: str | None, wanted: str | None) -> bool:
    """Leases on one step exclude each other when either is --once (key None) or their
    cache keys are equal."""
    return held is None or wanted is None or held == wanted


def wanted_key(claimant: Claimant, start: StepStart) -> str | None:
    return None if claimant.once else start.cache_key


class LeasesTable(Tables):
    def lease_holder(self, step: str, cache_key: str | None, run_id: str) -> LeaseOwner | None:
        """The live owner of a lease that excludes (step, cache_key), other than `run_id`
        (read only: a waiting claimant polls this)."""
        rows = self.conn.execute("SELECT * FROM leases WHERE step=?", (step,)).fetchall()
        return live_owner(rows, cache_key, run_id)

    def leases(self) -> dict[str, list[LeaseOwner]]:
        """Every lease row, live or not, by step (`lease_free` tells which are free)."""
        out: dict[str, list[LeaseOwner]] = {}
        for r in self.conn.execute("SELECT * FROM leases ORDER BY started").fetchall():
            out.setdefault(r["step"], []).append(_owner(r))
        return out

    def lease_waiters(self) -> dict[str, list[LeaseWaiter]]:
        """Claimants waiting, by step (one whose process is gone, same host, is not shown)."""
        host = this_host()
        out: dict[str, list[LeaseWaiter]] = {}
        for r in self.conn.execute("SELECT * FROM lease_waiters ORDER BY since").fetchall():
            waiter = LeaseWaiter(r["run_id"], r["kind"], r["host"], r["pid"], r["since"])
            if waiter.host != host or owner_alive(waiter.pid, waiter.since):
                out.setdefault(r["step"], []).append(waiter)
        return out

    def start_waiting(self, claimant: Claimant, step: str, owner: LeaseOwner) -> None:
        with write_txn(self.conn) as c:
            c.execute(
                "INSERT INTO lease_waiters(step, run_id, kind, host, pid, since)"
                " VALUES (?,?,?,?,?,?) ON CONFLICT(step, run_id) DO UPDATE SET"
                " kind=excluded.kind, host=excluded.host, pid=excluded.pid, since=excluded.since",
                (step, claimant.run_id, claimant.kind, claimant.host, claimant.pid, time.time()),
            )
            event_txn(c, claimant.run_id, step, "waiting", {"owner": dataclasses.asdict(owner)})

    def stop_waiting(self, run_id: str, step: str, outcome: str) -> None:
        with write_txn(self.conn) as c:
            gone = c.execute(
                "DELETE FROM lease_waiters WHERE step=? AND run_id=?", (step, run_id)
            ).rowcount
            if gone:
                event_txn(c, run_id, step, "stopped_waiting", {"outcome": outcome})

    def release(self, step: str, run_id: str, outcome: str) -> None:
        """Give the lease back (a step that failed, stopped or was abandoned); a success
        releases it in its commit (checkpoints.py)."""
        with write_txn(self.conn) as c:
            release_txn(c, step, run_id, outcome)

    def heartbeat(self, run_id: str) -> int:
        """Renew every lease this run holds: one UPDATE (a background thread calls it)."""
        with write_txn(self.conn) as c:
            return int(
                c.execute(
                    "UPDATE leases SET heartbeat=? WHERE run_id=?", (time.time(), run_id)
                ).rowcount
            )


def leases_cursor(c: Conn, step: str) -> Cursor:
    """The step's lease rows, for `claim_txn`."""
    return c.execute("SELECT * FROM leases WHERE step=?", (step,))


def claim_txn(
    c: Conn,
    claimant: Claimant,
    start: StepStart,
    now: float,
    here: Any,
    held: list[Any],
    events: list[EventRow],
    *,
    keep: bool = True,
) -> LeaseDenied | None:
    """Inside `begin_attempt`'s transaction: take the step's lease (or keep it: a retry),
    or say why not. A dead owner's lease is taken over; a --once step that succeeded (or
    a checkpoint with this key that appeared) meanwhile is served, never run. `here` is
    the step's row and `held` its lease rows as the transaction found them
    (steps.look_cursor, leases_cursor); the claim's event is appended to `events`, which
    the caller writes with its own. `keep=False`: the caller releases the lease in this
    same transaction (claim_and_commit), so no row is written: nobody can see it."""
    key = wanted_key(claimant, start)
    host, timeout = this_host(), config.lease_timeout()
    mine = False
    for r in held:
        if r["run_id"] == claimant.run_id:
            mine = True
            continue
        if not conflicts(r["cache_key"], key):
            continue
        owner = _owner(r)
        if not lease_free(owner, now, host, timeout):
            return LeaseDenied(owner)
        c.execute("DELETE FROM leases WHERE id=?", (r["id"],))
        # The dead owner's attempt ends here (it never will by itself).
        c.execute(
            "UPDATE attempts SET status=?, ended_at=? WHERE step=? AND run_id=?"
            " AND status IN (?,?)",
            (StepStatus.interrupted.value, now, start.name, owner.run_id, *IN_FLIGHT_NAMES),
        )
        event_txn(
            c, claimant.run_id, start.name, "taken_over", {"previous": dataclasses.asdict(owner)}
        )
    if mine:
        c.execute(
            "UPDATE leases SET heartbeat=? WHERE step=? AND run_id=?",
            (now, start.name, claimant.run_id),
        )
        return None
    if _changed_txn(c, claimant, start, now, here):
        return LeaseDenied(None)
    if keep:
        c.execute(
            "INSERT INTO leases(step, cache_key, run_id, kind, host, pid, started, heartbeat)"
            " VALUES (?,?,?,?,?,?,?,?)",
            (
                start.name,
                key,
                claimant.run_id,
                claimant.kind,
                claimant.host,
                claimant.pid,
                now,
                now,
            ),
        )
    events.append((claimant.run_id, start.name, "claimed", {"cache_key": key}))
    return None


def _changed_txn(c: Conn, claimant: Claimant, start: StepStart, now: float, here: Any) -> bool:
    """Whether what the runner decided before claiming no longer holds: the step must be
    looked at again rather than run."""
    if claimant.once:
        if here["status"] is None:
            return False  # the step has no row yet
        if here["checkpoint_id"] is not None and here["status"] in ("succeeded", "cached"):
            return True  # it ran elsewhere since: served, never run twice
        if here["status"] in IN_FLIGHT_NAMES and here["run_id"] != claimant.run_id:
            # Left running by an owner that is gone (no live lease excludes us): its side
            # effect may have happened, so it is interrupted and needs --force.
            c.execute(
                "UPDATE steps SET status=?, updated_at=?, error=? WHERE name=?",
                (StepStatus.interrupted.value, now, INTERRUPTED_ERROR, start.name),
            )
            event_txn(
                c, claimant.run_id, start.name, "interrupted", {"previous_run": here["run_id"]}
            )
            return True
        return False
    if claimant.serve_newer_than is None:
        return False
    newest = here["newest"]
    return newest is not None and int(newest) > claimant.serve_newer_than


def release_txn(
    c: Conn, step: str, run_id: str, outcome: str, events: list[EventRow] | None = None
) -> None:
    """Give the lease back; its event goes to `events` when the caller writes them."""
    gone = c.execute("DELETE FROM leases WHERE step=? AND run_id=?", (step, run_id)).rowcount
    if gone:
        event = released_event(step, run_id, outcome)
        if events is None:
            events_txn(c, [event])
        else:
            events.append(event)


def released_event(step: str, run_id: str, outcome: str) -> EventRow:
    return (run_id, step, "released", {"outcome": outcome})


def live_owner(rows: list[Any], cache_key: str | None, run_id: str) -> LeaseOwner | None:
    """Of a step's lease rows, the live owner of one that excludes `cache_key`, other
    than `run_id` (rows without a lease, from an outer join, are skipped)."""
    held = [
        r
        for r in rows
        if r["run_id"] not in (None, run_id) and conflicts(r["cache_key"], cache_key)
    ]
    if not held:  # (most steps: no lease elsewhere, and no hostname or setting to read)
        return None
    now, host, timeout = time.time(), this_host(), config.lease_timeout()
    for r in held:
        owner = _owner(r)
        if not lease_free(owner, now, host, timeout):
            return owner
    return None


def _owner(r: sqlite3.Row) -> LeaseOwner:
    return LeaseOwner(r["run_id"], r["kind"], r["host"], r["pid"], r["started"], r["heartbeat"])
