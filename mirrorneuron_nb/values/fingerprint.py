"""Content fingerprints of values: what the cache key and change detection compare.

A fingerprint must be the same in every process for the same content, so a restarted
kernel recognises its inputs, and the same for a value and for that value restored from a
checkpoint (guarantee 7). Immutables, modules and functions get fingerprints of their own;
everything else is the digest of its canonical content (canonical.py), never of the
bytes a checkpoint stores.
"""

from __future__ import annotations

import types
from typing import Any

from ..models import UNSTABLE_FINGERPRINT
from .canonical import BufferDigests, Traits, content_digest
from .code_content import code_parts
from .digest import digest_parts
from .serializers import type_name

_IMMUTABLE = (int, float, complex, str, bytes, bool, type(None), range)


def special_fingerprint(value: Any) -> str | None:
    """Fingerprints that must not depend on pickle bytes (immutables, modules, code)."""
    if isinstance(value, _IMMUTABLE):
        return digest_parts([type(value).__name__.encode(), repr(value).encode()])
    if isinstance(value, types.ModuleType):
        return f"module:{value.__name__}:{getattr(value, '__version__', '')}"
    if isinstance(value, types.FunctionType):
        # marshal output varies between processes; the code itself does not.
        return "function:" + code_digest(value)
    return None


def stable_fingerprint(
    value: Any, array_digests: BufferDigests | None = None, traits: Traits | None = None
) -> str | None:
    """A content fingerprint that survives a kernel restart, or None if there is none.
    `array_digests` collects the digests of the large arrays hashed (see canonical.py);
    `traits` what else hashing the content found."""
    special = special_fingerprint(value)
    if special is not None:
        return special
    return content_digest(value, array_digests, traits)


def fingerprint(
    value: Any, array_digests: BufferDigests | None = None, traits: Traits | None = None
) -> str:
    """A digest that changes when the value's content changes; stable across processes."""
    # Not serializable: identity is all we can compare, so a restart always re-runs.
    found = stable_fingerprint(value, array_digests, traits)
    return found or f"{UNSTABLE_FINGERPRINT}{type_name(value)}:{id(value)}"


def is_immutable(value: Any) -> bool:
    return isinstance(value, (*_IMMUTABLE, types.ModuleType))


def code_digest(
    fn: types.FunctionType, *, closure: bool = True, opaque_by_type: bool = False
) -> str:
    """The function's code, defaults and captured values. `opaque_by_type`: a captured
    value with no stable fingerprint (a client, a lock) counts by its type instead of its
    identity, so the digest is the same in every kernel."""
    parts: list[bytes] = []
    code_parts(fn.__code__, parts)
    # Defaults by content, not repr: a sentinel's repr (dataclasses.MISSING) holds its
    # address, which differs in every process.
    for held in (fn.__defaults__, fn.__kwdefaults__):
        parts.append(_held(held, opaque_by_type).encode())
    # Values captured by a closure are part of what the function computes.
    for cell in (fn.__closure__ or ()) if closure else ():
        try:
            held = cell.cell_contents
        except ValueError:  # not assigned yet
            parts.append(b"<empty cell>")
            continue
        if isinstance(held, types.FunctionType):  # often the function itself: code only
            parts.append(code_digest(held, closure=False).encode())
        else:
            parts.append(_held(held, opaque_by_type).encode())
    return digest_parts(parts)


def _held(value: Any, opaque_by_type: bool) -> str:
    if opaque_by_type:
        return stable_fingerprint(value) or f"opaque:{type_name(value)}"
    return fingerprint(value)
