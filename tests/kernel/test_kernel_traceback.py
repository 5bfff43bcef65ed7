"""What the user sees when a step body raises: the step's own lines, shown as its cell's,
and no frame holding the escaped cell text."""

from __future__ import annotations

import re

import pytest

from ..kernels import Kernel

pytestmark = pytest.mark.kernel

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def traceback_of(kernel: Kernel, code: str) -> str:
    out = kernel.run(code, check=False)
    assert out.error is not None
    return ANSI.sub("", "\n".join(out.error["traceback"]))


def test_a_failing_body_points_at_its_own_line(kernel: Kernel) -> None:
    tb = traceback_of(kernel, "%%mn_step s\nx = 1\n1/0")
    assert "run_cell_magic" not in tb and "mn_step_async" not in tb, tb
    assert "Cell In[2], line 2" in tb, tb  # the body's lines, numbered as before
    assert "----> 2 1/0" in tb and "      1 x = 1" in tb, tb
    assert tb.rstrip().endswith("ZeroDivisionError: division by zero")


def test_frames_below_the_body_are_kept_and_awaiting_bodies_too(kernel: Kernel) -> None:
    kernel.run("def helper(v):\n    return v['missing']")  # In[2]
    tb = traceback_of(kernel, "%%mn_step t\ny = helper({})\n")
    assert "run_cell_magic" not in tb, tb
    assert "Cell In[3], line 1" in tb and "----> 1 y = helper({})" in tb, tb
    assert "Cell In[2], line 2" in tb and "return v['missing']" in tb, tb

    tb = traceback_of(
        kernel, "%%mn_step u\nimport asyncio\nawait asyncio.sleep(0)\nraise KeyError('k')"
    )
    assert "mn_step_async" not in tb and "run_cell_magic" not in tb, tb
    assert "Cell In[4], line 3" in tb and "----> 3 raise KeyError('k')" in tb, tb
