"""Content fingerprints of values: what the cache key and change detection compare.

A fingerprint must be the same in every process for the same content, so a restarted
kernel recognises its inputs. Immutables, modules and functions get fingerprints that do
not depend on pickle bytes; everything else is the digest of its snapshot.
"""

from __future__ import annotations

import types
from typing import Any

from ..errors import NotCheckpointable
from .digest import digest_parts
from .serializers import snapshot, type_name

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


def stable_fingerprint(value: Any) -> str | None:
    """A content fingerprint that survives a kernel restart, or None if there is none."""
    special = special_fingerprint(value)
    if special is not None:
        return special
    try:
        return snapshot(value).fingerprint
    except NotCheckpointable:
        return None


def fingerprint(value: Any) -> str:
    """A digest that changes when the value's content changes; stable across processes."""
    # Not serializable: identity is all we can compare, so a restart always re-runs.
    return stable_fingerprint(value) or f"unhashable:{type_name(value)}:{id(value)}"


def is_immutable(value: Any) -> bool:
    return isinstance(value, (*_IMMUTABLE, types.ModuleType))


def code_digest(
    fn: types.FunctionType, *, closure: bool = True, opaque_by_type: bool = False
) -> str:
    """The function's code, defaults and captured values. `opaque_by_type`: a captured
    value with no stable fingerprint (a client, a lock) counts by its type instead of its
    identity, so the digest is the same in every kernel."""
    parts: list[bytes] = []

    def walk(code: types.CodeType) -> None:
        parts.append(code.co_code)
        parts.append(repr(code.co_names).encode())
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                walk(const)
            else:
                parts.append(repr(const).encode())

    walk(fn.__code__)
    parts.append(repr(fn.__defaults__).encode())
    parts.append(repr(fn.__kwdefaults__).encode())
    # Values captured by a closure are part of what the function computes.
    for cell in (fn.__closure__ or ()) if closure else ():
        try:
            held = cell.cell_contents
        except ValueError:  # not assigned yet
            parts.append(b"<empty cell>")
            continue
        if isinstance(held, types.FunctionType):  # often the function itself: code only
            parts.append(code_digest(held, closure=False).encode())
        elif opaque_by_type:
            parts.append((stable_fingerprint(held) or f"opaque:{type_name(held)}").encode())
        else:
            parts.append(fingerprint(held).encode())
    return digest_parts(parts)
