"""Where a remote store's big blobs wait, as local temp files, for the writer to upload
them (writer.py): the sidecar's `spool/`, else one in the system's temp directory (a
database store has no sidecar folder). A kernel killed meanwhile leaves its spool files;
the next writer to stage there deletes those an hour old."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path

SPOOL_GRACE_SECONDS = 3600
"""Spool files older than this are left over by a killed kernel (as blobs' temp files)."""


def spool_dir(root: Path) -> Path:
    """The spool of the store at `root`, its leftover files deleted (made on first use)."""
    spool = (
        root / "spool"
        if root.is_dir()
        else Path(tempfile.gettempdir()) / f"mirrorneuron-spool-{os.getuid()}"
    )
    _sweep(spool)
    return spool


def _sweep(spool: Path) -> None:
    """Delete spool files older than SPOOL_GRACE_SECONDS (a killed kernel's)."""
    cutoff = time.time() - SPOOL_GRACE_SECONDS
    with contextlib.suppress(OSError):
        for entry in os.scandir(spool):
            with contextlib.suppress(OSError):
                if entry.name.startswith(".tmp-") and entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
