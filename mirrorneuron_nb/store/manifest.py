"""Per-checkpoint manifests: the rows of a checkpoint, kept as a blob beside its values.

The database is the index of the sidecar; when it is lost (deleted, damaged beyond
reading) the blobs are still there but nothing says which step or variable they belong
to. Each commit therefore also writes a manifest blob: the checkpoint's row, its variable
rows and the step's code, as JSON. `mn-nb doctor --rebuild` reads them back into a new
database. A manifest is no more trusted than the rows it copies: every value and every
checkpoint in it carries its own signature, checked by the caller before a row is
rebuilt (values/signing.py), and the JSON is validated before use.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import CheckpointUnavailable
from ..values.digest import digest
from .blobs import BlobStore, is_key

MAGIC = b"MNMANIFEST1\n"
# A manifest holds inline streams (up to 256 KiB each): anything bigger is not one of ours.
MAX_MANIFEST_BYTES = 256 << 20
# What a rebuilt step row takes from the step as it was when its checkpoint committed.
STEP_FIELDS = ("name", "position", "cell_id", "code", "code_hash", "options")


@dataclass
class Manifest:
    key: str
    """The blob holding it."""
    size: int
    step: dict[str, Any]
    checkpoint: dict[str, Any]
    variables: list[dict[str, Any]]
    meta: dict[str, Any] = field(default_factory=dict)


def write_manifest_txn(c: sqlite3.Connection, blobs: BlobStore, checkpoint_id: int) -> str:
    """Write the manifest of a checkpoint inserted in the caller's transaction (before it
    commits, so a crash leaves at most an unreferenced blob for gc) and point the
    checkpoint at it."""
    ckpt = c.execute("SELECT * FROM checkpoints WHERE id=?", (checkpoint_id,)).fetchone()
    step = c.execute(
        f"SELECT {', '.join(STEP_FIELDS)} FROM steps WHERE name=?", (ckpt["step"],)
    ).fetchone()
    rows = c.execute(
        "SELECT * FROM checkpoint_vars WHERE checkpoint_id=? ORDER BY name", (checkpoint_id,)
    ).fetchall()
    body = {
        "version": 1,
        "meta": _meta(c),
        "step": _plain(step) if step is not None else {"name": ckpt["step"]},
        "checkpoint": {k: v for k, v in _plain(ckpt).items() if k != "manifest"},
        "variables": [_plain(r) for r in rows],
    }
    data = MAGIC + json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    key = digest(data)
    if blobs.put(key, [data]):
        blobs.sync_dirs([key])
    c.execute(
        "INSERT OR IGNORE INTO blobs(hash, size, created_at) VALUES (?,?,?)",
        (key, len(data), ckpt["created_at"]),
    )
    c.execute("UPDATE checkpoints SET manifest=? WHERE id=?", (key, checkpoint_id))
    return key


def read_manifests(blobs: BlobStore) -> Iterator[Manifest | tuple[str, str]]:
    """Every manifest among the blob files, or (blob, why it is unusable) for a file that
    starts like one but cannot be read. Files are opened without following links and only
    read when they are regular files that start with the manifest's magic."""
    for path, info in sorted(blobs.entries()):
        key = path.parent.name + path.name
        if not is_key(key) or not stat.S_ISREG(info.st_mode) or info.st_size > MAX_MANIFEST_BYTES:
            continue
        try:
            with blobs.opened(key) as (fd, _):
                if os.pread(fd, len(MAGIC), 0) != MAGIC:
                    continue
                data = _read_all(fd)
        except (CheckpointUnavailable, OSError):
            continue
        if digest(data) != key:
            yield key, "does not match its hash (corrupted)"
            continue
        try:
            yield _parse(key, len(data), data[len(MAGIC) :])
        except (ValueError, TypeError, KeyError) as exc:
            yield key, f"is not a readable manifest ({exc})"


def _read_all(fd: int) -> bytes:
    chunks = []
    offset = 0
    while chunk := os.pread(fd, 1 << 20, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _parse(key: str, size: int, text: bytes) -> Manifest:
    body = json.loads(text)
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
    if not isinstance(ckpt.get("id"), int):
        raise ValueError("checkpoint without an id")
    return Manifest(
        key=key,
        size=size,
        step={k: _scalar(v) for k, v in step.items() if k in STEP_FIELDS},
        checkpoint={k: _scalar(v) for k, v in ckpt.items()},
        variables=[{k: _scalar(v) for k, v in r.items()} for r in rows],
        meta={k: _scalar(v) for k, v in meta.items()},
    )


def _meta(c: sqlite3.Connection) -> dict[str, Any]:
    """The sidecar's own records (its identity), when the schema has them."""
    try:
        return {str(r[0]): r[1] for r in c.execute("SELECT key, value FROM meta")}
    except sqlite3.OperationalError:
        return {}


def _plain(row: sqlite3.Row) -> dict[str, Any]:
    """A row as JSON: bytes (inline pickle streams) as {"b64": ...}."""
    return {
        k: {"b64": base64.b64encode(v).decode()} if isinstance(v, bytes) else v
        for k, v in dict(row).items()
    }


def _scalar(value: Any) -> Any:
    """Undo _plain, accepting only what a SQLite column can hold."""
    if isinstance(value, dict) and set(value) == {"b64"} and isinstance(value["b64"], str):
        return base64.b64decode(value["b64"], validate=True)
    if value is None or (isinstance(value, str | int | float) and not isinstance(value, bool)):
        return value
    raise TypeError(f"unexpected value of type {type(value).__name__}")
