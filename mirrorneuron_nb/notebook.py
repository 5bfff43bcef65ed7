"""The step-cell grammar (`%%mn_step NAME [options]` + body) and reading a saved notebook's
step cells: their order, cell ids and code. The one definition of a step cell and its name
(labextension/src/notebook.ts mirrors `split_cell` and `step_name`)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .errors import InvalidInput
from .values.digest import text_digest

STEP_MAGIC = "%%mn_step"
NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,127}$")
CELL_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
"""An nbformat 4.5 cell id."""


@dataclass(frozen=True)
class StepCell:
    name: str
    position: int
    cell_id: str | None
    body: str


def validate_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise InvalidInput(
            f"invalid step name {name!r}: use letters, digits, '_' and '-' (at most 128)"
        )
    return name


def split_cell(source: str) -> tuple[str, str] | None:
    """(magic line arguments, body) for a `%%mn_step` cell, else None."""
    stripped = source.lstrip()
    if not stripped.startswith(STEP_MAGIC):
        return None
    line, _, body = stripped.partition("\n")
    rest = line[len(STEP_MAGIC) :]
    if rest and not rest[0].isspace():
        return None
    return rest.strip(), body


def step_name(source: str) -> str | None:
    """The NAME of a `%%mn_step NAME ...` cell as written (not validated), else None."""
    parsed = split_cell(source)
    if parsed is None or not parsed[0]:
        return None
    return parsed[0].split()[0]


def step_cells(path: Path) -> list[StepCell]:
    """The step cells in notebook order. An unreadable notebook yields no cells."""
    try:
        stat = path.stat()
    except OSError:
        return []
    return list(_step_cells(path, stat.st_mtime_ns, stat.st_size))


@lru_cache(maxsize=8)
def _step_cells(path: Path, mtime_ns: int, size: int) -> tuple[StepCell, ...]:
    # Keyed on mtime and size: a step runs often, the notebook is saved rarely.
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return ()
    # Any JSON can sit in a .ipynb file: what is not shaped like a notebook has no steps.
    cells = data.get("cells") if isinstance(data, dict) else None
    out: list[StepCell] = []
    for cell in cells if isinstance(cells, list) else []:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        text = "".join(map(str, source)) if isinstance(source, list) else source
        name = step_name(text) if isinstance(text, str) else None
        parsed = split_cell(text) if name is not None else None
        if name is None or parsed is None:
            continue
        cell_id = cell.get("id")
        out.append(
            StepCell(name, len(out), cell_id if isinstance(cell_id, str) else None, parsed[1])
        )
    return tuple(out)


def duplicates(cells: list[StepCell]) -> list[str]:
    seen: set[str] = set()
    dup: list[str] = []
    for cell in cells:
        if cell.name in seen and cell.name not in dup:
            dup.append(cell.name)
        seen.add(cell.name)
    return dup


def code_hash(body: str) -> str:
    """Hash of a step body, blind to surrounding blank lines and trailing spaces
    (IPython hands a cell magic its body with a newline the saved cell lacks)."""
    lines = [line.rstrip() for line in body.strip("\n").splitlines()]
    return text_digest("\n".join(lines).strip("\n"))
