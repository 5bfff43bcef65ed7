"""Turn a notebook path from a request into a file inside the server root, or refuse it.

Requests name notebooks the way the contents API does (relative to the server root). A
path that leaves the root (`../`, an absolute path elsewhere, a symlink pointing out) is
refused before anything is read, so the answer says nothing about files outside the root.

The sidecar is confined the same way: `NAME.mn` is resolved (a symlinked sidecar is
followed, then checked against the root), and the database files SQLite opens in it must be
plain files, never links (SQLite follows a link, and a read-only reader still writes its
`-shm` read marks), so neither a read nor a reset/approval can touch a file outside the root.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidInput, NotFound, PathOutsideRoot, UnsafeSidecar
from ..sidecar import sidecar_of
from ..store import database_path

# Longest notebook path accepted (Linux's PATH_MAX): longer ones are refused before any
# system call, which would fail with "File name too long" anyway.
MAX_PATH_CHARS = 4096

# What SQLite opens in a sidecar: the database and its WAL, shared-memory and rollback files.
DB_SUFFIXES = ("", "-wal", "-shm", "-journal")

Identity = tuple[tuple[str, int, int], ...]
"""(name, st_dev, st_ino) of the sidecar directory and each of its database files present."""


@dataclass(frozen=True)
class NotebookRef:
    api_path: str
    """As the client sent it: echoed back so the panel can match answers to notebooks."""
    file: Path
    """Resolved: no symlink left in it, inside the root."""
    sidecar: Path
    """Resolved and confined like `file` when the request was checked (see confine_sidecar)."""
    root: Path
    """The server root, resolved: writers check the sidecar against it again."""


def resolve_notebook(root: Path, api_path: str) -> NotebookRef:
    if not api_path or "\x00" in api_path:
        raise InvalidInput("path: give the notebook's path relative to the server root")
    if len(api_path) > MAX_PATH_CHARS:
        raise InvalidInput(f"path: longer than {MAX_PATH_CHARS} characters")
    if not api_path.endswith(".ipynb"):
        raise InvalidInput(f"path {api_path!r} is not a notebook (.ipynb)")
    base = root.resolve()
    # An absolute path is accepted only if it lies inside the root; resolve() follows
    # symlinks, so a link inside the root that points out is refused too.
    candidate = _resolve(base / api_path, api_path)
    if not _inside(base, candidate):
        raise PathOutsideRoot(f"path {api_path!r} is outside the server root")
    try:
        mode = candidate.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise NotFound(f"no such notebook: {api_path!r}") from None
    except OSError as exc:
        raise InvalidInput(f"path {api_path!r}: {exc.strerror}") from None
    if not stat.S_ISREG(mode):
        # A directory, a FIFO (reading it would hang), a device: not a notebook file.
        raise NotFound(f"no such notebook: {api_path!r}")
    sidecar, _ = confine_sidecar(base, sidecar_of(candidate), api_path)
    return NotebookRef(api_path, candidate, sidecar, base)


def confine_sidecar(base: Path, sidecar: Path, api_path: str) -> tuple[Path, Identity]:
    """The sidecar's real path, inside `base`, and the identity of what is there now.

    Refuses (PathOutsideRoot) a sidecar that resolves outside the root, and (UnsafeSidecar)
    one that is not a directory or whose database files are links or not regular files."""
    real = _resolve(sidecar, api_path)
    if not _inside(base, real):
        raise PathOutsideRoot(f"the sidecar of {api_path!r} is outside the server root")
    found: list[tuple[str, int, int]] = []
    st = _lstat(real, api_path)
    if st is None:
        return real, ()
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafeSidecar(f"the sidecar of {api_path!r} ({real.name}) is not a directory")
    found.append((".", st.st_dev, st.st_ino))
    db = database_path(real)
    for suffix in DB_SUFFIXES:
        name = db.name + suffix
        st = _lstat(real / name, api_path)
        if st is None:
            continue
        if not stat.S_ISREG(st.st_mode):
            raise UnsafeSidecar(
                f"the sidecar of {api_path!r} holds {name}, which is a link or not a regular "
                "file: refused"
            )
        found.append((name, st.st_dev, st.st_ino))
    return real, tuple(found)


def _resolve(path: Path, api_path: str) -> Path:
    try:
        return path.resolve()
    except RuntimeError:
        # Python < 3.13 reports a symlink loop as RuntimeError.
        raise InvalidInput(f"path {api_path!r}: symbolic link loop") from None
    except OSError as exc:
        raise InvalidInput(f"path {api_path!r}: {exc.strerror}") from None
    except ValueError:
        # A NUL byte or an unpaired surrogate: no file has such a name.
        raise InvalidInput(f"path {api_path!r}: not a valid file name") from None


def _lstat(path: Path, api_path: str) -> os.stat_result | None:
    try:
        return path.lstat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise InvalidInput(f"the sidecar of {api_path!r}: {exc.strerror}") from None


def _inside(base: Path, path: Path) -> bool:
    return path == base or base in path.parents
