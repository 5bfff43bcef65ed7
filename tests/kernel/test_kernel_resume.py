"""Real-kernel tests of %mn_resume: values come back equal after a restart, in notebook order,
mutations included; what cannot come back is named; foreign checkpoints are never loaded."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ..helpers import checks as shared_checks
from ..helpers import fresh, not_restored, run, runs_of, sidecar, tick, value
from ..kernels import Kernel
from ..messages import RESTORED, UNTRUSTED, UNUSABLE

pytestmark = pytest.mark.kernel


def checks(kernel: Kernel, code: str) -> dict[str, bool]:
    return shared_checks(kernel, code, as_bool=True)


# -- 2. values of every common kind come back equal --------------------------------------

STEPS = [
    """%%mn_step arrays
import numpy as np
grid = np.arange(12.0).reshape(3, 4)
fortran = np.asfortranarray(np.arange(60_000, dtype=np.int64).reshape(200, 300) * 3)
people = np.array([(1, 2.5, b'ab'), (2, -1.0, b'cd'), (3, 7.25, b'ef')],
                  dtype=[('id', '<i4'), ('score', '<f8'), ('tag', 'S2')])
""",
    """%%mn_step frames
import pandas as pd
df = pd.DataFrame({
    'name': [f'n{i % 7}' for i in range(1000)],
    'mixed': pd.Series([i if i % 3 else str(i) for i in range(1000)], dtype=object),
    'x': np.arange(1000),
    'y': np.linspace(0.0, 1.0, 1000),
})
totals = df.groupby('name').agg(total=('x', 'sum'), mean_y=('y', 'mean'))
""",
    """%%mn_step records
records = [{'i': i, 'name': f'r{i}', 'v': i * 0.5, 'tags': [i, -i]} for i in range(10_000)]
by_name = {r['name']: r for r in records[:5000]}
""",
    """%%mn_step code
def scale(v):
    return v * factor + offset(v)

def offset(v):
    return 1

class Point:
    dims = 2

    def __init__(self, x, y):
        self.x, self.y = x, y

    def norm2(self):
        return self.x ** 2 + self.y ** 2

points = [Point(i, i + 1) for i in range(3)]
origin = Point(0, 0)
""",
    "%%mn_step later\nfactor = 3\n",
]

EXPECTED = """import pickle
with open('expected.pkl', 'wb') as _fh:
    pickle.dump({'grid': grid, 'fortran': fortran, 'people': people, 'df': df,
                 'totals': totals, 'records': records, 'by_name': by_name}, _fh)
del _fh
"""

COMPARE = """import pickle, sys
import numpy
import pandas
with open('expected.pkl', 'rb') as _fh:
    e = pickle.load(_fh)
checks = {
    'grid': numpy.array_equal(grid, e['grid']) and grid.dtype == e['grid'].dtype,
    'fortran': numpy.array_equal(fortran, e['fortran']) and fortran.flags.f_contiguous
        and not fortran.flags.c_contiguous and fortran.dtype == e['fortran'].dtype,
    'people': people.dtype == e['people'].dtype and numpy.array_equal(people, e['people']),
    'df': df.equals(e['df']) and list(df.dtypes) == list(e['df'].dtypes)
        and list(df['mixed']) == list(e['df']['mixed']),
    'totals': totals.equals(e['totals']) and list(totals.index) == list(e['totals'].index),
    'records': records == e['records'],
    'by_name': by_name == e['by_name'],
    'np': np is numpy and np is sys.modules['numpy'],
    'pd': pd is pandas,
    'scale': scale(5) == 16,
    'classes': isinstance(origin, Point) and all(isinstance(p, Point) for p in points)
        and points[2].norm2() == 13 and Point.dims == 2 and Point(3, 4).norm2() == 25,
    'writable': (grid.__setitem__((0, 0), -1.0), grid[0, 0] == -1.0)[1],
}
"""


def test_resume_after_restart_restores_every_kind_of_value(kernel: Kernel) -> None:
    for cell in STEPS:
        run(kernel, cell)
    run(kernel, EXPECTED)
    before = checks(kernel, COMPARE)
    assert all(before.values()), before  # the comparison itself holds before the restart

    fresh(kernel)
    assert value(kernel, "'df' in globals()") == "False"
    report = run(kernel, "%mn_resume").stdout
    assert "from 5 step(s)" in report, report
    assert "not restored" not in report, report
    after = checks(kernel, COMPARE)
    assert all(after.values()), after


ORDERED = [
    "%%mn_step zeta\nx = 1\ny = 'a'\n",
    "%%mn_step alpha\nx = 2\nz = 'b'\n",
    "%%mn_step mid\nw = x * 10\n",
]


def test_resume_to_restores_steps_up_to_name_in_notebook_order(kernel: Kernel) -> None:
    for cell in ORDERED:  # execution order, not name order, is the notebook order here
        run(kernel, cell)

    fresh(kernel)
    report = run(kernel, "%mn_resume --to alpha").stdout
    assert "restored 3 variable(s) from 2 step(s)" in report, report
    assert value(kernel, "(x, y, z, 'w' in globals())") == "(2, 'a', 'b', False)"

    fresh(kernel)
    report = run(kernel, "%mn_resume --to zeta").stdout
    assert "restored 2 variable(s) from 1 step(s)" in report, report
    assert value(kernel, "(x, y, 'z' in globals(), 'w' in globals())") == "(1, 'a', False, False)"

    fresh(kernel)
    report = run(kernel, "%mn_resume").stdout
    assert "from 3 step(s)" in report, report
    assert value(kernel, "(x, y, z, w)") == "(2, 'a', 'b', 20)"  # alpha's x overrides zeta's


# -- 3. in-place mutations are checkpointed ----------------------------------------------


def test_values_mutated_in_place_come_back_mutated(kernel: Kernel) -> None:
    run(
        kernel,
        """%%mn_step make
import numpy as np
import pandas as pd
arr = np.arange(5.0)
mat = np.zeros((200, 100))
lst = [1, 2]
df = pd.DataFrame({'a': [1, 2, 3]})
d = {'k0': 0}
rows = []

def add(item):
    rows.append(item)
""",
    )
    run(
        kernel,
        "%%mn_step mutate\narr *= 2\nmat[0, 0] = -1.0\nlst.append(3)\n"
        "df['c'] = df['a'] * 10\nd['k'] = 'v'\n",
    )
    # `rows` is never named in this step: it is read through add's globals.
    run(kernel, "%%mn_step helper\nadd(7)\nadd(8)\n")

    fresh(kernel)
    report = run(kernel, "%mn_resume").stdout
    assert "not restored" not in report, report
    got = checks(
        kernel,
        "checks = {\n"
        " 'arr': arr.tolist() == [0.0, 2.0, 4.0, 6.0, 8.0],\n"
        " 'mat': mat[0, 0] == -1.0 and mat.sum() == -1.0,\n"
        " 'lst': lst == [1, 2, 3],\n"
        " 'df': list(df.columns) == ['a', 'c'] and df['c'].tolist() == [10, 20, 30],\n"
        " 'd': d == {'k0': 0, 'k': 'v'},\n"
        " 'rows': rows == [7, 8],\n"
        "}",
    )
    assert all(got.values()), got


# -- 5. values that cannot be checkpointed are named -------------------------------------

UNPICKLABLE = {
    "gen": "cannot pickle 'generator' object",
    "sock": "cannot pickle 'socket' object",
    "lock": "cannot pickle '_thread.lock' object",
    "fh": "cannot pickle '_io.TextIOWrapper' object",
    "bad": "RuntimeError: no reduce for you",
}


def test_unpicklable_values_are_named_and_the_rest_restores(kernel: Kernel, workdir: Path) -> None:
    out = run(
        kernel,
        """%%mn_step odd
import socket
import threading
gen = (i * i for i in range(3))
sock = socket.socket()
lock = threading.Lock()
fh = open('data.txt', 'w')

class Refuses:
    def __reduce__(self):
        raise RuntimeError('no reduce for you')

bad = Refuses()
good = {'a': [1, 2, 3]}
label = 'kept'
""",
    )
    for name, reason in UNPICKLABLE.items():
        line = next(
            (ln for ln in out.stderr.splitlines() if ln.startswith(f"mn_step odd: '{name}' ")),
            None,
        )
        assert line is not None, out.stderr
        assert "was not checkpointed (" in line and reason in line, line

    # The sidecar keeps each reason, so other tools can show it too.
    conn = sqlite3.connect(sidecar(workdir) / "state.sqlite")
    try:
        errors = dict(
            conn.execute(
                "SELECT v.name, v.error FROM checkpoint_vars v"
                " JOIN steps s ON s.checkpoint_id = v.checkpoint_id"
                " WHERE s.name = 'odd' AND v.error IS NOT NULL"
            ).fetchall()
        )
    finally:
        conn.close()
    assert set(errors) == set(UNPICKLABLE), errors
    for name, reason in UNPICKLABLE.items():
        assert reason in errors[name]

    fresh(kernel)
    report = run(kernel, "%mn_resume").stdout
    missing = not_restored(report)
    assert set(missing) == set(UNPICKLABLE), report
    for name, reason in UNPICKLABLE.items():
        assert missing[name].startswith("(step odd):"), report
        assert reason in missing[name] and "re-run step 'odd'" in missing[name], report
    assert value(kernel, "(good, label, socket.__name__, threading.__name__)") == (
        "({'a': [1, 2, 3]}, 'kept', 'socket', 'threading')"
    )
    assert (
        value(
            kernel,
            "(Refuses.__name__, [n for n in UNPICKLED if n in globals()])".replace(
                "UNPICKLED", repr(sorted(UNPICKLABLE))
            ),
        )
        == "('Refuses', [])"
    )


# -- 11. a sidecar signed with another key is never loaded ---------------------------------


def test_checkpoints_signed_with_another_key_are_not_loaded(workdir: Path, hermetic: Path) -> None:
    cell = (
        "%%mn_step make\nimport numpy as np\n"
        + tick("make.txt")
        + "arr = np.arange(100_000)\nsmall = np.arange(3)\nconfig = {'lr': 0.1}\n"
    )
    mine = Kernel(workdir)
    try:
        run(mine, "%load_ext mirrorneuron_nb")
        run(mine, cell)
    finally:
        mine.shutdown()
    assert runs_of(workdir, "make.txt") == 1

    other_key = hermetic / "someone-else.key"
    other = Kernel(workdir, env={"MIRRORNEURON_KEY_FILE": str(other_key)})
    try:
        run(other, "%load_ext mirrorneuron_nb")
        report = run(other, "%mn_resume").stdout
        assert "restored 0 variable(s)" in report, report
        missing = not_restored(report)
        assert set(missing) == {"arr", "small", "config", "np"}, report
        for reason in missing.values():
            assert UNTRUSTED in reason, report
        assert value(other, "[n for n in ('arr', 'small', 'config', 'np') if n in globals()]") == (
            "[]"
        )
        # The step is not served from the untrusted checkpoint: its body runs.
        out = run(other, cell)
        assert RESTORED not in out.notes
        assert UNUSABLE in out.stderr and "signed" in out.stderr, out.stderr
        assert runs_of(workdir, "make.txt") == 2
        assert value(other, "(int(arr.sum()), config)") == "(4999950000, {'lr': 0.1})"
    finally:
        other.shutdown()
    assert other_key.exists()
