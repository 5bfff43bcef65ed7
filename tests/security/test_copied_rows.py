"""A signed value copied into another row is refused, naming the row: signatures bind a
value to its sidecar, step and variable name."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..helpers import not_restored, run, value
from ..messages import UNTRUSTED
from .sidecars import build, copy_value, db, kernel_for, var_rowid

pytestmark = [pytest.mark.kernel]

A = "%%mn_step a\nx = {'v': 'a'}\ny = [2]\ns = 'mine'\n"
B = "%%mn_step b\nx = {'v': 'b'}\n"
OTHER = "%%mn_step a\nx = {'v': 'other'}\ny = [3]\ns = 'theirs'\n"


def test_copied_rows_are_refused_with_their_name(workdir: Path) -> None:
    notebook = workdir / "nb.ipynb"
    sidecar = build(notebook, [A, B])
    other = build(workdir / "other.ipynb", [OTHER])  # another sidecar of the same user
    with db(sidecar) as conn, db(other) as theirs:
        # Another variable's value: a's x into a's y.
        copy_value(conn, var_rowid(conn, "a", "x"), conn, var_rowid(conn, "a", "y"))
        # Another step's value of the same name: a's x into b's x (b's is the current x).
        copy_value(conn, var_rowid(conn, "a", "x"), conn, var_rowid(conn, "b", "x"))
        # Another sidecar's value of the same step and name.
        copy_value(theirs, var_rowid(theirs, "a", "s"), conn, var_rowid(conn, "a", "s"))
    with kernel_for(notebook) as kernel:
        report = run(kernel, "%mn_resume").stdout
        missing = not_restored(report)
        assert set(missing) == {"x", "y", "s"}, report
        assert "step 'b', variable 'x'" in missing["x"], report
        assert "step 'a', variable 'y'" in missing["y"], report
        assert "step 'a', variable 's'" in missing["s"], report
        assert all(UNTRUSTED in reason for reason in missing.values()), report
        assert value(kernel, "[n for n in ('x', 'y', 's') if n in globals()]") == "[]"
        # A cache hit refuses the same rows: the step runs and writes its own values.
        out = run(kernel, A)
        assert "checkpoint unusable" in out.stderr, out.stderr
        assert value(kernel, "(x, y, s)") == "({'v': 'a'}, [2], 'mine')"


def test_an_inserted_deletion_row_removes_nothing(workdir: Path) -> None:
    """A `deleted` row carries no value signature: only its checkpoint's signature vouches
    for it, so one added to a checkpoint is ignored and the name comes back."""
    notebook = workdir / "nb.ipynb"
    sidecar = build(notebook, [A, "%%mn_step c\nz = 1\n"])
    with db(sidecar) as conn:
        checkpoint = conn.execute("SELECT checkpoint_id FROM steps WHERE name='c'").fetchone()[0]
        conn.execute(
            "INSERT INTO checkpoint_vars(checkpoint_id, name, type_name, serializer)"
            " VALUES (?, 'y', '-', 'deleted')",
            (checkpoint,),
        )
    with kernel_for(notebook) as kernel:
        report = run(kernel, "%mn_resume").stdout
        assert "restored 4 variable(s)" in report, report
        assert value(kernel, "(x, y, s, z)") == "({'v': 'a'}, [2], 'mine', 1)"
