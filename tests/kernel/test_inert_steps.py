"""A step whose body runs no code but its own (`x = 1`) skips the library-state readings
(inert.py); every other body, and one that would release an object by rebinding a name,
still has them, so what a step sets is still captured."""

from __future__ import annotations

from typing import Any

import pytest

from mirrorneuron_nb.kernel.inert import inert_bindings, runs_no_code

from ..helpers import value
from ..kernels import Kernel

INERT = [
    ("x = 1", {"x"}),
    ("a = b = 'text'\npass", {"a", "b"}),
    ("cols = ['a', ('b', -1.5)]\nopts = {'k': None, 2: y}\ns = {1, 'a'}", {"cols", "opts", "s"}),
    ("y = x", {"y"}),
]
NOT_INERT = [
    "x = f()",  # a call
    "x = a.b",  # a property may run code
    "x = a + 1",  # an operator
    "x = a[0]",  # an item
    "a, b = pair",  # unpacking iterates
    "x.y = 1",  # an attribute store
    "x",  # displayed: formatting runs code
    "import os",
    "x = [*a]",
    "d = {k: 1}",  # hashing a name's value
    "s = {a}",
    "x = -a",
    "del x",
    "x = (",  # does not parse
]


@pytest.mark.parametrize(("code", "names"), INERT)
def test_inert_bodies_and_what_they_bind(code: str, names: set[str]) -> None:
    assert inert_bindings(code) == frozenset(names)


@pytest.mark.parametrize("code", NOT_INERT)
def test_bodies_that_may_run_code(code: str) -> None:
    assert inert_bindings(code) is None


def test_rebinding_a_name_that_holds_an_object_may_run_its_del() -> None:
    ns: dict[str, Any] = {"x": 2, "y": "s", "obj": object()}
    assert runs_no_code("x = 1\ny = None\nnew = 3", ns)
    assert not runs_no_code("obj = 1", ns)


COUNTING = (
    "from mirrorneuron_nb.values import libstate as _ls\n"
    "class _Counting:\n"
    "    name = 'counting'\n"
    "    reads = 0\n"
    "    def read(self):\n"
    "        type(self).reads += 1\n"
    "        return None\n"
    "    def changes(self, before, after):\n"
    "        return None\n"
    "    def apply(self, change):\n"
    "        pass\n"
    "_ls.register(_Counting())\n"
)


@pytest.mark.kernel
def test_an_inert_step_reads_no_library_state_and_others_do(kernel: Kernel) -> None:
    kernel.run(COUNTING)
    kernel.run("%%mn_step a\nx = 1\nlabel = 'run'")
    assert value(kernel, "_Counting.reads") == "0"
    kernel.run("%%mn_step b\nimport random\nz = random.random()")
    assert value(kernel, "_Counting.reads") == "2"  # before and after the body
    kernel.run("holder = object()")
    kernel.run("%%mn_step c\nholder = 1")  # releases an object: read as any step
    assert value(kernel, "_Counting.reads") == "4"
