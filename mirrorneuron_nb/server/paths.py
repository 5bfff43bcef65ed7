"""Turn a notebook path from a request into a file inside the server root, or refuse it.

Requests name notebooks the way the contents API does (relative to the server root). A
path that leaves the root (`../`, an absolute path elsewhere, a symlink pointing out) is
refused before anything is read, so the answer says nothing about files outside the root.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidInput, NotFound, PathOutsideRoot
from ..sidecar import sidecar_of


@dataclass(frozen=True)
class NotebookRef:
    api_path: str
    """As the client sent it: echoed back so the panel can match answers to notebooks."""
    file: Path
    sidecar: Path


def resolve_notebook(root: Path, api_path: str) -> NotebookRef:
    if not api_path or "\x00" in api_path:
        raise InvalidInput("path: give the notebook's path relative to the server root")
    if not api_path.endswith(".ipynb"):
        raise InvalidInput(f"path {api_path!r} is not a notebook (.ipynb)")
    base = root.resolve()
    # An absolute path is accepted only if it lies inside the root; resolve() follows
    # symlinks, so a link inside the root that points out is refused too.
    candidate = (base / api_path).resolve()
    if candidate != base and base not in candidate.parents:
        raise PathOutsideRoot(f"path {api_path!r} is outside the server root")
    if not candidate.is_file():
        raise NotFound(f"no such notebook: {api_path}")
    return NotebookRef(api_path, candidate, sidecar_of(candidate))
