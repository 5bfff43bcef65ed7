"""Sidecars built by a real kernel, then damaged the way a failing disk or a careless
`rm` would: shared by the storage fault tests."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from mirrorneuron_nb.store import Store

from ..helpers import run
from ..kernels import Kernel

# Small values live in the database; the array is a blob file of its own.
CELLS = [
    "%%mn_step load\nimport numpy as np\narr = np.arange(100_000, dtype=np.float64)\n",
    *(f"%%mn_step s{i}\nv{i} = list(range({i} * 300))\nt{i} = 'x' * {i * 50}\n" for i in range(8)),
]
CHECK = "(float(arr.sum()), len(v7), t7[-1], v3[-1])"
GOOD = "(4999950000.0, 2100, 'x', 899)"


def build(workdir: Path) -> Path:
    """A notebook whose steps all ran in a real kernel; returns the notebook."""
    notebook = workdir / "nb.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell(c) for c in CELLS]), notebook)
    kernel = Kernel(workdir, env={"JPY_SESSION_NAME": str(notebook)})
    try:
        run(kernel, "%load_ext mirrorneuron_nb")
        for cell in CELLS:
            run(kernel, cell)
    finally:
        kernel.shutdown()
    return notebook


def copy(notebook: Path, to: Path) -> Path:
    """The notebook and its sidecar, copied to a directory of their own."""
    to.mkdir()
    shutil.copy(notebook, to / notebook.name)
    shutil.copytree(notebook.with_suffix(".mn"), to / notebook.with_suffix(".mn").name)
    return to / notebook.name


def fold_log(sidecar: Path) -> None:
    """Checkpoint the write-ahead log into state.sqlite, as SQLite does now and then."""
    conn = sqlite3.connect(sidecar / "state.sqlite")
    try:
        busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        assert busy == 0
    finally:
        conn.close()


def damage_middle_page(sidecar: Path) -> int:
    """Overwrite a page in the middle of state.sqlite with garbage; returns its number."""
    db = sidecar / "state.sqlite"
    data = bytearray(db.read_bytes())
    pages = len(data) // 4096
    assert pages >= 8, pages
    page = pages // 2
    data[(page - 1) * 4096 : page * 4096] = b"\xff" * 4096
    with open(db, "r+b") as fh:  # in place: the same file, as a disk error would leave it
        fh.write(bytes(data))
    return page


def database_bytes(sidecar: Path) -> dict[str, bytes]:
    """The database file and its log, to compare before and after (nothing written). A
    missing log is an empty one: a reader opening the database creates it empty."""
    return {
        name: (sidecar / name).read_bytes() if (sidecar / name).exists() else b""
        for name in ("state.sqlite", "state.sqlite-wal")
    }


def blob_key(sidecar: Path, step: str, name: str) -> str:
    store = Store(sidecar, readonly=True)
    try:
        found = store.step(step)
        assert found is not None and found.checkpoint_id is not None
        var = next(v for v in store.variables(found.checkpoint_id) if v.name == name)
        return var.buffers[0][0]
    finally:
        store.close()


def blob_path(sidecar: Path, key: str) -> Path:
    return sidecar / "blobs" / key[:2] / key[2:]


def one_line(text: str) -> str:
    """The single line of an error output (asserting there is one)."""
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]
