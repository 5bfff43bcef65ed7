"""Every environment variable mirrorneuron_nb reads, named and parsed in one place.

Values are read when asked for (not at import), so a batch driver that sets them for a
kernel, or a test that monkeypatches them, is always seen.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from .errors import InvalidInput

SIDECAR_ENV = "MIRRORNEURON_SIDECAR"
"""A sidecar directory that overrides `NAME.mn/` beside the notebook."""
NOTEBOOK_ENV = "MIRRORNEURON_NOTEBOOK"
"""The input notebook of a batch run (its kernel has no Jupyter session)."""
SESSION_ENV = "JPY_SESSION_NAME"
"""Set by Jupyter for kernels it starts: the notebook's path."""
RUN_KIND_ENV = "MIRRORNEURON_RUN_KIND"
"""`interactive` (default) or `batch`: batch runs stop at gates with a command to run."""
PARAMETERS_ENV = "MIRRORNEURON_PARAMETERS"
"""The batch run's parameters as a JSON object, recorded with the run."""
RUN_ID_ENV = "MIRRORNEURON_RUN_ID"
"""The id a batch run's kernel records its run under, chosen by the driver so it can read
back what this run did to each step (32 hex digits; taken once: see `take_run_id`)."""
FORCE_ENV = "MIRRORNEURON_FORCE"
"""`1`: a `--fresh` batch run executes every step, whatever its checkpoints."""
KEY_ENV = "MIRRORNEURON_KEY_FILE"
"""The per-user signing key (default: the Jupyter data dir)."""
MAX_VALUE_ENV = "MIRRORNEURON_MAX_VALUE_BYTES"
"""A value whose serialized size exceeds this many bytes is not written (unset: no limit)."""
LEASE_WAIT_ENV = "MIRRORNEURON_LEASE_WAIT"
"""Seconds a batch run waits for a step another process holds (`mn-nb run --lease-wait`);
unset: as long as the owner runs (like an interactive kernel, which the user interrupts)."""
LEASE_TIMEOUT_ENV = "MIRRORNEURON_LEASE_TIMEOUT"
"""A lease whose heartbeat is older than this many seconds is free, whatever its host
(default 30)."""
HEARTBEAT_ENV = "MIRRORNEURON_HEARTBEAT"
"""Seconds between a kernel's renewals of the leases it holds (default 5)."""

BLOBS_ENV = "MIRRORNEURON_BLOBS"
"""An fsspec URL (`s3://bucket/prefix`, `gs://...`, `az://...`, `file:///dir`) where every
sidecar keeps its checkpoint blobs (`mn-nb --blobs URL`); unset: `blobs/` in the sidecar
(a shared store: this machine's cache; store/open.py).
fsspec's own settings (FSSPEC_S3_ENDPOINT_URL, AWS_ENDPOINT_URL, credentials) apply."""

PENDING_BYTES_ENV = "MIRRORNEURON_PENDING_BYTES"
"""Bytes that checkpoint writes running behind the cells may hold (kernel/writer.py);
past it a cell waits for the disk. Default: a quarter of the memory available, at most
PENDING_BYTES_CAP. `0`: every checkpoint is written before its cell returns."""
FREEZE_ENV = "MIRRORNEURON_FREEZE"
"""`1`: freeze every big new blob of a step in its cell (a temp file) instead of writing
it from the kernel's memory behind the cell (kernel/staging.py): slower cells, and a
value written into meanwhile by something no cell names still checkpoints."""
SNAPSHOT_ENV = "MIRRORNEURON_SNAPSHOT"
"""`0`: never fork the kernel to write a step's big arrays from a snapshot of its memory
(kernel/snapshot.py); they are written from live memory, later cells touching them wait."""
WRITER_DELAY_ENV = "MIRRORNEURON_WRITER_DELAY"
"""Tests only: seconds the background writer sleeps before writing each checkpoint (to
observe a step `checkpointing`, or kill a kernel there)."""

PENDING_BYTES_CAP = 8 << 30
PENDING_BYTES_FLOOR = 64 << 20
LEASE_TIMEOUT = 30.0
HEARTBEAT = 5.0

STORE_ENV = "MIRRORNEURON_STORE"
"""A shared store (`postgresql://...`) for every notebook; unset: the sidecar beside it."""
PROJECT_ENV = "MIRRORNEURON_PROJECT"
"""A notebook's project in a shared store (default: its root directory's name)."""
ROOT_ENV = "MIRRORNEURON_ROOT"
"""The directory notebook paths in a shared store are relative to (default: the git
repository containing the notebook, else the notebook's own directory)."""

MAX_SLEEP_ENV = "MIRRORNEURON_MAX_SLEEP"
"""Seconds: in a batch run, a wait (`mn.sleep`, `mn.wait_until`) longer than this parks
the step `sleeping` and stops the run (`mn-nb run --max-sleep S`, exit 5). Unset: waits
sleep in the kernel, however long."""

BATCH = "batch"
INTERACTIVE = "interactive"


def _get(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value else None


def sidecar_override() -> Path | None:
    explicit = _get(SIDECAR_ENV)
    return Path(explicit).resolve() if explicit else None


def batch_notebook() -> str | None:
    return _get(NOTEBOOK_ENV)


def session_notebook() -> str | None:
    return _get(SESSION_ENV)


def run_kind() -> str:
    return _get(RUN_KIND_ENV) or INTERACTIVE


def is_batch() -> bool:
    return run_kind() == BATCH


def force_all() -> bool:
    return os.environ.get(FORCE_ENV) == "1"


def run_parameters() -> dict[str, Any]:
    try:
        value = json.loads(os.environ.get(PARAMETERS_ENV, "{}"))
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def blobs_url() -> str | None:
    """Where blobs go when not beside the notebook (None: the sidecar's `blobs/`)."""
    url = _get(BLOBS_ENV)
    return url.strip() if url and url.strip() else None


def key_file() -> Path | None:
    explicit = _get(KEY_ENV)
    return Path(explicit) if explicit else None


def max_value_bytes() -> int | None:
    raw = os.environ.get(MAX_VALUE_ENV, "").strip()
    if not raw:
        return None
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if limit <= 0:
        raise InvalidInput(f"{MAX_VALUE_ENV} must be a positive number of bytes, got {raw!r}")
    return limit


def max_sleep() -> float | None:
    """The longest wait a batch run sleeps through in the kernel (None: no limit)."""
    return _seconds(MAX_SLEEP_ENV, None)


def _seconds(name: str, default: float | None) -> float | None:
    """An environment variable holding seconds, checked like the options that set it
    (limits.py); unset or empty: `default`."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    from . import limits

    try:
        value = float(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a number of seconds, got {raw!r}") from None
    return limits.seconds(name, value)


def lease_wait() -> float | None:
    """How long a batch run waits for a held step; None: as long as its owner runs."""
    return _seconds(LEASE_WAIT_ENV, None)


def lease_timeout() -> float:
    return _seconds(LEASE_TIMEOUT_ENV, LEASE_TIMEOUT) or LEASE_TIMEOUT


def heartbeat_interval() -> float:
    return _seconds(HEARTBEAT_ENV, HEARTBEAT) or HEARTBEAT


def batch_environment(
    notebook: Path,
    sidecar: Path,
    parameters: dict[str, Any],
    fresh: bool,
    max_sleep: float | None = None,
    lease_wait: float | None = None,
    run_id: str | None = None,
) -> dict[str, str]:
    """What a batch driver sets for the kernel it starts (without `max_sleep`, the
    kernel inherits MIRRORNEURON_MAX_SLEEP, so plain papermill runs can set it)."""
    env = {
        NOTEBOOK_ENV: str(notebook),
        RUN_KIND_ENV: BATCH,
        PARAMETERS_ENV: json.dumps(parameters, default=repr),
        FORCE_ENV: "1" if fresh else "0",
        SIDECAR_ENV: str(sidecar),
        LEASE_WAIT_ENV: "" if lease_wait is None else repr(lease_wait),
    }
    if max_sleep is not None:
        env[MAX_SLEEP_ENV] = repr(max_sleep)
    if run_id is not None:
        env[RUN_ID_ENV] = run_id
    return env


def take_run_id() -> str | None:
    """The run id the batch driver chose, removed from the environment as it is read: one
    run per id, so neither a second run of this kernel nor a process it starts reuses it.
    Anything but 32 hex digits is ignored (the kernel makes its own)."""
    value = os.environ.pop(RUN_ID_ENV, "")
    return value if len(value) == 32 and all(c in "0123456789abcdef" for c in value) else None


def shared_store() -> str | None:
    """The shared store's URL, or None for the embedded sidecar."""
    url = _get(STORE_ENV)
    if url is None:
        return None
    if not url.startswith(("postgresql://", "postgres://")):
        raise InvalidInput(
            f"{STORE_ENV} must be a postgresql:// URL (or unset for the sidecar); got "
            f"{url.split('://')[0] + '://...' if '://' in url else url!r}"
        )
    return url


def project_name() -> str | None:
    return _get(PROJECT_ENV)


def project_root() -> Path | None:
    explicit = _get(ROOT_ENV)
    return Path(explicit).resolve() if explicit else None


def pending_bytes() -> int:
    """How many bytes checkpoint writes behind the cells may hold (0: none, write-through)."""
    raw = os.environ.get(PENDING_BYTES_ENV, "").strip()
    if not raw:
        return _default_pending_bytes()
    try:
        limit = int(raw)
    except ValueError:
        limit = -1
    if limit < 0:
        raise InvalidInput(
            f"{PENDING_BYTES_ENV} must be a number of bytes (0 or more), got {raw!r}"
        )
    return limit


def check_write_settings() -> None:
    """Refuse a bad PENDING_BYTES_ENV, FREEZE_ENV or SNAPSHOT_ENV up front, before a
    step's body runs (the default bound needs no check, nor reading)."""
    if os.environ.get(PENDING_BYTES_ENV, "").strip():
        pending_bytes()
    freeze()
    snapshot()


_DEFAULT_FOR = 1.0
"""Seconds a reading of the available memory is used again (every step asks for it, and
/proc/meminfo costs ~0.1 ms to read)."""
_default_read: tuple[float, int] = (-_DEFAULT_FOR, 0)


def _default_pending_bytes() -> int:
    global _default_read
    now = time.monotonic()
    if now - _default_read[0] >= _DEFAULT_FOR:
        _default_read = (now, _read_default_pending_bytes())
    return _default_read[1]


def _read_default_pending_bytes() -> int:
    """A quarter of the memory available now (MemAvailable, else physical memory), at
    least PENDING_BYTES_FLOOR and at most PENDING_BYTES_CAP."""
    available = None
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    if available is None:
        try:
            available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (OSError, ValueError, AttributeError):
            available = 4 * PENDING_BYTES_CAP
    return max(PENDING_BYTES_FLOOR, min(PENDING_BYTES_CAP, available // 4))


def freeze() -> bool:
    """Whether big blobs are frozen in the cell (FREEZE_ENV), not written from memory."""
    raw = os.environ.get(FREEZE_ENV, "").strip()
    if raw not in ("", "0", "1"):
        raise InvalidInput(f"{FREEZE_ENV} must be 0 or 1, got {raw!r}")
    return raw == "1"


def snapshot() -> bool:
    """Whether big arrays may be written from a forked snapshot (SNAPSHOT_ENV, default on)."""
    raw = os.environ.get(SNAPSHOT_ENV, "").strip()
    if raw not in ("", "0", "1"):
        raise InvalidInput(f"{SNAPSHOT_ENV} must be 0 or 1, got {raw!r}")
    return raw != "0"


def writer_delay() -> float:
    """Tests only (WRITER_DELAY_ENV): seconds the writer waits before each commit."""
    return _seconds(WRITER_DELAY_ENV, 0.0) or 0.0
