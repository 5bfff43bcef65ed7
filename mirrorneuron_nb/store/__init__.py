"""The store: the only code that knows SQL. One `Store` over a sidecar (SQLite metadata
plus content-addressed blob files); errors leave it as mirrorneuron_nb's own. The records
it reads and writes are defined in models.py."""

from .blob_backend import Blobs, open_blobs
from .blobs import BlobStore
from .leases import lease_free, owner_alive, pid_alive
from .open import is_shared, open_store, run_output_dir, store_exists
from .sqlite import Store, database_path, sidecar_exists

__all__ = [
    "BlobStore",
    "Blobs",
    "Store",
    "database_path",
    "is_shared",
    "lease_free",
    "open_blobs",
    "open_store",
    "owner_alive",
    "pid_alive",
    "run_output_dir",
    "sidecar_exists",
    "store_exists",
]
