"""Trust a sidecar written by another user or machine: `mn-nb trust NOTEBOOK`.

Checkpointed values are only unpickled when their HMAC was made with this user's key
(trust.py). A sidecar copied from someone else is signed with their key, so nothing in it
loads. Trusting it re-signs every checkpoint variable and every recorded durable-call
result with this user's key, in one write transaction. The signature covers the
serializer, the stream bytes and the buffer keys (`snapshot.signature_of`); buffer keys
are the hashes of the buffer blobs, so every blob a value uses is checked against its hash
first: a value with a missing or corrupted blob is not signed, and is reported.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any

from .errors import CheckpointUnavailable
from .persist import DELETED
from .snapshot import signature_of
from .store import Store
from .store.blobs import BlobStore
from .store.connection import write_txn
from .trust import verify

# Both tables keep a value in the same columns; `label` names a row for the report.
_TABLES = {
    "checkpoint_vars": (
        "SELECT v.rowid AS rowid, 'step ' || c.step || ', checkpoint ' || c.id || ': '"
        " || v.name AS label, v.serializer, v.size, v.header, v.stream_blob, v.buffers,"
        " v.signature FROM checkpoint_vars v JOIN checkpoints c ON c.id = v.checkpoint_id"
        " WHERE v.serializer IS NOT NULL AND v.serializer != ? ORDER BY c.id, v.name"
    ),
    "durable_calls": (
        "SELECT id AS rowid, 'step ' || step || ', durable call ' || id || ': ' || function"
        " AS label, serializer, size, header, stream_blob, buffers, signature"
        " FROM durable_calls WHERE serializer IS NOT NULL AND serializer != ? ORDER BY id"
    ),
}


@dataclass
class TrustReport:
    signed: int = 0
    """Values now signed with this user's key that were not before."""
    already: int = 0
    """Values that were signed with this user's key already."""
    damaged: list[tuple[str, str]] = field(default_factory=list)
    """(which value, why): not signed because a blob is missing or corrupted."""


def trust_sidecar(store: Store) -> TrustReport:
    """Re-sign every stored value of the sidecar with this user's key (one transaction)."""
    report = TrustReport()
    checked: dict[str, str | None] = {}  # blob key -> why it is unusable (None: verified)
    with write_txn(store.conn) as c:
        for table, query in _TABLES.items():
            for row in c.execute(query, (DELETED,)).fetchall():
                try:
                    stream, keys = _verified_parts(store.blobs, row, checked)
                except CheckpointUnavailable as exc:
                    report.damaged.append((row["label"], exc.reason))
                    continue
                if verify(row["signature"], row["serializer"], stream, *keys):
                    report.already += 1
                    continue
                signature = signature_of(row["serializer"], stream, keys)
                c.execute(
                    f"UPDATE {table} SET signature=? WHERE rowid=?", (signature, row["rowid"])
                )
                report.signed += 1
        c.execute(
            "INSERT INTO events(ts, run_id, step, kind, detail) VALUES (?,NULL,NULL,?,?)",
            (
                time.time(),
                "trusted",
                json.dumps(
                    {
                        "signed": report.signed,
                        "already": report.already,
                        "damaged": [label for label, _ in report.damaged],
                    }
                ),
            ),
        )
    return report


def _verified_parts(
    blobs: BlobStore, row: sqlite3.Row, checked: dict[str, str | None]
) -> tuple[bytes, list[str]]:
    """The stream bytes and buffer keys a signature covers, after checking every blob."""
    buffers = [(str(k), int(n)) for k, n in json.loads(row["buffers"])]
    for key, size in buffers:
        _check_blob(blobs, key, size, checked)
    if row["stream_blob"] is None:
        stream = bytes(row["header"] or b"")
    else:
        stream_size = int(row["size"]) - sum(n for _, n in buffers)
        stream = blobs.read(row["stream_blob"], stream_size, verify=True)
    return stream, [k for k, _ in buffers]


def _check_blob(blobs: BlobStore, key: str, size: int, checked: dict[str, str | None]) -> None:
    """Hash-check a buffer blob once per run (many values may share it)."""
    if key not in checked:
        try:
            mapped: Any = blobs.map(key, size, verify=True)
        except CheckpointUnavailable as exc:
            checked[key] = exc.reason
        else:
            checked[key] = None
            if hasattr(mapped, "close"):
                mapped.close()
    reason = checked[key]
    if reason is not None:
        raise CheckpointUnavailable(key, reason)
