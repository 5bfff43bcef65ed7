"""Which cells can write into a value (readonly.py): read-only cells keep fingerprints,
everything else (unknown code, writes, aliases, magics, shadowed builtins) forgets them."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from mirrorneuron_nb.kernel.readonly import effects


@pytest.fixture
def ns() -> dict[str, Any]:
    return {
        "arr": np.zeros(3),
        "df": pd.DataFrame({"a": [1.0], "b": [2.0]}),
        "dicts": [{"v": 1}],
        "answer": {"n": 1},
        "name": "abc",
        "np": np,
        "f": lambda x: x,
        "obj": object(),
    }


READS = [
    "total = float(arr.sum()) + float(df['a'].mean()) + sum(d['v'] for d in dicts[:10])",
    "x = 1",
    "del x",
    "for x in dicts:\n    print(x['v'])",
    "df.groupby('a')['b'].sum()",
    "df.a.mean()",
    "y = np.mean(arr) + np.sum(arr, axis=0)",
    "y = sorted(dicts, key=lambda d: d['v'])",
    "answer.get('n')",
    "'-'.join(['a', name.upper()])",
    "import numpy as np2",  # already loaded: no module code runs
    "from numpy import ndarray",
    "def g(a):\n    a.append(1)",  # defined, not called
    "if len(arr) > 1:\n    y = arr[0]\nelse:\n    y = None",
    "try:\n    y = arr[10]\nexcept IndexError:\n    y = 0",
]

WRITES = [
    ("arr *= 2", "AugAssign"),
    ("dicts.append(1)", "append"),
    ("f(arr)", "f()"),
    ("obj.run()", "object"),
    ("exec('arr[0] = 1')", "exec()"),
    ("get_ipython().run_cell_magic('time', '', 'arr *= 2')", "computed"),
    ("np.abs(arr, arr)", "out="),
    ("arr.sum(0, None, arr)", "out="),
    ("np.add(arr, 1, out=arr)", "out="),
    ("df.fillna(0, inplace=True)", "inplace="),
    ("sorted(dicts, key=f)", "key="),
    ("arr[0] = 1", "assigned"),
    ("df.a = 1", "assigned"),
    ("del dicts[0]", "assigned"),
    ("globals()['arr'] = 1", "assigned"),
    ("len = max\nlen(arr)", "len()"),
    ("df.apply(f)", "f is code"),
    ("answer.update({})", "update"),
    ("list.append(dicts, 1)", "type"),  # a builtin type's method, called through the type
    ("dict.update(answer, n=2)", "type"),
    ("[d.get('v') for d in dicts]", "computed value"),
    ("with open('x') as fh:\n    pass", "With"),
    ("class A:\n    pass", "ClassDef"),
    ("@f\ndef g():\n    pass", "decorator"),
    ("next(iter(dicts))", "next()"),
    ("x = [1]\nx.append(2)", "binds"),
    ("from os import *", "star"),
    ("import a_module_that_is_not_loaded_yet", "runs its code"),
]


@pytest.mark.parametrize("code", READS)
def test_cells_that_only_read(code: str, ns: dict[str, Any]) -> None:
    assert effects(code).mutation(ns) is None


@pytest.mark.parametrize(("code", "why"), WRITES)
def test_cells_that_may_write(code: str, why: str, ns: dict[str, Any]) -> None:
    found = effects(code).mutation(ns)
    assert found is not None and why in found, found


def test_method_allowlist_is_by_exact_type(ns: dict[str, Any]) -> None:
    class Frame(pd.DataFrame):
        pass

    cell = effects("df.sum()")
    assert cell.mutation(ns) is None
    assert cell.mutation({**ns, "df": Frame({"a": [1]})}) is not None  # a subclass: unknown
    assert effects("len(arr)").mutation({**ns, "len": print}) is not None  # shadowed


def test_binds() -> None:
    assert effects("x = 1\ny, *z = [1, 2]\ndel w").binds == {"x", "y", "z", "w"}
    assert effects("x = = 1").impure is not None


def test_a_module_the_cell_imports_is_called_like_a_loaded_one(ns: dict[str, Any]) -> None:
    # issue 13: an API cell (`import time`, `time.sleep(...)`) made every fingerprint be
    # taken again by the next step.
    assert effects("import time\ntime.sleep(0)\nanswer = {'n': 42}").mutation(ns) is None
    assert effects("import numpy as np2\ny = np2.mean(arr)").mutation(ns) is None
    assert effects("import numpy.linalg\ny = numpy.linalg.norm(arr)").mutation(ns) is not None
    assert "write" in str(effects("import os\nos.remove('x')").mutation(ns))
    # Bound another way too, or used before the import while the name is something else.
    assert effects("import time\ntime = obj\ntime.sleep(0)").mutation(ns) is not None
    assert effects("for time in [1]:\n    pass\nimport time\ntime.sleep(0)").mutation(ns)
    assert effects("import time\ntime.sleep(0)").mutation({**ns, "time": ns["obj"]})
    assert effects("import time\nimport os as time\ntime.sleep(0)").mutation(ns) is not None
    assert effects("import a_module_that_is_not_loaded_yet as m\nm.f()").mutation(ns)
