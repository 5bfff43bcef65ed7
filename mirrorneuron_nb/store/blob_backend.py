"""What the rest of the code needs from a blob store, and which one a store gets.

Two implementations: `BlobStore` (store/blobs.py, a directory beside the notebook: O_NOFOLLOW
opens, fsync, mmap, quarantine, gc) and `RemoteBlobStore` (store/blobs_remote.py, any fsspec
URL: `s3://`, `gs://`, `az://`, `file://`), chosen by MIRRORNEURON_BLOBS (`--blobs`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from .. import config
from .blobs import BlobStore, Progress


class Blobs(Protocol):
    """Content-addressed blobs: written before any row points at them; every key is
    validated (blobs.check_key) before it is used; what is read is checked against its
    size, and against its key when asked (a remote store always checks)."""

    @property
    def location(self) -> str:
        """Where the blobs are (a directory, or the URL), for messages."""
        ...

    @property
    def remote(self) -> bool:
        """True: shared by every notebook that names the same URL (gc never deletes)."""
        ...

    def exists(self, key: str, size: int) -> bool: ...

    def put(self, key: str, chunks: Sequence[Any], *, fsync: bool = True) -> bool: ...

    def sync_dirs(self, keys: Sequence[str]) -> None: ...

    def stage(self, key: str, chunks: Sequence[Any], spool: Path, *, verify: bool = False) -> str:
        """Freeze a blob's bytes in a new local temp file (not fsynced) that `land` makes
        the blob later: beside its place for a local store (landing is a rename), in the
        local directory `spool` for a remote one. Returns the file's path. `verify`: the
        bytes written must hash to `key`, else BlobChanged (they came from live memory)."""
        ...

    def land(self, key: str, tmp: str) -> bool:
        """Make the file `stage` wrote the blob `key` (fsync and rename, or upload); the
        file is gone after a success. False: the blob was there already."""
        ...

    def read(
        self, key: str, size: int, *, verify: bool = True, quarantine: bool = False
    ) -> bytes: ...

    def map(self, key: str, size: int, *, verify: bool = True, quarantine: bool = False) -> Any: ...

    def collect(
        self,
        referenced: frozenset[str],
        grace_seconds: float = 3600,
        progress: Progress | None = None,
    ) -> tuple[int, int]: ...


def open_blobs(beside: Path) -> Blobs:
    """The blob store of a sidecar: MIRRORNEURON_BLOBS when set, else `beside` (its
    `blobs/` directory). Opening a remote one contacts nothing: the first use does."""
    url = config.blobs_url()
    if url is None:
        return BlobStore(beside)
    from .blobs_remote import RemoteBlobStore

    return RemoteBlobStore(url)
