"""analysis.analyze sees through IPython magics: code-running magics add the reads and
writes of the code they run; magics it cannot see through make the step always run."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from IPython.core.inputtransformer2 import TransformerManager

from mirrorneuron_nb.errors import InvalidInput
from mirrorneuron_nb.kernel.analysis import CellAnalysis, analyze
from mirrorneuron_nb.kernel.awaiting import AwaitingSteps
from mirrorneuron_nb.kernel.magic_effects import foreign


def cell(body: str) -> CellAnalysis:
    """Analyse a step body the way the kernel does: after IPython's transforms."""
    return analyze(TransformerManager().transform_cell(body))


def rw(body: str) -> tuple[set[str], set[str]]:
    a = cell(body)
    assert a.opaque == (), a.opaque
    return set(a.reads), set(a.writes)


CODE_RUNNING = [
    # %%time runs its body in the user namespace: its reads and bindings are the step's
    ("%%time\ny = scale * 2\nprint(y)\n", {"scale", "print"}, {"y"}),
    ("%time model.fit(X, y)", {"model", "X", "y"}, set()),
    ("%time r = fit(a)", {"fit", "a"}, {"r"}),
    ("%time --no-raise-error r = fit(a)", {"fit", "a"}, {"r"}),
    ("x = %time f(a)", {"f", "a"}, {"x"}),
    ("y = 1\n%time z = y + q", {"q"}, {"y", "z"}),
    ("%time a = 1\nb = a", set(), {"a", "b"}),
    # %timeit runs in a function: it reads, but what it binds stays local (-v saves a name)
    ("%timeit -n1 -r1 np.add.at(counts, idx, 1)", {"np", "counts", "idx"}, set()),
    ("%timeit -n1 -r1 z = f(a)", {"f", "a"}, set()),
    ("%timeit -n1 -r1 -v t f(a)", {"f", "a"}, {"t"}),
    ("t = %timeit -o -q f(a)", {"f", "a"}, {"t"}),
    ("%%timeit -n1 -r1 s = make()\nf(s, b)\n", {"make", "f", "b"}, set()),
    # %prun runs in the user namespace
    ("%prun -q r = f(a)", {"f", "a"}, {"r"}),
    ("%%prun -s cumulative\nr = f(a)\n", {"f", "a"}, {"r"}),
    # %%capture runs its body as a cell and binds the name on its line
    ("%%capture out\nprint(a)\nb = 1\n", {"print", "a"}, {"out", "b"}),
    ("%%capture --no-stderr\nb = a\n", {"a"}, {"b"}),
    # nested magics are analysed too
    ("%%time\n%time z = g(w)\n", {"g", "w"}, {"z"}),
    ("%%capture c\n%%time\nv = w\n", {"w"}, {"c", "v"}),
    # magics with no effect on data
    ("%matplotlib inline\nx = 1", set(), {"x"}),
    ("%load_ext autoreload\n%config InlineBackend.figure_format = 'svg'\nx = y", {"y"}, {"x"}),
    ("%precision 3\n%pprint\n%who\n%whos\n%lsmagic\nx = 1", set(), {"x"}),
    ("x = 1\nx?\n", set(), {"x"}),
    ("%%html\n<b>{hi}</b>\n", set(), set()),
]


@pytest.mark.parametrize(
    ("body", "reads", "writes"), CODE_RUNNING, ids=[c[0] for c in CODE_RUNNING]
)
def test_code_running_magics_are_seen_through(body: str, reads: set[str], writes: set[str]) -> None:
    assert rw(body) == (reads, writes)


OPAQUE = [
    ("%run other.py\n", "%run cannot be analysed"),
    ("%run -i other.py\nx = 1\n", "%run cannot be analysed"),
    ("%load other.py\n", "%load cannot be analysed"),
    ("%store -r x\n", "%store cannot be analysed"),
    ("%env A=1\n", "%env cannot be analysed"),
    ("%cd /tmp\n", "%cd cannot be analysed"),
    ("!ls\n", "!ls cannot be analysed"),
    ("files = !ls\n", "!ls cannot be analysed"),
    ("%sx ls\n", "%sx cannot be analysed"),
    ("%%bash\necho hi\n", "%%bash cannot be analysed"),
    ("%%script python\nprint(1)\n", "%%script cannot be analysed"),
    ("%my_magic x\n", "%my_magic cannot be analysed"),
    ("%time %run other.py\n", "%run cannot be analysed"),
    ("%%time\n!ls\n", "!ls cannot be analysed"),
    ("get_ipython().run_line_magic(name, 'x')\n", "a magic called with computed arguments"),
    ("ip = get_ipython()\n", "get_ipython() cannot be analysed"),
]


@pytest.mark.parametrize(("body", "reason"), OPAQUE, ids=[c[0] for c in OPAQUE])
def test_other_magics_make_the_step_opaque(body: str, reason: str) -> None:
    found = cell(body).opaque
    assert any(reason in r for r in found), found


def test_reads_of_an_opaque_body_are_still_counted() -> None:
    a = cell("%run other.py\nz = w + 1\n")
    assert a.opaque and "w" in a.reads and "z" in a.writes


def test_a_syntax_error_inside_a_magic_is_one_line() -> None:
    with pytest.raises(InvalidInput, match=r"%time has a syntax error: line 1"):
        cell("%time f(\n")
    with pytest.raises(InvalidInput, match=r"%timeit: option -z not recognized"):
        cell("%timeit -z f()\n")


def test_top_level_await_is_seen_and_a_generator_body_is_refused() -> None:
    assert cell("import asyncio\nr = await asyncio.sleep(0, 1)\n").is_async
    assert cell("r = [await f(x) for x in xs]\n").is_async
    assert not cell("async def f():\n    await g()\n").is_async
    assert set(cell("r = await fetch(q)\n").reads) == {"fetch", "q"}
    with pytest.raises(InvalidInput, match=r"cannot be a generator"):
        cell("await f()\nyield 1\n")
    with pytest.raises(InvalidInput, match=r"cannot be a generator"):
        cell("for i in xs:\n    yield i\n")


def test_a_magic_registered_over_an_ipython_one_is_not_seen_through() -> None:
    from IPython.core.magics.execution import ExecutionMagics

    def mine(line: str) -> None: ...

    shell = SimpleNamespace(magics_manager=SimpleNamespace(magics={"line": {}, "cell": {}}))
    shell.magics_manager.magics["line"]["time"] = ExecutionMagics.time
    assert foreign(shell, cell("%time f(x)").magics) == []
    shell.magics_manager.magics["line"]["time"] = mine
    assert foreign(shell, cell("%time f(x)").magics) == [
        "%time is not IPython's own and cannot be analysed"
    ]


def test_only_awaiting_step_cells_are_rewritten() -> None:
    shell = SimpleNamespace(autoawait=True, transform_cell=TransformerManager().transform_cell)
    rewrite = AwaitingSteps(shell, "twin")

    def lines(text: str) -> list[str]:
        return text.splitlines(keepends=True)

    awaiting = lines("%%mn_step fetch --retries 2\nr = await get(1)\n")
    assert rewrite(awaiting) == ["await twin('fetch --retries 2', 'r = await get(1)\\n')\n"]
    for unchanged in (
        "%%mn_step fetch\nr = get(1)\n",
        "%%mn_stepper fetch\nr = await get(1)\n",
        "%%time\nr = await get(1)\n",
        "r = await get(1)\n",
        "%%mn_step gen\nawait get(1)\nyield 2\n",  # the magic says what is wrong
    ):
        assert rewrite(lines(unchanged)) == lines(unchanged)
    shell.autoawait = False
    assert rewrite(awaiting) == awaiting
