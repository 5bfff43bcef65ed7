"""analysis.analyze: which global names a cell reads (cache key inputs) and binds."""

from __future__ import annotations

import sys

import pytest

from mirrorneuron_nb.errors import InvalidInput
from mirrorneuron_nb.kernel.analysis import analyze


def rw(code: str) -> tuple[set[str], set[str]]:
    a = analyze(code)
    return set(a.reads), set(a.writes)


CASES = [
    # plain assignment and reassignment
    ("x = 1", set(), {"x"}),
    ("x = x + 1", {"x"}, {"x"}),
    ("x += 1", {"x"}, {"x"}),
    ("a, (b, *c) = t", {"t"}, {"a", "b", "c"}),
    ("y = 1\nz = y * 2", set(), {"y", "z"}),
    ("z = y\ny = 1", {"y"}, {"y", "z"}),
    # stores into containers and attributes mutate (read) the object, bind nothing
    ("df['c'] = 1", {"df"}, set()),
    ("obj.attr = 2", {"obj"}, set()),
    ("obj.attr += 2", {"obj"}, set()),
    ("m[k] += v", {"m", "k", "v"}, set()),
    # for: the iterable is read, the target is bound before the body runs
    ("for i in items:\n    total = total + i", {"items", "total"}, {"i", "total"}),
    ("for i in range(3):\n    pass\nlast = i", {"range"}, {"i", "last"}),
    ("for o.a in it:\n    pass", {"it", "o"}, set()),
    # with / except / walrus bind before their bodies
    ("with open(p) as fh:\n    data = fh.read()", {"open", "p"}, {"fh", "data"}),
    ("with a as (p, q), b(p) as r:\n    s = q + r", {"a", "b"}, {"p", "q", "r", "s"}),
    (
        "try:\n    v = f()\nexcept E as err:\n    msg = str(err)",
        {"f", "E", "str"},
        {"v", "err", "msg"},
    ),
    ("if (n := compute()) > 0:\n    m = n", {"compute"}, {"n", "m"}),
    ("while (line := rd()):\n    out = line", {"rd"}, {"line", "out"}),
    # a name bound only in the other branch is still read from outside
    ("if c:\n    x = 1\nelse:\n    y = x", {"c", "x"}, {"x", "y"}),
    # imports
    ("import os.path\nimport numpy as np\nfrom a import b as c", set(), {"os", "np", "c"}),
    ("from m import *", set(), set()),
    # del binds (removes) without reading the value
    ("del x", set(), {"x"}),
    # match: subject and class patterns read; captures bound before the case body
    (
        "match cmd:\n"
        "    case [a, *rest]:\n        r = a\n"
        "    case {'k': v, **kw}:\n        r = v\n"
        "    case Point(x=px) as pt if px > lim:\n        r = px\n"
        "    case _:\n        r = q",
        {"cmd", "Point", "lim", "q"},
        {"a", "rest", "v", "kw", "px", "pt", "r"},
    ),
    # comprehensions: loop variables are local, free names and the first iterable are read
    ("r = [i * k for i in seq if i > lim]", {"k", "lim", "seq"}, {"r"}),
    ("r = {a: b for a, b in pairs}", {"pairs"}, {"r"}),
    ("r = [j for i in outer for j in i]", {"outer"}, {"r"}),
    ("x = [x for x in x]", {"x"}, {"x"}),
    ("s = sum(v * w for v in vals)", {"sum", "vals", "w"}, {"s"}),
    # lambdas and functions: params/locals are not reads, the globals they use are
    ("f = lambda a, *rest, **kw: a + rest[0] + kw['z'] + g", {"g"}, {"f"}),
    ("def f(a, b=d0, *, c=d1):\n    loc = a + b + c\n    return loc + g", {"d0", "d1", "g"}, {"f"}),
    ("def f():\n    def inner(y):\n        return y + h\n    return inner", {"h"}, {"f"}),
    ("def f(x):\n    return [y for y in x if y > t]", {"t"}, {"f"}),
    ("async def f():\n    await z", {"z"}, {"f"}),
    ("def f():\n    global counter\n    counter += 1", {"counter"}, {"f"}),
    ("def f():\n    global g\n    g = 1\n    return g", {"g"}, {"f"}),
    # decorators, defaults and annotations are evaluated in the cell's scope
    ("@deco(dk)\ndef f(a: Ann = dd) -> Ret:\n    pass", {"deco", "dk", "Ann", "dd", "Ret"}, {"f"}),
    # class bodies: bases and own names; methods see globals, not class names
    (
        "class C(Base, metaclass=Meta):\n    attr = v\n    other = attr",
        {"Base", "Meta", "v"},
        {"C"},
    ),
    ("class C:\n    a = 1\n    def m(self):\n        return a", {"a"}, {"C"}),
    ("class C:\n    b = a\n    a = 1", {"a"}, {"C"}),
    ("@dataclass\nclass C:\n    x: int = 0", {"dataclass", "int"}, {"C"}),
]


@pytest.mark.parametrize(("code", "reads", "writes"), CASES, ids=[c[0][:40] for c in CASES])
def test_reads_and_writes(code: str, reads: set[str], writes: set[str]) -> None:
    assert rw(code) == (reads, writes)


def test_names_read_only_after_assignment_are_not_reads() -> None:
    reads, writes = rw("data = load()\nclean = [r for r in data if r]\nn = len(clean)")
    assert reads == {"load", "len"}
    assert writes == {"data", "clean", "n"}


def test_rerunning_a_loop_cell_does_not_read_its_own_loop_variable() -> None:
    # Regression: a loop target read in the body counted as a read, so re-running the
    # cell (the target now defined) changed its cache key and ran it again.
    reads, _ = rw("total = 0\nfor epoch in range(n):\n    loss = step(epoch)\n    total += loss")
    assert reads == {"range", "n", "step"}


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("x = 1", False),
        ("x = 1\nx", True),
        ("x\n", True),
        ("f(1)", True),
        ("x = 1;", False),
        ("", False),
        ("for i in y:\n    i", False),
    ],
)
def test_last_expression(code: str, expected: bool) -> None:
    assert analyze(code).last_expression is expected


def test_syntax_error_is_invalid_input_with_line_number() -> None:
    with pytest.raises(InvalidInput, match=r"syntax error: line 3"):
        analyze("a = 1\nb = 2\nc = (\n")
    with pytest.raises(InvalidInput, match=r"line 2"):
        analyze("x = 1\nif x\n    y = 2\n")


@pytest.mark.skipif(sys.version_info < (3, 11), reason="except* is Python 3.11+")
def test_except_star_binds_before_its_body() -> None:
    code = "try:\n    v = f()\nexcept* E as eg:\n    m = eg\nelse:\n    w = v"
    assert rw(code) == ({"f", "E"}, {"v", "eg", "m", "w"})


@pytest.mark.parametrize(
    ("code", "reads"),
    [
        ("def f(n):\n    return 1 if n < 2 else n * f(n - 1)\n", set()),
        ("class A:\n    def make(self):\n        return A()\n", set()),
        ("def f():\n    return g() + x\ndef g():\n    return 1\n", {"x"}),
        # Called before the cell binds it: the old value is read.
        ("y = f(1)\ndef f(n):\n    return f\n", {"f"}),
        ("class B(Base):\n    k = K\n", {"Base", "K"}),
        ("h = lambda: h\n", set()),
        ("def d(a=default):\n    return d\n", {"default"}),
    ],
)
def test_a_cell_does_not_read_its_own_definitions(code: str, reads: set[str]) -> None:
    """Names read only inside function bodies the cell defines, and bound by the cell,
    hold the cell's own values when those bodies run: they are not inputs."""
    assert analyze(code).reads == reads
