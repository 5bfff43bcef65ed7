"""The manifest log: each checkpoint's rows again, appended to `manifests.jsonl`.

The database is the index of the sidecar; when it is lost (deleted, damaged beyond
reading) the blobs are still there but nothing says which step or variable they belong
to, and small values live only in its rows. Each commit therefore also appends one JSON
line: the checkpoint's row, its variable rows (inline streams included) and the step's
code. A reset appends a line naming the steps it reset; gc rewrites the log without the
checkpoints it dropped. `mn-nb doctor --rebuild` reads it back into a new database.

One append (no file created, no fsync) costs a few microseconds: a file per checkpoint
cost milliseconds on a busy disk. The log is as durable as the commits it copies (the
database is not fsynced per commit either). A line is no more trusted than the rows it
copies: every value and checkpoint in it carries its own signature, checked before use,
and each line is validated before it is read.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import stat
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .base import Conn

LOG_NAME = "manifests.jsonl"
# Lines hold inline streams (up to 256 KiB each): a log past this is not one of ours.
MAX_LOG_BYTES = 4 << 30
# What a rebuilt step row takes from the step as it was when its checkpoint committed.
STEP_FIELDS = ("name", "position", "cell_id", "code", "code_hash", "options")
_APPEND = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


@dataclass
class Manifest:
    step: dict[str, Any]
    checkpoint: dict[str, Any]
    variables: list[dict[str, Any]]
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class ManifestLog:
    """What the log says survives: the newest line per checkpoint, minus reset ones."""

    manifests: list[Manifest] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    """(which line, why) for lines that cannot be used."""


def log_path(root: Path) -> Path:
    return Path(root) / LOG_NAME


def write_manifest_txn(
    c: Conn,
    root: Path,
    checkpoint_id: int,
    *,
    checkpoint: Any = None,
    step: Any = None,
    meta: dict[str, Any] | None = None,
) -> None:
    """Append the manifest of a checkpoint inserted in the caller's transaction (under its
    write lock, so lines are in commit order and gc's rewrite cannot lose one).
    `checkpoint`, `step` (its STEP_FIELDS) and `meta`: what the caller already has from
    its own statements (else they are read here)."""
    ckpt = checkpoint
    if ckpt is None:
        ckpt = c.execute("SELECT * FROM checkpoints WHERE id=?", (checkpoint_id,)).fetchone()
    if step is None:
        step = c.execute(
            f"SELECT {', '.join(STEP_FIELDS)} FROM steps WHERE name=?", (ckpt["step"],)
        ).fetchone()
    rows = c.execute(
        "SELECT * FROM checkpoint_vars WHERE checkpoint_id=? ORDER BY name", (checkpoint_id,)
    ).fetchall()
    _append(
        root,
        {
            "version": 1,
            "meta": _meta(c) if meta is None else meta,
            "step": _plain(step) if step is not None else {"name": ckpt["step"]},
            "checkpoint": _plain(ckpt),
            "variables": [_plain(r) for r in rows],
        },
    )


def write_reset_txn(root: Path, steps: Sequence[str]) -> None:
    """Record a reset: a rebuild drops these steps' earlier checkpoints too."""
    _append(root, {"version": 1, "reset": list(steps), "at": time.time()})


def compact_txn(c: Conn, root: Path) -> None:
    """Rewrite the log without the lines of checkpoints the database no longer holds
    (after gc dropped some), atomically, under the caller's write lock."""
    path = log_path(root)
    if not path.is_file():
        return
    kept = {(int(r[0]), float(r[1])) for r in c.execute("SELECT id, created_at FROM checkpoints")}
    log = read_log(root)
    tmp = path.with_name(f".{LOG_NAME}.{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as fh:
        for m in log.manifests:
            if (m.checkpoint["id"], m.checkpoint["created_at"]) in kept:
                fh.write(_line(_unplain(m)))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_log(root: Path) -> ManifestLog:
    """The usable manifests, newest line per checkpoint id, without reset checkpoints.
    The file is opened without following a link and only read when it is a regular file."""
    out = ManifestLog()
    text = _read(log_path(root), out)
    newest: dict[int, Manifest] = {}
    resets: dict[str, float] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            body = json.loads(line)
            if isinstance(body, dict) and "reset" in body:
                for name in body["reset"]:
                    resets[str(name)] = max(resets.get(str(name), 0.0), float(body["at"]))
                continue
            m = _parse(body)
        except (ValueError, TypeError, KeyError, RecursionError) as exc:
            out.unreadable.append((f"line {number}", f"not a manifest ({type(exc).__name__})"))
            continue
        newest[int(m.checkpoint["id"])] = m
    out.manifests = [
        m
        for _, m in sorted(newest.items())
        if m.checkpoint["created_at"] > resets.get(str(m.step["name"]), float("-inf"))
    ]
    return out


def _read(path: Path, out: ManifestLog) -> str:
    try:
        fd = os.open(path, _READ)
    except FileNotFoundError:
        return ""
    except OSError as exc:
        out.unreadable.append((LOG_NAME, f"cannot be opened ({exc.strerror})"))
        return ""
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_LOG_BYTES:
            out.unreadable.append((LOG_NAME, "not a regular file of a plausible size"))
            return ""
        return fh.read().decode("utf-8", errors="replace")


def _append(root: Path, body: dict[str, Any]) -> None:
    data = _line(body).encode()
    fd = os.open(log_path(root), _APPEND, 0o600)
    try:
        view = memoryview(data)
        while view:  # one write() in practice: appends of one line do not interleave
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _line(body: dict[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":")) + "\n"


def _parse(body: Any) -> Manifest:
    if not isinstance(body, dict) or body.get("version") != 1:
        raise ValueError("unknown manifest version")
    step, ckpt, rows = body["step"], body["checkpoint"], body["variables"]
    meta = body.get("meta") or {}
    if not all(isinstance(x, dict) for x in (step, ckpt, meta)) or not isinstance(rows, list):
        raise ValueError("malformed manifest")
    if not all(isinstance(r, dict) for r in rows):
        raise ValueError("malformed variable rows")
    if not isinstance(step.get("name"), str) or step["name"] != ckpt.get("step"):
        raise ValueError("step and checkpoint disagree")
    if not isinstance(ckpt.get("id"), int) or not isinstance(ckpt.get("created_at"), float):
        raise ValueError("checkpoint without an id or a time")
    return Manifest(
        step={k: _scalar(v) for k, v in step.items() if k in STEP_FIELDS},
        checkpoint={k: _scalar(v) for k, v in ckpt.items()},
        variables=[{k: _scalar(v) for k, v in r.items()} for r in rows],
        meta={k: _scalar(v) for k, v in meta.items()},
    )


def read_meta(c: Conn) -> dict[str, Any]:
    return _meta(c)


def _meta(c: Conn) -> dict[str, Any]:
    """The sidecar's own records (its identity), when the schema has them."""
    try:
        return {str(r[0]): r[1] for r in c.execute("SELECT key, value FROM meta")}
    except sqlite3.OperationalError:
        return {}


def _plain(row: sqlite3.Row | dict[str, Any]) -> dict[str, Any]:
    """A row as JSON: bytes (inline pickle streams) as {"b64": ...}."""
    return {
        k: {"b64": base64.b64encode(v).decode()} if isinstance(v, bytes) else v
        for k, v in dict(row).items()
    }


def _unplain(m: Manifest) -> dict[str, Any]:
    return {
        "version": 1,
        "meta": m.meta,
        "step": _plain(m.step),
        "checkpoint": _plain(m.checkpoint),
        "variables": [_plain(r) for r in m.variables],
    }


def _scalar(value: Any) -> Any:
    """Undo _plain, accepting only what a SQLite column can hold."""
    if isinstance(value, dict) and set(value) == {"b64"} and isinstance(value["b64"], str):
        return base64.b64decode(value["b64"], validate=True)
    if value is None or (isinstance(value, str | int | float) and not isinstance(value, bool)):
        return value
    raise TypeError(f"unexpected value of type {type(value).__name__}")
