"""The lease rule and the claim transaction, on the store alone (real processes for pids)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mirrorneuron_nb.models import (
    Attempt,
    Claimant,
    LeaseDenied,
    LeaseOwner,
    NewCheckpoint,
    Run,
    StepStart,
    StepStatus,
)
from mirrorneuron_nb.store import Store, lease_free
from mirrorneuron_nb.store.leases import process_started

HOST = socket.gethostname()


def start(name: str, key: str) -> StepStart:
    return StepStart(name, None, "x = 1", "h", key, {}, 0)


def opened(path: Path) -> Store:
    """A sidecar with runs a..g (attempts need their run)."""
    store = Store(path)
    for run_id in "abcdefg":
        store.start_run(Run(id=run_id, kind="kernel", status="running", started_at=time.time()))
    return store


def who(run_id: str, pid: int, *, once: bool = False, host: str = HOST) -> Claimant:
    return Claimant(run_id, "kernel", host, pid, once=once, serve_newer_than=0)


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_the_lease_rule() -> None:
    now = time.time()
    me = os.getpid()
    live = LeaseOwner("r", "kernel", HOST, me, now, now - 1)
    assert not lease_free(live, now, HOST, 30)
    assert lease_free(live, now + 60, HOST, 30)  # heartbeat too old, whatever the process
    assert lease_free(LeaseOwner("r", "kernel", HOST, dead_pid(), now, now), now, HOST, 30)
    far = LeaseOwner("r", "batch", "another-host", dead_pid(), now, now)
    assert not lease_free(far, now, HOST, 30)  # another host: only the heartbeat tells
    assert lease_free(far, now + 31, HOST, 30)
    # A live pid that started after the lease was taken is another process (pid reuse).
    started = process_started(me)
    assert started is not None and started <= now
    reused = LeaseOwner("r", "kernel", HOST, me, started - 60, started - 60)
    assert lease_free(reused, started - 50, HOST, 30)


def test_claims_by_key_once_and_takeover(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = opened(tmp_path / "nb.mn")
    me = os.getpid()
    # Two live owners (this process) with different keys hold the step at once.
    first = store.claim_attempt("a", start("s", "k1"), who("a", me))
    assert isinstance(first, Attempt)
    assert isinstance(store.claim_attempt("b", start("s", "k2"), who("b", me)), Attempt)
    # The same key is exclusive, and so is a --once claim, whatever its key.
    held = store.claim_attempt("c", start("s", "k1"), who("c", me))
    assert isinstance(held, LeaseDenied) and held.owner is not None and held.owner.run_id == "a"
    assert isinstance(
        store.claim_attempt("c", start("s", "k3"), who("c", me, once=True)), LeaseDenied
    )
    # The owner commits: its lease is released in the same transaction, and the claimant
    # that wanted the same key is told to look again (a checkpoint serves it now).
    store.commit_checkpoint(first, NewCheckpoint("k1", "h", 0.1, {}, [], [], []))
    assert [o.run_id for o in store.leases()["s"]] == ["b"]
    assert store.claim_attempt("c", start("s", "k1"), who("c", me)) == LeaseDenied(None)
    # A dead owner's lease is taken over, and its attempt ends interrupted.
    dead = dead_pid()
    gone = store.claim_attempt("d", start("t", "k"), who("d", dead))
    assert isinstance(gone, Attempt)
    assert isinstance(store.claim_attempt("e", start("t", "k"), who("e", me)), Attempt)
    assert store.attempts("t")[0].status == StepStatus.interrupted.value
    assert "taken_over" in [e.kind for e in store.events("t")]
    # Another host's live-looking owner is free once its heartbeat is older than the timeout.
    far = store.claim_attempt("f", start("u", "k"), who("f", dead, host="far-host"))
    assert isinstance(far, Attempt)
    assert isinstance(store.claim_attempt("g", start("u", "k"), who("g", me)), LeaseDenied)
    monkeypatch.setenv("MIRRORNEURON_LEASE_TIMEOUT", "0.2")
    time.sleep(0.3)
    assert store.heartbeat("g") == 0  # renewing holds nothing it does not own
    assert isinstance(store.claim_attempt("g", start("u", "k"), who("g", me)), Attempt)
    store.close()


def test_a_once_step_left_running_by_a_dead_owner_is_interrupted(tmp_path: Path) -> None:
    store = opened(tmp_path / "nb.mn")
    assert isinstance(
        store.claim_attempt("a", start("pay", "k"), who("a", dead_pid(), once=True)), Attempt
    )
    again = store.claim_attempt("b", start("pay", "k"), who("b", os.getpid(), once=True))
    assert again == LeaseDenied(None)  # look again: the once gate now refuses without --force
    step = store.step("pay")
    assert step is not None and step.status is StepStatus.interrupted
    # mark_interrupted follows the same rule: a step whose lease is free is interrupted.
    assert isinstance(store.claim_attempt("c", start("q", "k"), who("c", dead_pid())), Attempt)
    assert store.mark_interrupted("now") == ["q"]
    assert "q" not in store.leases()
    store.close()
