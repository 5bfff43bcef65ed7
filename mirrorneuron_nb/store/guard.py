"""Notice a vanished, replaced or damaged database file or write-ahead log before writing.

A writer's connection keeps the files it opened even after they are deleted or replaced:
SQLite would go on committing into an unlinked `-wal` that nobody else can see, and every
commit since would vanish with the process. So before each write transaction the guard
compares the identity (device, inode) of `state.sqlite` and `state.sqlite-wal` with the
files this connection uses: two `stat` calls (held_stat.py). When the database file
itself changed on disk (its mtime or size; SQLite only writes it at a checkpoint, every
~1000 pages of log), a quick_check on a fresh connection looks at what is really on disk
(this connection's page cache may still hold the good pages).
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from ..errors import SidecarDamaged
from .blobs import BlobStore
from .held_stat import FileStat, file_stat
from .manifest import LOG_NAME

DB_NAME = "state.sqlite"
BLOB_DIR = "blobs"


def doctor_hint(root: Path) -> str:
    """The recovery hint every damage message ends with."""
    name = root.name
    notebook = root.with_name(name[: -len(".mn")] + ".ipynb") if name.endswith(".mn") else None
    target = str(notebook) if notebook is not None and notebook.is_file() else "NOTEBOOK"
    return f"run `mn-nb doctor {target}` to see what can be recovered"


def blob_files(root: Path) -> list[Path]:
    """The blob files of a sidecar (not temporary files of a write in progress)."""
    entries = BlobStore(root / BLOB_DIR).entries()
    return sorted(p for p, _ in entries if not p.name.startswith(".tmp-"))


def used_evidence(root: Path) -> str | None:
    """What shows a sidecar was used, so an empty database is a lost one, not a new one.
    Blob files and the manifest log: they are written only after the database was set up
    (a write-ahead log is not: two kernels creating one sidecar at once see each other's
    half-done setup)."""
    files = blob_files(root)
    if files:
        return f"the sidecar holds {len(files)} blob file(s)"
    manifests = root / LOG_NAME
    if manifests.is_file() and manifests.stat().st_size > 0:
        return f"the sidecar holds a manifest log ({LOG_NAME}) of its checkpoints"
    return None


def empty_database_error(root: Path) -> str | None:
    """Why an empty (0-byte, or never initialized) database is damaged, or None when the
    sidecar shows no sign of use (then it is simply new)."""
    evidence = used_evidence(root)
    if evidence is None:
        return None
    return (
        f"sidecar {root} is damaged: state.sqlite is empty but {evidence}; its records are "
        f"lost, and nothing is written over them; {doctor_hint(root)}"
    )


def readonly_connection(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30, isolation_level=None)


def quick_check(path: Path) -> str | None:
    """The first problem `PRAGMA quick_check` finds in the database file, or None."""
    try:
        conn = readonly_connection(path)
        try:
            rows = conn.execute("PRAGMA quick_check").fetchall()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            return None  # another process is recovering it: not a verdict
        return str(exc)
    problems = [str(r[0]) for r in rows if r[0] != "ok"]
    return _first_line(problems) if problems else None


def _first_line(problems: list[str]) -> str:
    lines = [line for p in problems for line in p.splitlines() if not line.startswith("***")]
    return lines[0] if lines else "damaged"


def wal_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + "-wal")


def _stat(path: Path) -> FileStat | None:
    return file_stat(path)  # (keeps the GIL: held_stat.py)


def _identity(st: FileStat) -> tuple[int, int]:
    return st.dev, st.ino


class WriteGuard:
    """The files one writer connection uses, checked before each of its write transactions.

    `reopen` replaces the store's connection with a new one on the files now on disk (after
    this connection's log was saved into the database file)."""

    def __init__(self, root: Path, db_path: Path, reopen: Callable[[], None]) -> None:
        self.root = root
        self.db_path = db_path
        self.wal_path = wal_path(db_path)
        self.reopen = reopen
        db = _stat(db_path)
        if db is None:
            raise SidecarDamaged(f"sidecar {root}: state.sqlite vanished while it was opened")
        self.db_id = _identity(db)
        self.db_stamp = (db.mtime_ns, db.size)
        wal = _stat(self.wal_path)
        self.wal_id = _identity(wal) if wal is not None else None
        self.refusal: str | None = None
        """Set once the database file is lost: every later write is refused with it."""

    def before_write(self, conn: sqlite3.Connection) -> None:
        if self.refusal is not None:
            raise SidecarDamaged(self.refusal)
        db = _stat(self.db_path)
        if db is None or _identity(db) != self.db_id:
            self.refusal = self._database_lost(conn, "deleted" if db is None else "replaced")
            raise SidecarDamaged(self.refusal)
        wal = _stat(self.wal_path)
        if self.wal_id is None:
            self.wal_id = _identity(wal) if wal is not None else None
        elif wal is None or _identity(wal) != self.wal_id:
            raise SidecarDamaged(self._wal_lost(conn, replaced=wal is not None))
        stamp = (db.mtime_ns, db.size)
        if stamp != self.db_stamp:
            problem = quick_check(self.db_path)
            if problem is not None:
                raise SidecarDamaged(
                    f"sidecar {self.root}: state.sqlite is damaged ({problem}); nothing was "
                    f"written to it; {doctor_hint(self.root)}"
                )
            self.db_stamp = stamp

    def _wal_lost(self, conn: sqlite3.Connection, *, replaced: bool) -> str:
        """Save this connection's log into the database file: the connection still reads
        the unlinked log, and a TRUNCATE checkpoint copies every page of it."""
        what = "replaced by another file" if replaced else "deleted"
        head = f"sidecar {self.root}: state.sqlite-wal was {what} while this process used it"
        try:
            busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            steps = int(conn.execute("SELECT COUNT(*) FROM steps").fetchone()[0])
        except sqlite3.Error as exc:
            return f"{head}; its records could not be saved ({exc}); {doctor_hint(self.root)}"
        if busy:
            return (
                f"{head}; its records are held only by this process and could not be saved "
                "yet (another process is reading the sidecar): keep this kernel running and "
                f"run the cell again to retry; {doctor_hint(self.root)}"
            )
        aside = ""
        if replaced:
            # Not this database's log: keep it for the user, away from SQLite's recovery.
            moved = self.wal_path.with_name(f"{self.wal_path.name}.replaced-{int(time.time())}")
            os.replace(self.wal_path, moved)
            aside = f" (the other file was moved to {moved.name})"
        self.reopen()
        return (
            f"{head}; its records ({steps} step(s)) were saved into state.sqlite and the "
            f"database reopened{aside}; this write was not made: run the cell again"
        )

    def _database_lost(self, conn: sqlite3.Connection, what: str) -> str:
        """Copy what this connection still sees into a new file beside it."""
        head = f"sidecar {self.root}: state.sqlite was {what} while this process used it"
        rescue = self.db_path.with_name(f"{self.db_path.name}.rescued-{int(time.time())}")
        try:
            conn.execute("VACUUM INTO ?", (str(rescue),))
        except sqlite3.Error as exc:
            return f"{head}; its records could not be saved ({exc}); {doctor_hint(self.root)}"
        return (
            f"{head}; nothing more is written to it. Its records were saved to {rescue.name}: "
            "stop this kernel, move that file to state.sqlite (and any state.sqlite-wal aside) "
            f"to use them; {doctor_hint(self.root)}"
        )
