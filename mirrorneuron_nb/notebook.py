"""The step-cell grammar (`%%mn_step NAME [options]` + body) and reading a saved notebook's
step cells: their order, cell ids and code. The one definition of a step cell and its name
(labextension/src/notebook.ts mirrors `split_cell` and `step_name`)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

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
    line: str = ""
    """The `%%mn_step` line's arguments: the name as written, then the options."""
    cell: int = -1
    """The cell's index among all the notebook's cells (0-based)."""

    @property
    def name_error(self) -> str | None:
        """Why the magic refuses this cell's name (it is then no step), else None."""
        try:
            validate_name(self.name)
        except InvalidInput as exc:
            return str(exc)
        return None


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
    return list(notebook_steps(path).cells)


@dataclass(frozen=True)
class NotebookSteps:
    """A notebook's step cells, and what a step asks of them before it runs (computed once
    per saved version: a kernel asks before every step)."""

    cells: tuple[StepCell, ...]
    positions: dict[str, int]
    duplicates: frozenset[str]


NO_STEPS = NotebookSteps((), {}, frozenset())
"""An unreadable notebook's, or no notebook's."""


def notebook_steps(path: Path) -> NotebookSteps:
    """The step cells of the notebook as saved now (one `stat`); none if unreadable."""
    try:
        stat = path.stat()
    except OSError:
        return NO_STEPS
    return _notebook_steps(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _notebook_steps(path: Path, mtime_ns: int, size: int) -> NotebookSteps:
    # Keyed on mtime and size: a step runs often, the notebook is saved rarely.
    cells = _step_cells(path)
    positions = {c.name: c.position for c in cells}
    return NotebookSteps(cells, positions, frozenset(duplicates(list(cells))))


def _step_cells(path: Path) -> tuple[StepCell, ...]:
    try:
        cells = _cells(read_notebook(path))
    except InvalidInput:
        return ()
    out: list[StepCell] = []
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(s, str) for s in source):
            source = "".join(source)
        if not isinstance(source, str):
            continue
        name = step_name(source)
        parsed = split_cell(source)
        if name is None or parsed is None:
            continue
        cell_id = cell.get("id")
        out.append(
            StepCell(
                name,
                len(out),
                cell_id if isinstance(cell_id, str) else None,
                parsed[1],
                parsed[0],
                index,
            )
        )
    return tuple(out)


def valid_cells(cells: list[StepCell]) -> list[StepCell]:
    """The cells that are steps: an invalid name is refused by the magic, never a step."""
    return [c for c in cells if NAME_RE.match(c.name)]


def invalid_cells(cells: list[StepCell]) -> list[StepCell]:
    """The `%%mn_step` cells whose name the magic refuses (each one's `name_error` says why)."""
    return [c for c in cells if not NAME_RE.match(c.name)]


def read_notebook(path: Path) -> dict[str, Any]:
    """The notebook's JSON, checked to be a notebook (an object with a list of cells);
    InvalidInput naming what is wrong otherwise."""
    if path.is_dir():
        raise InvalidInput(f"{path} is a directory, not a notebook")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(f"no such notebook: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read notebook {path}: {_reason(exc)}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:  # JSONDecodeError, and RecursionError's cousins in json
        raise InvalidInput(f"{path} is not a notebook: not JSON ({exc})") from None
    except RecursionError:
        raise InvalidInput(f"{path} is not a notebook: its JSON is nested too deeply") from None
    if not isinstance(data, dict):
        raise InvalidInput(
            f"{path} is not a notebook: its JSON is {_kind(data)}, not an object with cells"
        )
    _cells(data, path)
    return data


def _cells(data: dict[str, Any], path: Path | None = None) -> list[Any]:
    cells = data.get("cells")
    if not isinstance(cells, list):
        where = f"{path} is not a notebook: " if path else ""
        raise InvalidInput(f"{where}it has no list of cells")
    return cells


def _kind(value: object) -> str:
    names = {list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def _reason(exc: BaseException) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)


def duplicates(cells: list[StepCell]) -> list[str]:
    seen: set[str] = set()
    dup: list[str] = []
    for cell in cells:
        if cell.name in seen and cell.name not in dup:
            dup.append(cell.name)
        seen.add(cell.name)
    return dup


@lru_cache(maxsize=256)  # a step's plan hashes its body on every run of the cell
def code_hash(body: str) -> str:
    """Hash of a step body, blind to surrounding blank lines and trailing spaces
    (IPython hands a cell magic its body with a newline the saved cell lacks)."""
    lines = [line.rstrip() for line in body.strip("\n").splitlines()]
    return text_digest("\n".join(lines).strip("\n"))
