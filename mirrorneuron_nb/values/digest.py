"""Fast content hashing for fingerprints and blob addresses.

xxh3-128 runs at memory speed, so fingerprinting a 200 MB array costs milliseconds.
It is not collision resistant against an attacker: anything that could execute code
(pickle streams) is additionally authenticated with an HMAC in signing.py.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import xxhash


def digest(data: Any) -> str:
    """Hex digest of one bytes-like object."""
    return str(xxhash.xxh3_128_hexdigest(data))


def hasher() -> Any:
    """A streaming form of `digest`: `.update(part)`, then `.hexdigest()`."""
    return xxhash.xxh3_128()


def digest_parts(parts: Iterable[Any]) -> str:
    h = hasher()
    for part in parts:
        h.update(part)
    return str(h.hexdigest())


def text_digest(*texts: str) -> str:
    """Stable digest of text fields (code, names): sha256 truncated, for readability."""
    framed = "\x00".join(texts) + "\x00" if texts else ""  # each text, then a NUL
    return hashlib.sha256(framed.encode("utf-8")).hexdigest()[:32]
