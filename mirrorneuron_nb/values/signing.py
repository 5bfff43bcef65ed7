"""Per-user signing key for checkpoints (like Jupyter's notebook trust).

Unpickling runs code, so a pickle stream is only loaded when its HMAC was made with
this user's key. The key lives outside the notebook folder, in the Jupyter data dir.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import tempfile
import threading
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from .. import config
from ..errors import UntrustedCheckpoint

# How to load a sidecar signed with another key (resume fills in the notebook's name).
TRUST_HINT = "run `mn-nb trust NOTEBOOK` if you trust it"


def key_path() -> Path:
    explicit = config.key_file()
    if explicit is not None:
        return explicit
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "mirrorneuron_nb" / "signing.key"


_key_lock = threading.Lock()


@lru_cache(maxsize=4)
def _load_key(path: Path) -> bytes:
    # Durable calls sign from worker threads: one thread creates the key, the others wait.
    with _key_lock:
        try:
            return path.read_bytes()
        except FileNotFoundError:
            pass
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written in full under a temporary name, then linked into place: another process
        # never reads a half-written key, and two creating it at once agree on the first.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".key-")  # mode 0600
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_bytes(32))
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
            except OSError:  # a filesystem without hard links: rename, unless one landed
                if not path.exists():
                    os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        return path.read_bytes()


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


def signature_of(serializer: str, stream: bytes, buffer_keys: Iterable[str]) -> str:
    """A checkpointed value's signature: it covers the buffers through their content keys."""
    return sign(serializer, stream, *buffer_keys)


def require_signed(
    name: str, signature: str | None, serializer: str, stream: bytes, keys: Iterable[str]
) -> None:
    """Raise UntrustedCheckpoint unless this user's key signed the value: checked before
    any byte of it is unpickled."""
    if not verify(signature, serializer, stream, *keys):
        raise UntrustedCheckpoint(
            name,
            "checkpoint was not signed with this user's key (copied from another user "
            "or machine, or altered since?); it is not loaded because unpickling can run "
            f"code: {TRUST_HINT}",
        )
