"""`mn-nb doctor`: is a sidecar intact, and what can be recovered from it?

The database (integrity_check, schema version, the log's header) and every blob file (its
hash against its name, its size against the rows) are checked; the report lists what is
damaged, which steps' current checkpoints are intact, which values lose which blob, and
what to do. Nothing is written. The report has one section per source of truth, so a
section rebuilding the index from the blobs' signed headers can be added beside them.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CheckpointUnavailable
from ..render import format_bytes
from ..store.blob_backend import Blobs, open_blobs
from ..store.blobs import BlobStore, is_key
from ..store.guard import BLOB_DIR, blob_files
from ..store.integrity import BlobUse, DatabaseHealth, check_database
from ..store.schema import SCHEMA_VERSION
from ..values.digest import digest_parts
from .rebuild import ManifestSurvey, survey

_CHUNK = 1 << 20


@dataclass
class BlobFile:
    """One file under blobs/: what its name promises and what it holds."""

    key: str
    size: int
    problem: str | None
    """None when its content hashes to its name."""


@dataclass
class LostValue:
    label: str
    key: str
    problem: str


@dataclass
class StepHealth:
    name: str
    checkpoint: str
    """`intact`, `damaged`, or `none` (no current checkpoint)."""
    lost: list[LostValue] = field(default_factory=list)


@dataclass
class DoctorReport:
    sidecar: str
    database: DatabaseHealth
    blob_count: int
    blob_bytes: int
    damaged_blobs: list[BlobFile]
    missing: list[LostValue]
    """Values whose blob file is absent or holds another size than the rows say."""
    unreferenced: int
    steps: list[StepHealth]
    hints: list[str]
    manifests: ManifestSurvey | None = None
    """Looked at when the database is not healthy: what a rebuild would restore."""

    @property
    def healthy(self) -> bool:
        return self.database.healthy and not self.damaged_blobs and not self.missing

    def as_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["healthy"] = self.healthy
        out["database"]["healthy"] = self.database.healthy
        out["manifests"] = self.manifests.as_json() if self.manifests else None
        return out


def diagnose(sidecar: Path, notebook: Path) -> DoctorReport:
    database, inventory = check_database(sidecar)
    remote = open_blobs(sidecar / BLOB_DIR)
    if remote.remote:
        files = _check_remote(remote, inventory.uses)
    else:
        files = {f.key: f for f in (_check_file(p) for p in blob_files(sidecar))}
    missing: list[LostValue] = []
    steps = {
        n: StepHealth(n, "intact" if n in inventory.checkpointed else "none")
        for n in inventory.steps
    }
    for use in inventory.uses:
        problem, found = _use_problem(use, files), files.get(use.key)
        if problem is not None and (found is None or found.problem is None):
            missing.append(LostValue(f"step {use.step}: {use.label}", use.key, problem))
        if use.current and use.step in steps:
            health = steps[use.step]
            if problem is not None:
                health.checkpoint = "damaged"
                health.lost.append(LostValue(use.label, use.key, problem))
    used = {u.key for u in inventory.uses}
    report = DoctorReport(
        sidecar=str(sidecar),
        database=database,
        blob_count=len(files),
        blob_bytes=sum(f.size for f in files.values()),
        damaged_blobs=[f for f in files.values() if f.problem is not None],
        missing=missing,
        unreferenced=sum(1 for k in files if k not in used) if database.readable else 0,
        steps=list(steps.values()),
        hints=[],
        manifests=None if database.healthy else survey(sidecar),
    )
    report.hints = _hints(report, notebook)
    return report


def _check_file(path: Path) -> BlobFile:
    key = path.parent.name + path.name
    if not is_key(key):
        return BlobFile(key, 0, "not a blob (its name is not a digest)")
    try:
        with BlobStore(path.parent.parent).opened(key) as (fd, _):
            # The blob store's own digest, read in chunks: a large blob is never held whole.
            found = digest_parts(iter(lambda: os.read(fd, _CHUNK), b""))
            size = os.fstat(fd).st_size
    except CheckpointUnavailable as exc:
        return BlobFile(key, 0, exc.reason)
    except OSError as exc:
        return BlobFile(key, 0, f"cannot be read ({exc.strerror})")
    if found != key:
        return BlobFile(key, size, "corrupt: its content does not match its name")
    return BlobFile(key, size, None)


def _check_remote(blobs: Blobs, uses: list[BlobUse]) -> dict[str, BlobFile]:
    """The blobs the rows use, read from the object store and checked against their key
    (its other objects may belong to other notebooks: they are not listed). A missing one
    is left out, so its uses say "missing"."""
    files: dict[str, BlobFile] = {}
    for use in uses:
        if use.key in files or not is_key(use.key):
            continue
        try:
            blobs.read(use.key, use.size, verify=True, quarantine=False)
        except CheckpointUnavailable as exc:
            if not exc.reason.endswith("is missing"):
                files[use.key] = BlobFile(use.key, 0, exc.reason)
            continue
        files[use.key] = BlobFile(use.key, use.size, None)
    return files


def _use_problem(use: BlobUse, files: dict[str, BlobFile]) -> str | None:
    if not is_key(use.key):
        return "the row names no valid blob"
    found = files.get(use.key)
    if found is None:
        return "missing"
    if found.problem is not None:
        return found.problem
    if found.size != use.size:
        return f"holds {found.size} bytes, the rows say {use.size}"
    return None


def _hints(report: DoctorReport, notebook: Path) -> list[str]:
    db, hints = report.database, []
    sidecar = Path(report.sidecar).name
    found = report.manifests
    if found is not None and found.usable:
        hints.append(
            f"`mn-nb doctor {notebook.name} --rebuild` rebuilds the database from "
            f"{len(found.usable)} signed checkpoint manifest(s) (step(s) "
            f"{', '.join(found.steps)}); the old database files are kept aside"
        )
    elif not db.exists or not db.readable or db.integrity:
        intact = report.blob_count - len(report.damaged_blobs)
        kept = f" (keep it: its {intact} intact blob file(s) hold values)" if intact else ""
        hints.append(
            f"the database is lost or damaged: move {sidecar} aside{kept} and run the "
            "notebook again; its steps run again"
        )
    elif db.schema_version is not None and db.schema_version > SCHEMA_VERSION:
        hints.append("the sidecar was written by a newer mirrorneuron_nb: upgrade to use it")
    if db.wal is not None:
        hints.append(
            f"move {sidecar}/state.sqlite-wal aside while no kernel uses the notebook: it is "
            "not this database's log"
        )
    rerun = [s.name for s in report.steps if s.checkpoint == "damaged"]
    if rerun and db.readable:
        names = " ".join(rerun)
        hints.append(
            f"re-run step(s) {', '.join(rerun)} to write their values again "
            f"(`mn-nb reset {notebook.name} {names}`, then run the notebook)"
        )
    if report.damaged_blobs:
        hints.append(
            f"`mn-nb gc {notebook.name}` deletes damaged blob files nothing uses any more, "
            "once their steps have been re-run"
        )
    return hints


# -- text ------------------------------------------------------------------------------------


def render(report: DoctorReport) -> str:
    db = report.database
    lines = [f"sidecar: {report.sidecar}"]
    if not db.exists:
        lines.append("database: missing (state.sqlite)")
    else:
        state = "intact" if not db.integrity else f"damaged ({'; '.join(db.integrity[:3])})"
        version = "unknown" if db.schema_version is None else str(db.schema_version)
        lines.append(
            f"database: {state}, {format_bytes(db.size)}, schema version {version} "
            f"(this mirrorneuron_nb: {SCHEMA_VERSION})"
        )
    lines.append(f"log: {db.wal or 'ok'}")
    damaged = len(report.damaged_blobs)
    lines.append(
        f"blobs: {report.blob_count} file(s), {format_bytes(report.blob_bytes)}: "
        f"{report.blob_count - damaged} intact, {damaged} damaged, "
        f"{len(report.missing)} missing or short, {report.unreferenced} unreferenced"
    )
    for blob in report.damaged_blobs:
        lines.append(f"  {blob.key}: {blob.problem}")
    for lost in report.missing:
        lines.append(f"  {lost.key}: {lost.problem} ({lost.label})")
    if report.steps:
        lines.append("steps (current checkpoints):")
        width = max(len(s.name) for s in report.steps)
        for step in report.steps:
            lines.append(f"  {step.name:<{width}}  {step.checkpoint}")
            for lost in step.lost:
                lines.append(f"    {lost.label}: blob {lost.key} {lost.problem}")
    elif not db.readable:
        lines.append("steps: unknown (the database's rows cannot be read)")
    found = report.manifests
    if found is not None:
        usable = ", ".join(found.steps) or "none"
        lines.append(
            f"manifests: {found.found} found, {len(found.usable)} signed with your key "
            f"(steps: {usable}), {found.unsigned} not, {len(found.unreadable)} unreadable"
        )
        if found.key_problem:
            lines.append(f"  cannot verify them: {found.key_problem}")
    if report.hints:
        lines.append("to recover:")
        lines.extend(f"  - {hint}" for hint in report.hints)
    lines.append("healthy" if report.healthy else "damaged")
    return "\n".join(lines)
