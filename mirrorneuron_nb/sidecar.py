"""Where a notebook's sidecar lives: `analysis.ipynb` -> `analysis.mn/` beside it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import config

# With no notebook known and no override, the sidecar is this directory in the cwd.
DEFAULT_SIDECAR = "mirrorneuron.mn"


@dataclass(frozen=True)
class Location:
    sidecar: Path
    notebook: Path | None
    source: str
    """How it was found: 'env', 'session' or 'default' (shown in %mn_status)."""


def sidecar_beside(notebook: Path) -> Path:
    """`NAME.mn/` beside `NAME.ipynb`, ignoring any override."""
    return notebook.with_name(notebook.stem + ".mn")


def sidecar_of(notebook: Path) -> Path:
    """The sidecar a kernel running `notebook` uses: the override, else beside it."""
    return config.sidecar_override() or sidecar_beside(notebook)


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
    named = config.batch_notebook()
    notebook = find_notebook(named or session_name or config.session_notebook(), cwd)
    explicit = config.sidecar_override()
    if explicit:
        return Location(explicit, notebook, "env")
    if notebook is not None:
        return Location(sidecar_beside(notebook), notebook, "session")
    return Location(cwd / DEFAULT_SIDECAR, None, "default")
