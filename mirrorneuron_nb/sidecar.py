"""Where a notebook's sidecar lives: `analysis.ipynb` -> `analysis.mn/` beside it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SIDECAR_ENV = "MIRRORNEURON_SIDECAR"
# Batch runs (papermill) name the input notebook here: its kernel has no Jupyter session.
NOTEBOOK_ENV = "MIRRORNEURON_NOTEBOOK"
SESSION_ENV = "JPY_SESSION_NAME"
# With no notebook known and no override, the sidecar is this directory in the cwd.
DEFAULT_SIDECAR = "mirrorneuron.mn"


@dataclass(frozen=True)
class Location:
    sidecar: Path
    notebook: Path | None
    source: str
    """How it was found: 'env', 'session' or 'default' (shown in %mn_status)."""


def sidecar_for(notebook: Path) -> Path:
    return notebook.with_name(notebook.stem + ".mn")


def sidecar_of(notebook: Path) -> Path:
    """The sidecar a kernel running `notebook` would use (the env override wins)."""
    explicit = os.environ.get(SIDECAR_ENV)
    return Path(explicit).resolve() if explicit else sidecar_for(notebook)


def find_notebook(session_name: str | None, cwd: Path) -> Path | None:
    """Resolve what the server told the kernel (absolute, or relative to the server root)."""
    if not session_name or not session_name.endswith(".ipynb"):
        return None
    given = Path(session_name)
    if given.is_absolute():
        return given if given.exists() else None
    # Relative to the server root, an ancestor of the kernel's cwd (the notebook's folder).
    for base in (cwd, *cwd.parents):
        candidate = base / given
        if candidate.exists():
            return candidate.resolve()
    candidate = cwd / given.name
    return candidate.resolve() if candidate.exists() else None


def locate(session_name: str | None = None, cwd: Path | None = None) -> Location:
    cwd = cwd or Path.cwd()
    named = os.environ.get(NOTEBOOK_ENV)
    notebook = find_notebook(named or session_name or os.environ.get(SESSION_ENV), cwd)
    explicit = os.environ.get(SIDECAR_ENV)
    if explicit:
        return Location(Path(explicit).resolve(), notebook, "env")
    if notebook is not None:
        return Location(sidecar_for(notebook), notebook, "session")
    return Location(cwd / DEFAULT_SIDECAR, None, "default")
