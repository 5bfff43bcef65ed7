"""A damaged database: a garbage page in the middle of state.sqlite, and a 0-byte
state.sqlite beside blob files. Every reader says so in one line (exit 3 from mn-nb, with
the `mn-nb doctor` hint), and no writer writes into the file: its bytes stay the same."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..helpers import fresh, mn, run, usage_error
from ..kernels import Kernel
from .damage import (
    CELLS,
    build,
    copy,
    damage_middle_page,
    database_bytes,
    fold_log,
    one_line,
)

pytestmark = [pytest.mark.kernel, pytest.mark.faults]

DOCTOR = "mn-nb doctor"


def refused(result: object, what: str) -> str:
    """An mn-nb result that must be exit 3 with one line naming the damage and the doctor."""
    code, stdout, stderr = (getattr(result, k) for k in ("returncode", "stdout", "stderr"))
    assert code == 3, f"{what}: exit {code}\n{stdout}\n{stderr}"
    line = one_line(stderr)
    assert "damaged" in line and DOCTOR in line, line
    return line


def test_a_damaged_page_is_one_line_everywhere_and_never_written(workdir: Path) -> None:
    notebook = build(workdir)
    sidecar = workdir / "nb.mn"
    fold_log(sidecar)
    damage_middle_page(sidecar)
    before = database_bytes(sidecar)

    for command in (
        ["status", str(notebook)],
        ["log", str(notebook)],
        ["reset", str(notebook), "--all"],
        ["reset", str(notebook), "s3"],
        ["gc", str(notebook), "--grace-seconds", "0"],
        ["run", str(notebook)],
    ):
        refused(mn(*command, timeout=120), " ".join(command[:1]))
        assert database_bytes(sidecar) == before, command

    kernel = Kernel(workdir, env={"JPY_SESSION_NAME": str(notebook)})
    try:
        run(kernel, "%load_ext mirrorneuron_nb")
        for code in ("%mn_status", "%mn_resume", CELLS[2], "%mn_reset --all"):
            message = usage_error(kernel, code)
            assert "damaged" in message and DOCTOR in message, (code, message)
        # Nothing ran: the step's body did not bind its variable.
        assert kernel.run("print('v1' in globals())").stdout.strip() == "False"
    finally:
        kernel.shutdown()
    assert database_bytes(sidecar) == before


def test_a_page_damaged_under_a_running_kernel_stops_its_writes(workdir: Path) -> None:
    notebook = build(workdir)
    sidecar = workdir / "nb.mn"
    kernel = Kernel(workdir, env={"JPY_SESSION_NAME": str(notebook)})
    try:
        run(kernel, "%load_ext mirrorneuron_nb")
        run(kernel, CELLS[1])  # the kernel's store is open (a cache hit was recorded)
        fold_log(sidecar)
        damage_middle_page(sidecar)
        before = database_bytes(sidecar)
        message = usage_error(kernel, "%%mn_step fresh\nfresh = 1\n")
        assert "state.sqlite is damaged" in message and DOCTOR in message, message
        assert kernel.run("print('fresh' in globals())").stdout.strip() == "False"
        # Still refused the next time: the file is not written to.
        message = usage_error(kernel, "%%mn_step fresh\nfresh = 1\n")
        assert "damaged" in message, message
        assert database_bytes(sidecar) == before
    finally:
        kernel.shutdown()


def test_an_empty_database_beside_blobs_is_damaged_and_gc_deletes_nothing(
    workdir: Path, tmp_path: Path
) -> None:
    notebook = copy(build(workdir), tmp_path / "emptied")
    sidecar = notebook.with_suffix(".mn")
    for name in ("state.sqlite-wal", "state.sqlite-shm"):
        (sidecar / name).unlink(missing_ok=True)
    (sidecar / "state.sqlite").write_bytes(b"")
    blobs = sorted(p for p in (sidecar / "blobs").rglob("*") if p.is_file())
    assert blobs

    line = refused(mn("status", str(notebook)), "status")
    assert "state.sqlite is empty but the sidecar holds" in line, line
    refused(mn("gc", str(notebook), "--grace-seconds", "0"), "gc")
    refused(mn("reset", str(notebook), "--all"), "reset")
    assert sorted(p for p in (sidecar / "blobs").rglob("*") if p.is_file()) == blobs

    kernel = Kernel(notebook.parent, env={"JPY_SESSION_NAME": str(notebook)})
    try:
        run(kernel, "%load_ext mirrorneuron_nb")
        message = usage_error(kernel, CELLS[1])
        assert "state.sqlite is empty" in message, message
        fresh(kernel)
        message = usage_error(kernel, "%mn_resume")
        assert "state.sqlite is empty" in message, message
    finally:
        kernel.shutdown()
    assert (sidecar / "state.sqlite").stat().st_size == 0
    assert sorted(p for p in (sidecar / "blobs").rglob("*") if p.is_file()) == blobs


def test_gc_refuses_a_database_that_records_no_step(workdir: Path, tmp_path: Path) -> None:
    import sqlite3

    notebook = copy(build(workdir), tmp_path / "forgotten")
    sidecar = notebook.with_suffix(".mn")
    # A database that is well-formed but holds nothing (rows lost), beside the blobs.
    (sidecar / "state.sqlite").unlink()
    for name in ("state.sqlite-wal", "state.sqlite-shm"):
        (sidecar / name).unlink(missing_ok=True)
    blobs = sorted(p for p in (sidecar / "blobs").rglob("*") if p.is_file())
    from mirrorneuron_nb.store.schema import MIGRATIONS, SCHEMA_VERSION

    conn = sqlite3.connect(sidecar / "state.sqlite")
    for migration in MIGRATIONS:
        conn.executescript(migration)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    conn.commit()
    conn.close()

    line = refused(mn("gc", str(notebook), "--grace-seconds", "0"), "gc")
    assert "records no step" in line, line
    assert sorted(p for p in (sidecar / "blobs").rglob("*") if p.is_file()) == blobs
