"""Build a real sidecar with a real kernel, then play the attacker on its rows."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from ..helpers import run
from ..kernels import Kernel

# Columns that hold a stored value (and its signature) in checkpoint_vars.
VALUE_COLUMNS = (
    "type_name, fingerprint, serializer, size, header, stream_blob, buffers, signature,"
    " stream_size, stream_hash"
)


def write_notebook(path: Path, cells: list[str]) -> Path:
    nbformat.write(new_notebook(cells=[new_code_cell(c) for c in cells]), path)
    return path


@contextmanager
def kernel_for(notebook: Path, key: Path | None = None) -> Iterator[Kernel]:
    env = {"JPY_SESSION_NAME": str(notebook)}
    if key is not None:
        env["MIRRORNEURON_KEY_FILE"] = str(key)
    kernel = Kernel(notebook.parent, env=env)
    try:
        run(kernel, "%load_ext mirrorneuron_nb")
        yield kernel
    finally:
        kernel.shutdown()


def build(notebook: Path, cells: list[str], key: Path | None = None) -> Path:
    """Run every cell of a new notebook in a real kernel; return its sidecar."""
    write_notebook(notebook, cells)
    with kernel_for(notebook, key) as kernel:
        for cell in cells:
            run(kernel, cell)
    return notebook.with_suffix(".mn")


def db(sidecar: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(sidecar / "state.sqlite", isolation_level=None)
    conn.row_factory = sqlite3.Row
    return conn


def var_rowid(conn: sqlite3.Connection, step: str, name: str) -> int:
    """The row of `name` in `step`'s current checkpoint."""
    row = conn.execute(
        "SELECT v.rowid FROM checkpoint_vars v JOIN steps s ON s.checkpoint_id = v.checkpoint_id"
        " WHERE s.name=? AND v.name=?",
        (step, name),
    ).fetchone()
    assert row is not None, (step, name)
    return int(row[0])


def copy_value(
    src: sqlite3.Connection, src_row: int, dst: sqlite3.Connection, dst_row: int
) -> None:
    """Overwrite one value row with another's value and signature (the attacker's copy)."""
    present = {r[1] for r in dst.execute("PRAGMA table_info(checkpoint_vars)")}
    columns = [c.strip() for c in VALUE_COLUMNS.split(",") if c.strip() in present]
    values = src.execute(
        f"SELECT {', '.join(columns)} FROM checkpoint_vars WHERE rowid=?", (src_row,)
    )
    row = tuple(values.fetchone())
    sets = ", ".join(f"{c}=?" for c in columns)
    dst.execute(f"UPDATE checkpoint_vars SET {sets} WHERE rowid=?", (*row, dst_row))


def counter(name: str) -> str:
    """Body lines that append one character to a counter file, binding nothing (an
    expression statement would be the cell's value if last: these never are)."""
    return f"with open({name!r}, 'a') as _fh:\n    _fh.write('x')\ndel _fh\n"


def runs(workdir: Path, name: str) -> int:
    path = workdir / name
    return len(path.read_text()) if path.exists() else 0
