"""`open_store`: the one way the kernel, the CLI and the server open a notebook's store.

MIRRORNEURON_STORE unset: the embedded sidecar (`NAME.mn/` beside the notebook), as
always. Set to a postgresql:// URL: the notebook's rows in that database, identified by
(project, path relative to the project root), and nothing written beside the notebook.

Blobs of a shared store (until an object-store backend is configured): MIRRORNEURON_BLOBS,
a directory or `file://` URL that every machine sharing the store mounts; unset, a cache
directory of this machine ($XDG_CACHE_HOME/mirrorneuron_nb/blobs), so another machine
sees the steps but cannot restore their values. Either way one subdirectory per notebook
(its schema name), so one notebook's gc never deletes another's blobs.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlparse

from .. import config
from ..errors import InvalidInput
from .blob_backend import Blobs
from .blobs import BlobStore
from .connection import BUSY_TIMEOUT_MS
from .sqlite import Store, sidecar_exists


def notebook_of(sidecar: Path) -> Path:
    """The notebook a sidecar `NAME.mn` belongs to (`NAME.ipynb` beside it)."""
    return sidecar.with_name(sidecar.stem + ".ipynb")


def project_root(notebook: Path) -> Path:
    """MIRRORNEURON_ROOT, else the git repository containing the notebook, else its folder."""
    explicit = config.project_root()
    if explicit is not None:
        return explicit
    folder = notebook.resolve().parent
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return folder


def identity(notebook: Path) -> tuple[str, str]:
    """(project, path relative to the project root) of a notebook in a shared store."""
    root = project_root(notebook)
    try:
        relative = notebook.resolve().relative_to(root)
    except ValueError:
        raise InvalidInput(
            f"{notebook} is not inside the project root {root} (MIRRORNEURON_ROOT)"
        ) from None
    return config.project_name() or root.name or "default", relative.as_posix()


def shared_blobs(schema: str) -> Blobs:
    """The blobs of one notebook in a shared store, in their own directory or prefix (named
    by its schema) so one notebook's gc never deletes another's: under MIRRORNEURON_BLOBS (a
    directory, `file://` or any fsspec URL), else this machine's cache."""
    given = config.blobs_url()
    if given is None:
        return BlobStore(_cache() / "blobs" / schema)
    parsed = urlparse(given)
    if parsed.scheme == "file":
        return BlobStore(Path(unquote(parsed.path)) / schema)
    if parsed.scheme and len(parsed.scheme) > 1:  # not a Windows drive letter
        from .blobs_remote import RemoteBlobStore

        return RemoteBlobStore(given.rstrip("/") + "/" + schema)
    return BlobStore(Path(given).expanduser().resolve() / schema)


def run_output_dir(sidecar: Path, notebook: Path) -> Path:
    """Where `mn-nb run` writes its output notebook by default: the sidecar, or with a
    shared store (nothing beside the notebook) this machine's cache for the notebook."""
    if config.shared_store() is None:
        return sidecar
    from .postgres_schema import notebook_key

    schema = notebook_key(*identity(notebook)).schema
    return _cache() / "runs" / schema


def _cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")) / "mirrorneuron_nb"


def is_shared() -> bool:
    return config.shared_store() is not None


def store_exists(sidecar: Path, notebook: Path | None = None) -> bool:
    """Whether a step ever ran for this notebook (in the shared store, or its sidecar)."""
    url = config.shared_store()
    if url is None:
        return sidecar_exists(sidecar)
    from ..errors import NothingStored

    try:
        open_store(sidecar, notebook=notebook, readonly=True).close()
    except NothingStored:
        return False
    return True


def open_store(
    sidecar: Path,
    *,
    notebook: Path | None = None,
    readonly: bool = False,
    recover: bool = False,
    busy_timeout_ms: int = BUSY_TIMEOUT_MS,
    verify: bool | None = None,
    url: str | None = None,
) -> Store:
    """The store of the notebook whose sidecar would be `sidecar`: that sidecar, or (with
    `url` or MIRRORNEURON_STORE) the notebook's rows in a shared PostgreSQL store."""
    url = url or config.shared_store()
    if url is None:
        return Store(
            sidecar,
            readonly=readonly,
            recover=recover,
            busy_timeout_ms=busy_timeout_ms,
            verify=verify,
        )
    try:
        from .postgres import PostgresStore
        from .postgres_schema import notebook_key
    except ImportError as exc:  # the extra is not installed
        raise InvalidInput(
            f"a PostgreSQL store needs `pip install mirrorneuron_nb[shared]` ({exc})"
        ) from None
    key = notebook_key(*identity(notebook or notebook_of(Path(sidecar))))
    return PostgresStore(
        url,
        key,
        shared_blobs(key.schema),
        root=Path(sidecar),
        readonly=readonly,
        recover=recover,
    )
