"""A step body is compiled like the user's own cell: none of our modules' `__future__`
imports leak into it."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..helpers import run, value
from ..kernels import Kernel

pytestmark = pytest.mark.kernel


def test_step_annotations_are_evaluated_like_in_a_plain_cell(workdir: Path) -> None:
    kernel = Kernel(workdir)
    try:
        run(kernel, "%load_ext mirrorneuron_nb")
        run(
            kernel,
            "%%mn_step types\nfrom typing import TypedDict\nclass Row(TypedDict):\n    n: int\n",
        )
        assert value(kernel, "Row.__annotations__['n']") == "<class 'int'>"
        run(kernel, "%%mn_step fn\ndef f(x: int) -> str:\n    return str(x)\n")
        assert value(kernel, "f.__annotations__") == "{'x': <class 'int'>, 'return': <class 'str'>}"
        # A user's own `from __future__ import annotations` does apply to later steps.
        run(kernel, "from __future__ import annotations")
        run(kernel, "%%mn_step later\ndef g(x: int) -> None:\n    pass\n")
        assert value(kernel, "g.__annotations__") == "{'x': 'int', 'return': 'None'}"
    finally:
        kernel.shutdown()
