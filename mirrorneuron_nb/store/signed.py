"""The signed rows of a sidecar, read and re-signed as a whole (`mn-nb trust`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..models import Checkpoint, Resigned, StoredValue, VarEntry
from .base import Tables, event_txn
from .connection import write_txn
from .manifest import write_manifest_txn

# Both tables keep a signed value in the same columns. A value row is named by its key
# column: checkpoint_vars' rowid (an implicit column in SQLite, a real one in PostgreSQL).
_KEY = {"checkpoint_vars": "rowid", "durable_calls": "id"}
_VALUES = {
    "checkpoint_vars": (
        "SELECT v.rowid AS rowid, c.step AS step, c.id AS checkpoint_id, NULL AS call_key,"
        " NULL AS occurrence, v.name, v.type_name, v.serializer, v.size, v.header,"
        " v.stream_blob, v.buffers, v.signature, v.stream_size, v.stream_hash"
        " FROM checkpoint_vars v JOIN checkpoints c ON c.id = v.checkpoint_id"
        " WHERE v.serializer IS NOT NULL AND v.serializer != ? ORDER BY c.id, v.name"
    ),
    "durable_calls": (
        "SELECT id AS rowid, step, NULL AS checkpoint_id, call_key, occurrence,"
        " function AS name, COALESCE(type_name, '-') AS type_name, serializer, size, header,"
        " stream_blob, buffers, signature, NULL AS stream_size, stream_hash"
        " FROM durable_calls WHERE serializer IS NOT NULL AND serializer != ? ORDER BY id"
    ),
}


class SignedRows(Tables):
    def signed_values(self, skip: str) -> list[StoredValue]:
        """Every stored value (checkpoint variables, call results), unverified: rows as
        they are, not those whose serializer is `skip`."""
        out: list[StoredValue] = []
        for table, query in _VALUES.items():
            for row in self.conn.execute(query, (skip,)).fetchall():
                call = None
                if row["call_key"] is not None:
                    call = (str(row["call_key"]), int(row["occurrence"]))
                where = (
                    f"checkpoint {row['checkpoint_id']}"
                    if call is None
                    else f"durable call {row['rowid']}"
                )
                out.append(
                    StoredValue(
                        table,
                        int(row["rowid"]),
                        f"step {row['step']}, {where}: {row['name']}",
                        _entry(row),
                        str(row["step"]),
                        row["checkpoint_id"],
                        call,
                    )
                )
        return out

    def all_checkpoints(self) -> list[tuple[Checkpoint, list[VarEntry]]]:
        """Every checkpoint with all its variable rows (library state included)."""
        from .checkpoints import checkpoint_record, var_entry

        rows: dict[int, list[VarEntry]] = {}
        for r in self.conn.execute("SELECT * FROM checkpoint_vars ORDER BY checkpoint_id, name"):
            rows.setdefault(int(r["checkpoint_id"]), []).append(var_entry(r))
        found = self.conn.execute("SELECT * FROM checkpoints ORDER BY id").fetchall()
        return [(checkpoint_record(c), rows.get(int(c["id"]), [])) for c in found]

    def resign(
        self,
        values: Sequence[Resigned],
        checkpoints: Sequence[tuple[int, str]],
        detail: dict[str, Any],
    ) -> None:
        """Write new signatures (values, then checkpoints' (id, signature)) in one
        transaction, with a `trusted` event."""
        with write_txn(self.conn) as c:
            for v in values:
                c.execute(
                    f"UPDATE {v.table} SET signature=?, stream_hash=? WHERE {_KEY[v.table]}=?",
                    (v.signature, v.stream_hash, v.rowid),
                )
            c.executemany(
                "UPDATE checkpoints SET signature=? WHERE id=?",
                [(signature, checkpoint_id) for checkpoint_id, signature in checkpoints],
            )
            # The log's newest line per checkpoint wins: a rebuild uses the new signatures.
            for checkpoint_id, _ in checkpoints if self.keeps_manifest else ():
                write_manifest_txn(c, self.root, checkpoint_id)
            event_txn(c, None, None, "trusted", detail)


def _entry(row: Any) -> VarEntry:
    return VarEntry(
        name=row["name"],
        type_name=row["type_name"],
        serializer=row["serializer"],
        size=row["size"],
        header=row["header"],
        stream_blob=row["stream_blob"],
        buffers=[(str(k), int(n)) for k, n in json.loads(row["buffers"])],
        signature=row["signature"],
        stream_size=row["stream_size"],
        stream_hash=row["stream_hash"],
    )
