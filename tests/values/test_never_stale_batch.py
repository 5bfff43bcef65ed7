"""The issue's scenario end to end: `mn-nb run` of an unchanged notebook a second time
runs nothing, and `mn-nb status` shows no step stale, for the values that used to get a
new fingerprint from every checkpoint round trip (each run is a new kernel)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from ..helpers import mn


def _count(name: str) -> str:
    return f"open('counts.txt', 'a').write('{name}\\n')\n"


MAKE = """%%mn_step make
import dataclasses, enum
import numpy as np
import pandas as pd
from pydantic import BaseModel

class Bunch(dict):
    def __init__(self, **kw):
        super().__init__(kw)
        self.__dict__['_warnings'] = {}
    def __getattr__(self, key):
        return self[key]
    def __setstate__(self, state):
        pass

@dataclasses.dataclass
class Config:
    lr: float
    tags: set

class Kind(enum.Enum):
    A = 1

class User(BaseModel):
    name: str
    roles: set[str] = set()

class Slotted:
    __slots__ = ('a', 'b')
    def __init__(self, a, b):
        self.a, self.b = a, b

data = np.arange(600.0).reshape(150, 4)
iris = Bunch(data=data, view=data[:, ::2], target=np.arange(150) % 3)
config = Config(0.1, {'alpha', 'beta', 'gamma'})
kind = Kind.A
user = User(name='ada', roles={'admin', 'dev', 'ops'})
slotted = Slotted(1, [2])
small = np.arange(40.0).reshape(5, 8)[:, ::2]
frame = pd.DataFrame({'c': pd.Categorical(list('xyz') * 10), 'n': pd.array([1, None, 3] * 10)})
shared = {'x': data, 'y': data}
"""

USE = """%%mn_step use
total = (iris.view.sum(), config.lr, kind.value, user.name, slotted.a, small.sum(),
         len(frame), shared['y'].shape)
"""

# No notebook class: every value was checkpointed before too, yet `use` ran again.
MAKE_PLAIN = """%%mn_step make
import numpy as np
data = np.arange(600.0).reshape(150, 4)
small = data[:5, ::2]
shared = {'x': data, 'y': data, 'words': {'alpha', 'beta', 'gamma'}}
"""

USE_PLAIN = """%%mn_step use
total = (small.sum(), shared['y'].shape, len(shared['words']))
"""


def write_notebook(path: Path, make: str, use: str) -> None:
    cells = [
        new_code_cell("%load_ext mirrorneuron_nb"),
        new_code_cell(make + _count("make")),
        new_code_cell(use + _count("use")),
    ]
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": kernelspec}), path)


def counts(workdir: Path) -> Counter[str]:
    path = workdir / "counts.txt"
    return Counter(path.read_text().split()) if path.exists() else Counter()


@pytest.mark.parametrize(
    ("make", "use"), [(MAKE, USE), (MAKE_PLAIN, USE_PLAIN)], ids=["notebook-classes", "plain"]
)
def test_a_second_run_of_an_unchanged_notebook_runs_nothing_and_nothing_is_stale(
    workdir: Path, make: str, use: str
) -> None:
    write_notebook(workdir / "nb.ipynb", make, use)
    for _ in range(2):
        done = mn("run", "nb.ipynb", cwd=workdir)
        assert done.returncode == 0, done.stdout + done.stderr
    assert counts(workdir) == Counter(make=1, use=1)

    status = json.loads(mn("status", "nb.ipynb", "--json", cwd=workdir).stdout)
    states = {s["name"]: (s["status"], s["stale_reason"]) for s in status["steps"]}
    assert set(states) == {"make", "use"}
    assert all(st != "stale" and reason is None for st, reason in states.values()), states
