"""Trust a sidecar written by another user or machine, or an older version: `mn-nb trust`.

Checkpointed values are only unpickled when their HMAC was made with this user's key for
the place they are in (signing.py), and a checkpoint's outputs are only replayed when its
own signature verifies. A sidecar copied from someone else is signed with their key, so
nothing in it loads. Trusting it re-signs every checkpoint variable, every recorded
durable-call result and every checkpoint (its outputs) with this user's key, bound to
where each one is, in one write transaction.

`plan_trust` reads and checks everything and computes the new signatures without writing
(nothing is moved or deleted: a damaged blob is reported, not quarantined); the caller
shows `describe(plan)`, asks, then `apply_trust` writes. The new signatures cover what
was listed (stream hashes, buffer keys, outputs), so a row changed in between does not
verify with them.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Any

from ..errors import CheckpointUnavailable
from ..models import STATE_VARIABLE, Checkpoint, Resigned, StoredValue, VarEntry
from ..render import format_bytes, terminal_safe
from ..store import Blobs, Store
from ..store.blobs import Progress
from .codec import DELETED, GROUP, member_label, read_stream
from .signing import (
    Binding,
    checkpoint_signature,
    checkpoint_untrusted,
    stream_hash,
    value_signature,
)

# Outputs that run script or render markup in the browser when replayed.
ACTIVE_MIME = frozenset({"text/html", "application/javascript", "image/svg+xml", "text/markdown"})


@dataclass
class TrustReport:
    signed: int = 0
    """Values now signed with this user's key that were not before."""
    already: int = 0
    """Values that were signed with this user's key already."""
    damaged: list[tuple[str, str]] = field(default_factory=list)
    """(which value, why): not signed because a blob is missing or corrupted."""
    checkpoints: int = 0
    """Checkpoints (their outputs) now signed that were not before."""


@dataclass
class TrustPlan:
    sidecar: str
    values: list[tuple[StoredValue, str]] = field(default_factory=list)
    """Each value to list, with what happens to it: "sign", "already" or why it is damaged."""
    resigned: list[Resigned] = field(default_factory=list)
    checkpoints: list[tuple[Checkpoint, list[VarEntry], bool]] = field(default_factory=list)
    """Each checkpoint, its rows, and whether it gets a new signature."""
    new_checkpoint_signatures: list[tuple[int, str]] = field(default_factory=list)
    report: TrustReport = field(default_factory=TrustReport)


def plan_trust(store: Store, progress: Progress | None = None) -> TrustPlan:
    """What trusting the sidecar signs; nothing is written, moved or deleted.
    `progress(done, total)` is called after each value and each checkpoint is checked."""
    plan = TrustPlan(store.sidecar_id())
    checked: dict[str, str | None] = {}  # blob key -> why it is unusable (None: verified)
    renewed: dict[tuple[int, str], str] = {}  # (checkpoint, name) -> its new signature
    values, checkpoints = store.signed_values(DELETED), store.all_checkpoints()
    total, done = len(values) + len(checkpoints), 0
    for value in values:
        state = _plan_value(plan, store.blobs, value, checked)
        if value.checkpoint_id is not None and plan.resigned and state == "sign":
            renewed[(value.checkpoint_id, value.entry.name)] = plan.resigned[-1].signature
        done += 1
        if progress is not None:
            progress(done, total)
    for checkpoint, rows in checkpoints:
        rows = [
            v.model_copy(update={"signature": renewed.get((checkpoint.id, v.name), v.signature)})
            for v in rows
        ]
        args = (checkpoint.step, checkpoint.cache_key, checkpoint.code_hash, checkpoint.outputs)
        fresh = checkpoint_untrusted(checkpoint.signature, plan.sidecar, *args, rows) is not None
        if fresh:
            signature = checkpoint_signature(plan.sidecar, *args, rows)
            plan.new_checkpoint_signatures.append((checkpoint.id, signature))
            plan.report.checkpoints += 1
        plan.checkpoints.append((checkpoint, rows, fresh))
        done += 1
        if progress is not None:
            progress(done, total)
    return plan


def _plan_value(
    plan: TrustPlan, blobs: Blobs, value: StoredValue, checked: dict[str, str | None]
) -> str:
    entry, report = value.entry, plan.report
    # The library state a step set is signed like a value but is no variable: it is
    # re-signed without being counted among the values the report names.
    counted = entry.name != STATE_VARIABLE
    try:
        stream, keys = _verified_parts(blobs, entry, checked)
    except CheckpointUnavailable as exc:
        report.damaged.append((value.label, exc.reason))
        plan.values.append((value, exc.reason))
        return exc.reason
    binding = Binding(plan.sidecar, value.step, entry.name, value.call)
    label = member_label(entry.name) if entry.serializer == GROUP else str(entry.serializer)
    hashed = stream_hash(stream)
    signature = value_signature(binding, label, hashed, keys)
    if (
        entry.stream_hash == hashed
        and isinstance(entry.signature, str)
        and hmac.compare_digest(entry.signature, signature)
    ):
        report.already += counted
        plan.values.append((value, "already"))
        return "already"
    report.signed += counted
    plan.resigned.append(Resigned(value.table, value.rowid, signature, hashed))
    plan.values.append((value, "sign"))
    return "sign"


def apply_trust(store: Store, plan: TrustPlan) -> TrustReport:
    """Write the plan's signatures, in one transaction."""
    report = plan.report
    detail: dict[str, Any] = {
        "signed": report.signed,
        "already": report.already,
        "checkpoints": report.checkpoints,
        "damaged": [label for label, _ in report.damaged],
    }
    store.resign(plan.resigned, plan.new_checkpoint_signatures, detail)
    return report


def trust_sidecar(store: Store) -> TrustReport:
    """Re-sign everything in the sidecar with this user's key, without asking."""
    return apply_trust(store, plan_trust(store))


def describe(plan: TrustPlan) -> list[str]:
    """What will be signed, step by step: variables with types and sizes, durable-call
    results, and each checkpoint's outputs by MIME type (active ones flagged)."""
    lines: list[str] = []
    by_checkpoint: dict[int, list[tuple[StoredValue, str]]] = {}
    calls: dict[str, list[tuple[StoredValue, str]]] = {}
    for value, state in plan.values:
        if value.checkpoint_id is not None:
            by_checkpoint.setdefault(value.checkpoint_id, []).append((value, state))
        else:
            calls.setdefault(value.step, []).append((value, state))
    for checkpoint, _rows, fresh in plan.checkpoints:
        lines.append(f"step {shown(checkpoint.step)}, checkpoint {checkpoint.id}:")
        for value, state in by_checkpoint.get(checkpoint.id, []):
            lines.append("  " + _value_line(value, state))
        mimes = _mime_types(checkpoint.outputs)
        listed = ", ".join(f"{m} (ACTIVE: runs in the browser)" if _active(m) else m for m in mimes)
        verdict = "sign" if fresh else "already signed"
        lines.append(f"  outputs [{verdict}]: {listed or 'none'}")
    for step, values in calls.items():
        lines.append(f"step {shown(step)}, durable-call results:")
        for value, state in values:
            lines.append("  " + _value_line(value, state))
    return lines


def plan_json(plan: TrustPlan) -> dict[str, Any]:
    """What `describe` lists, as data (`mn-nb trust --json`): each value with its state
    ("sign", "already" or "damaged" and why) and each checkpoint's output MIME types."""
    values = [
        {
            "step": value.step,
            "name": value.entry.name,
            "kind": "library_state"
            if value.entry.name == STATE_VARIABLE
            else "variable"
            if value.checkpoint_id is not None
            else "call_result",
            "checkpoint": value.checkpoint_id,
            "type": value.entry.type_name,
            "size": value.entry.size,
            "state": state if state in ("sign", "already") else "damaged",
            "reason": None if state in ("sign", "already") else state,
        }
        for value, state in plan.values
    ]
    checkpoints = [
        {
            "step": checkpoint.step,
            "id": checkpoint.id,
            "outputs": _mime_types(checkpoint.outputs),
            "active": [m for m in _mime_types(checkpoint.outputs) if _active(m)],
            "state": "sign" if fresh else "already",
        }
        for checkpoint, _rows, fresh in plan.checkpoints
    ]
    return {"sidecar": plan.sidecar, "values": values, "checkpoints": checkpoints}


def _value_line(value: StoredValue, state: str) -> str:
    entry = value.entry
    name = "(library state)" if entry.name == STATE_VARIABLE else shown(entry.name)
    verdict = {"sign": "sign", "already": "already signed"}.get(state, f"damaged: {state}")
    return f"{name}: {shown(entry.type_name)}, {format_bytes(entry.size)} [{verdict}]"


def _mime_types(outputs: list[dict[str, Any]]) -> list[str]:
    found: list[str] = []
    for output in outputs:
        if output.get("output_type") == "stream":
            kinds = [f"stream ({output.get('name')})"]
        else:
            data = output.get("data")
            kinds = [str(k) for k in data] if isinstance(data, dict) else ["(no data)"]
        found.extend(shown(k) for k in kinds if shown(k) not in found)
    return found


def _active(mime: str) -> bool:
    return mime in ACTIVE_MIME or "javascript" in mime or "html" in mime


def shown(text: str) -> str:
    """Stored text for a terminal: control characters escaped, length bounded."""
    clean = terminal_safe(str(text))
    return clean if len(clean) <= 120 else clean[:117] + "..."


def _verified_parts(
    blobs: Blobs, entry: VarEntry, checked: dict[str, str | None]
) -> tuple[bytes, list[str]]:
    """The stream bytes and buffer keys a signature covers, after checking every blob (a
    group member loads with its whole group: every blob of the group). Nothing is moved
    aside: these rows are not verified."""
    stream = read_stream(blobs, entry, verify=True, quarantine=False)
    for key, size in entry.buffers:
        _check_blob(blobs, key, size, checked)
    return stream, [k for k, _ in entry.buffers]


def _check_blob(blobs: Blobs, key: str, size: int, checked: dict[str, str | None]) -> None:
    """Hash-check a buffer blob once per run (many values may share it)."""
    if key not in checked:
        try:
            mapped: Any = blobs.map(key, size, verify=True, quarantine=False)
        except CheckpointUnavailable as exc:
            checked[key] = exc.reason
        else:
            checked[key] = None
            if hasattr(mapped, "close"):
                mapped.close()
    reason = checked[key]
    if reason is not None:
        raise CheckpointUnavailable(key, reason)
