"""Per-user signing key for checkpoints (like Jupyter's notebook trust).

Unpickling runs code, so a pickle stream is only loaded when its HMAC was made with
this user's key. The key lives outside the notebook folder, in the Jupyter data dir.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from functools import lru_cache
from pathlib import Path

KEY_ENV = "MIRRORNEURON_KEY_FILE"


def key_path() -> Path:
    explicit = os.environ.get(KEY_ENV)
    if explicit:
        return Path(explicit)
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "mirrorneuron_nb" / "signing.key"


@lru_cache(maxsize=4)
def _load_key(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    # O_EXCL: two kernels creating the key at once agree on whichever landed first.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
        fh.flush()
        os.fsync(fh.fileno())
    return key


def signing_key() -> bytes:
    return _load_key(key_path())


def sign(*parts: bytes | str) -> str:
    mac = hmac.new(signing_key(), digestmod=hashlib.sha256)
    for part in parts:
        mac.update(part.encode("utf-8") if isinstance(part, str) else part)
        mac.update(b"\x00")
    return mac.hexdigest()


def verify(signature: str | None, *parts: bytes | str) -> bool:
    return signature is not None and hmac.compare_digest(signature, sign(*parts))
