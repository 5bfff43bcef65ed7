"""Per-user signing key for checkpoints (like Jupyter's notebook trust).

Unpickling runs code, so a pickle stream is only loaded when its HMAC was made with this
user's key. The key lives outside the notebook folder, in the Jupyter data dir.

What a value's signature covers (scheme 4): its place (the sidecar's random id, the step,
the variable name; for a durable-call result the function, call key and occurrence), its
serializer label, a blake2b-256 hash of its pickle stream and its buffer keys. A row is
therefore verified before any blob it names is opened, and a signed value copied to
another row, step or sidecar no longer verifies. The stream read afterwards must match
the signed hash (cryptographic: blob keys are xxh3, which is not collision resistant).
A checkpoint's signature covers its place, cache key, code hash, outputs (canonical JSON)
and its variable rows: its outputs are replayed only when it verifies.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import stat
import tempfile
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from .. import config
from ..errors import SigningKeyError, UntrustedCheckpoint
from ..models import VarEntry

# How to load a sidecar signed with another key (resume fills in the notebook's name).
TRUST_HINT = "run `mn-nb trust NOTEBOOK` if you trust it"
MIN_KEY_BYTES = 32
SCHEME = "mn-sign-4"


# What jupyter_data_dir() reads from the environment on Linux and macOS (and Windows).
_DATA_DIR_ENV = ("JUPYTER_DATA_DIR", "JUPYTER_PLATFORM_DIRS", "HOME", "XDG_DATA_HOME", "APPDATA")


def key_path() -> Path:
    # jupyter_data_dir() resolves the home directory on every call (50-90 µs), and a
    # step signs several times: remembered per value of the environment it reads (an
    # explicit key file needs no other).
    explicit = os.environ.get(config.KEY_ENV)
    if explicit:
        return _key_path(explicit)
    return _key_path(None, *map(os.environ.get, _DATA_DIR_ENV))


@lru_cache(maxsize=8)
def _key_path(explicit: str | None, *_env: str | None) -> Path:
    if explicit:
        return Path(explicit)
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "mirrorneuron_nb" / "signing.key"


_key_lock = threading.Lock()


@lru_cache(maxsize=4)
def _load_key(path: Path) -> bytes:
    # Durable calls sign from worker threads: one thread creates the key, the others wait.
    with _key_lock:
        try:
            return _read_key(path)
        except FileNotFoundError:
            pass
        _create_key(path)
        return _read_key(path)


def _read_key(path: Path) -> bytes:
    """The key's bytes, refused (one line each) unless it is a regular file that only its
    owner can read, of at least MIN_KEY_BYTES bytes. Raises FileNotFoundError if absent."""
    st = os.stat(path)  # a symlink to a key is fine; to a directory or FIFO it is not
    if not stat.S_ISREG(st.st_mode):
        raise SigningKeyError(
            f"signing key {path} is not a regular file: remove it (a new key is created) "
            f"or point {config.KEY_ENV} at your key file"
        )
    if st.st_mode & 0o077:
        raise SigningKeyError(
            f"signing key {path} can be read by other users, who could sign code your "
            f"kernels would run: run `chmod 600 {path}`"
        )
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):  # replaced since the stat
            raise SigningKeyError(f"signing key {path} is not a regular file")
        key = fh.read(1 << 16)
    if len(key) < MIN_KEY_BYTES:
        raise SigningKeyError(
            f"signing key {path} has {len(key)} bytes, fewer than {MIN_KEY_BYTES}: anyone "
            "could forge its signatures; delete it (a new key is created) or replace it"
        )
    return key


def _create_key(path: Path) -> None:
    """A new random key, 0600, in a directory made 0700 if we create it."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise SigningKeyError(f"cannot create signing key {path}: {exc}") from None
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


def signing_key() -> bytes:
    """This user's key; SigningKeyError (one line) when it cannot be used safely."""
    try:
        return _load_key(key_path())
    except SigningKeyError:
        raise
    except OSError as exc:
        raise SigningKeyError(f"signing key {key_path()} cannot be read: {exc}") from None


def check_key() -> None:
    """Fail early (before a step's body, a resume, a trust) when the key is unusable."""
    signing_key()


def sign(*parts: bytes | str) -> str:
    """HMAC-SHA256 of the parts, each length-prefixed (no two part lists collide)."""
    framed: list[bytes] = []
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        framed += (len(data).to_bytes(8, "big"), data)
    return hmac.digest(signing_key(), b"".join(framed), "sha256").hex()  # one C call


def verify(signature: str | None, *parts: bytes | str) -> bool:
    return isinstance(signature, str) and hmac.compare_digest(signature, sign(*parts))


STREAM_HASH = "sha256:"
"""Names the hash of streams signed from now on (SHA-256 runs on the CPU's SHA extensions:
twice BLAKE2b's speed here, ~14 ms less per 12 MB stream). A stream hash without it is
BLAKE2b's, as older versions signed it: still verified."""


def stream_hash(stream: Any) -> str:
    """The cryptographic hash of a pickle stream that a value's signature covers."""
    return STREAM_HASH + hashlib.sha256(stream).hexdigest()


def _stream_matches(stream: Any, hashed: str) -> bool:
    if hashed.startswith(STREAM_HASH):
        return hmac.compare_digest(stream_hash(stream), hashed)
    return hmac.compare_digest(hashlib.blake2b(stream, digest_size=32).hexdigest(), hashed)


@dataclass(frozen=True)
class Binding:
    """Where a signed value belongs: a signature made for one place verifies nowhere else."""

    sidecar: str
    """The sidecar's random id (its `meta` table)."""
    step: str
    name: str
    """The variable; for a durable-call result, the function."""
    call: tuple[str, int] | None = None
    """A durable-call result's (call key, occurrence)."""

    def at(self, name: str) -> Binding:
        """The same place for another variable (a group's members, the library state)."""
        return Binding(self.sidecar, self.step, name, self.call)

    def parts(self) -> tuple[str, ...]:
        if self.call is None:
            return ("value", self.sidecar, self.step, self.name)
        return ("call", self.sidecar, self.step, self.name, self.call[0], str(self.call[1]))

    def describe(self) -> str:
        if self.call is None:
            return f"step {self.step!r}, variable {self.name!r}"
        return f"step {self.step!r}, durable call of {self.name}"


def value_signature(binding: Binding, label: str, hashed: str, buffer_keys: Sequence[str]) -> str:
    """A value's signature: its place, serializer label, stream hash and buffer keys."""
    return sign(*_value_parts(binding, label, hashed, buffer_keys))


def require_signed(entry: VarEntry, label: str, binding: Binding) -> None:
    """Raise UntrustedCheckpoint unless this user's key signed this row for this place:
    checked from the row alone, before any blob is opened or any byte unpickled."""
    keys = [k for k, _ in entry.buffers]
    if entry.stream_hash is None:
        raise UntrustedCheckpoint(
            entry.name,
            "not signed with this user's key for this notebook (the sidecar was written by "
            "an older mirrorneuron_nb, whose signatures do not bind a value to its place); "
            f"it is not loaded because unpickling can run code: {TRUST_HINT} (once)",
        )
    if not verify(entry.signature, *_value_parts(binding, label, entry.stream_hash, keys)):
        raise UntrustedCheckpoint(
            entry.name,
            f"checkpoint was not signed with this user's key for {binding.describe()} of this "
            "notebook (copied from another row, notebook, user or machine, or altered since?); "
            f"it is not loaded because unpickling can run code: {TRUST_HINT}",
        )


def require_stream(entry: VarEntry, stream: Any) -> None:
    """The stream read for a verified row is the one its signature covers."""
    if entry.stream_hash is None or not _stream_matches(stream, entry.stream_hash):
        raise UntrustedCheckpoint(
            entry.name, "its stream does not match its signed hash (altered since it was signed?)"
        )


def _value_parts(binding: Binding, label: str, hashed: str, keys: Sequence[str]) -> tuple[str, ...]:
    return (SCHEME, *binding.parts(), label, hashed, str(len(keys)), *keys)


# -- checkpoints ---------------------------------------------------------------------------


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _rows(variables: Iterable[VarEntry]) -> str:
    """What a checkpoint's signature covers of its variable rows (each value's own
    signature covers its data): which names it binds, deletes or could not save."""
    fields = [
        [v.name, v.type_name, v.fingerprint, v.serializer, v.size, v.signature, v.error, v.cosaved]
        for v in sorted(variables, key=lambda v: v.name)
    ]
    return canonical_json(fields)


def checkpoint_signature(
    sidecar: str,
    step: str,
    cache_key: str,
    code_hash: str,
    outputs: list[dict[str, Any]],
    variables: Iterable[VarEntry],
) -> str:
    """`outputs` as stored (JSON): sign what a cache hit reads back."""
    return sign(
        SCHEME,
        "checkpoint",
        sidecar,
        step,
        cache_key,
        code_hash,
        canonical_json(outputs),
        _rows(variables),
    )


def checkpoint_untrusted(
    signature: str | None,
    sidecar: str,
    step: str,
    cache_key: str,
    code_hash: str,
    outputs: list[dict[str, Any]],
    variables: Iterable[VarEntry],
) -> str | None:
    """Why a checkpoint's outputs and rows may not be served, or None when they may."""
    if not isinstance(signature, str):
        return (
            "it is not signed with this user's key (written by an older mirrorneuron_nb, "
            f"or altered?): {TRUST_HINT}"
        )
    expected = checkpoint_signature(sidecar, step, cache_key, code_hash, outputs, variables)
    if not hmac.compare_digest(signature, expected):
        return (
            "it is not signed with this user's key for this notebook and step (copied from "
            f"another user, machine or sidecar, or altered since?): {TRUST_HINT}"
        )
    return None
