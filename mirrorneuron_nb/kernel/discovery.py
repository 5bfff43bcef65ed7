"""Which notebook a kernel runs when no Jupyter server told it (JPY_SESSION_NAME).

VS Code puts the path in the namespace (`__vsc_ipynb_file__`). `jupyter nbconvert --execute`
and nbclient say nothing but start the kernel in the notebook's folder, and send the cells'
code: the notebook is the one `.ipynb` there holding every cell this kernel has run."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

VSCODE_NAME = "__vsc_ipynb_file__"
NBCONVERT_SUFFIX = ".nbconvert.ipynb"
# A folder with more notebooks than this, or a notebook larger than this, is not searched:
# the search runs in the kernel before a cell, and must stay quick.
MAX_NOTEBOOKS = 200
MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024


def vscode_notebook(user_ns: Mapping[str, Any]) -> Path | None:
    """The notebook VS Code's kernel runs, if VS Code said so and it exists."""
    given = user_ns.get(VSCODE_NAME)
    if not isinstance(given, str) or not given.endswith(".ipynb"):
        return None
    path = Path(given)
    return path.resolve() if path.is_absolute() and path.is_file() else None


@dataclass
class CellMatcher:
    """Finds the notebook in `folder` holding the cell a kernel is about to run, telling
    copies apart by the other cells it ran."""

    folder: Path
    _cache: dict[Path, tuple[tuple[int, int], frozenset[str]]] = field(default_factory=dict)

    def find(self, current: str, history: list[str]) -> Path | None:
        """The one notebook holding `current`: of several, the ones holding the most of
        `history`, then an input rather than the copy written from it
        (`NAME.nbconvert.ipynb`), then the one whose sidecar exists; else None."""
        cell = current.strip()
        if not cell:
            return None
        try:
            notebooks = sorted(p for p in self.folder.glob("*.ipynb") if p.is_file())
        except OSError:
            return None
        if len(notebooks) > MAX_NOTEBOOKS:
            return None
        cells = {p: self._cells(p) for p in notebooks}
        found = [p for p in notebooks if cell in cells[p]]
        if len(found) > 1:
            seen = {h.strip() for h in history if h.strip()}
            best = max(len(seen & cells[p]) for p in found)
            found = [p for p in found if len(seen & cells[p]) == best]
        if len(found) > 1:
            names = {p.name for p in found}
            found = [p for p in found if not _copy_of_one(p.name, names)]
        if len(found) > 1:
            with_sidecar = [p for p in found if p.with_suffix(".mn").is_dir()]
            found = with_sidecar if len(with_sidecar) == 1 else found
        return found[0].resolve() if len(found) == 1 else None

    def _cells(self, path: Path) -> frozenset[str]:
        try:
            st = path.stat()
            stamp = (st.st_mtime_ns, st.st_size)
            cached = self._cache.get(path)
            if cached is not None and cached[0] == stamp:
                return cached[1]
            if st.st_size > MAX_NOTEBOOK_BYTES:
                return frozenset()
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError):
            return frozenset()
        cells = data.get("cells") if isinstance(data, dict) else None
        found = frozenset(
            _text(c.get("source")).strip()
            for c in (cells if isinstance(cells, list) else [])
            if isinstance(c, dict) and c.get("cell_type") == "code"
        )
        self._cache[path] = (stamp, found)
        return found


def _text(source: object) -> str:
    if isinstance(source, list):
        return "".join(s for s in source if isinstance(s, str))
    return source if isinstance(source, str) else ""


def kernel_cwd() -> Path:
    try:
        return Path(os.getcwd())
    except OSError:
        return Path(".")


def _copy_of_one(name: str, names: set[str]) -> bool:
    """`NAME.nbconvert.ipynb` beside `NAME.ipynb`: nbconvert's output of that input."""
    return name.endswith(NBCONVERT_SUFFIX) and name[: -len(NBCONVERT_SUFFIX)] + ".ipynb" in names
