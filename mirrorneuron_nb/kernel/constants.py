"""The checkpoint of an inert step that bound only immutable constants, built behind the
cell (a trivial step's rows, signatures and hashes cost more than its body).

`x = 1`, `name = "run-7"`, `shape = (3, 4)`: nothing can change such a value after the
body, through any alias, so it needs no freezing in the cell. The writer thread
(writer.py) fingerprints, serializes, signs and commits it later, exactly as the cell
would have: the same fingerprint (values/fingerprint.py: what a reading step computes),
one group per value (a constant shares nothing a later load must keep shared). Anything
else an inert body binds (a list literal, another name's mutable value) is frozen in the
cell as any step's value (commit.py).
"""

from __future__ import annotations

from typing import Any

from ..models import NewCheckpoint, VarEntry
from ..store.blob_backend import Blobs
from ..values import codec, groups
from ..values.fingerprint import fingerprint
from ..values.serializers import buffer_keys, type_name
from ..values.signing import Binding, checkpoint_signature
from .inert import SCALARS
from .plan import StepPlan

DEFER_BYTES = 1 << 16
"""Constants larger than this, counted generously (a long string literal, a tuple of
thousands), are saved in the cell as before. Below it every value is stored inline in its
row (codec.INLINE_STREAM_BYTES is 4x larger): the writer writes no blob file for them,
and has no size limit to report."""
_ITEM_BYTES = 24
"""More than marshal spends on any scalar or container item."""


def deferrable(values: dict[str, Any]) -> bool:
    """Whether every value is an immutable constant small enough to save behind the cell."""
    budget = [DEFER_BYTES]
    return all(_constant(v, budget, 0) for v in values.values())


def _constant(value: Any, budget: list[int], depth: int) -> bool:
    budget[0] -= _ITEM_BYTES
    kind = type(value)  # exact types: a subclass may define methods that run code
    if kind in (str, bytes):
        budget[0] -= len(value) * (4 if kind is str else 1)  # any code point fits in 4
        return budget[0] >= 0
    if kind in SCALARS:
        return budget[0] >= 0
    if kind in (tuple, frozenset) and depth < 8:
        return budget[0] >= 0 and all(_constant(v, budget, depth + 1) for v in value)
    return False


def build(
    plan: StepPlan, place: Binding, duration: float, values: dict[str, Any], blobs: Blobs
) -> NewCheckpoint:
    """The checkpoint of `values` (all `deferrable`), its blobs written to `blobs`."""
    variables: list[VarEntry] = []
    new_blobs: list[tuple[str, int]] = []
    for name in sorted(values):
        value = values[name]
        dumped = groups.dump({name: value})
        member = codec.Member(name, type_name(value), fingerprint(value))
        keys = buffer_keys(dumped.buffers, {})
        rows, used = codec.save_group(blobs, dumped, [member], keys, place)
        variables.extend(rows)
        new_blobs.extend(used)
    signature = checkpoint_signature(
        place.sidecar, plan.name, plan.cache_key, plan.start.code_hash, [], variables
    )
    return NewCheckpoint(
        cache_key=plan.cache_key,
        code_hash=plan.start.code_hash,
        duration=duration,
        inputs=plan.inputs,
        outputs=[],
        variables=variables,
        new_blobs=new_blobs,
        signature=signature,
    )
