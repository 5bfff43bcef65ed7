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


TRACED = (
    "_mn = get_ipython()._mirrorneuron_session\n"
    "_sql = []\n"
    "_mn.store.conn.set_trace_callback(_sql.append)\n"
)
BEGUN = "sum(s.startswith('BEGIN') for s in _sql)"


@pytest.mark.kernel
def test_an_inert_step_is_claimed_and_committed_in_one_transaction(kernel: Kernel) -> None:
    """Issue 13: an inert body runs before its step is claimed, then lease, attempt and
    checkpoint are written in one transaction (two before), by the writer behind the
    cell: the cell itself writes nothing. Any other body keeps two, in the cell."""
    kernel.run("%%mn_step warm\nx = 0")
    kernel.run(TRACED)
    kernel.run("%%mn_step a\nx = 1\nlabel = 'run'")
    assert value(kernel, BEGUN) == "0"
    assert value(kernel, "[e.kind for e in _mn.store.events('a')]") == repr(
        ["claimed", "running", "succeeded", "released"]
    )
    # One transaction: every event of it carries the one time it was written at.
    assert value(kernel, "len({e.ts for e in _mn.store.events('a')})") == "1"
    assert value(kernel, "_mn.store.step('a').status.value") == "'succeeded'"
    kernel.run("_sql.clear()\n")
    kernel.run("%%mn_step b\nimport random\nz = random.random()")
    assert value(kernel, BEGUN) == "2"
    kernel.run("_mn.store.conn.set_trace_callback(None)")
    # Served from its checkpoint in a fresh kernel, as any step.
    kernel.restart()
    kernel.run("%load_ext mirrorneuron_nb")
    out = kernel.run("%%mn_step a\nx = 1\nlabel = 'run'")
    assert "restored from checkpoint" in str(out.own), out
    assert value(kernel, "(x, label)") == "(1, 'run')"


@pytest.mark.kernel
def test_an_inert_body_that_fails_is_recorded_like_any_failure(kernel: Kernel) -> None:
    kernel.run("a = 'before'")
    out = kernel.run("%%mn_step f\na = 1\nb = missing_name", check=False)
    assert out.error is not None and out.error["ename"] == "NameError"
    assert value(kernel, "a") == "1"  # as a plain cell leaves it
    assert value(kernel, "'b' in globals()") == "False"
    attempts = "[(t.number, t.status) for t in _mn.store.attempts('f')]"
    kernel.run("_mn = get_ipython()._mirrorneuron_session")
    assert value(kernel, attempts) == "[(1, 'failed')]"


HOLD = """\
import os, socket, time
from mirrorneuron_nb.models import Claimant, Run, StepStart
from mirrorneuron_nb.store import open_store
_mn = get_ipython()._mirrorneuron_session
_other = open_store(_mn.location.sidecar, notebook=_mn.location.notebook)
_other.start_run(Run(id="other", kind="kernel", status="running", started_at=time.time(),
                     pid=os.getpid(), host=socket.gethostname()))
_who = Claimant("other", "kernel", socket.gethostname(), os.getpid(), True, None)
_held = _other.claim_attempt("other", StepStart("t", None, "y = 1", "h", "k", {}), _who)
print(type(_held).__name__)
"""


@pytest.mark.kernel
def test_an_inert_step_held_elsewhere_binds_nothing(kernel: Kernel) -> None:
    """The body ran before the claim was refused: what it bound is put back."""
    kernel.run("%%mn_step warm\nx = 0")
    kernel.run("x = 'kept'")
    assert kernel.run(HOLD).stdout.strip() == "Attempt"
    out = kernel.run("%%mn_step t --no-wait\nx = 1\nnew = 2", check=False)
    assert out.error is not None and out.error["ename"] == "LeaseHeld", out.error
    assert value(kernel, "x") == "'kept'"
    assert value(kernel, "'new' in globals()") == "False"
    assert value(kernel, "[t.run_id for t in _mn.store.attempts('t')]") == "['other']"


@pytest.mark.kernel
def test_an_inert_step_claimed_elsewhere_before_its_commit_is_reported(kernel: Kernel) -> None:
    """The writer claims an inert step behind its cell: when another process took the step
    in between, nothing of this run is recorded, and the next cell says so in one line."""
    kernel.run("%%mn_step warm\nx = 0")
    kernel.run("_mn = get_ipython()._mirrorneuron_session")  # (such a cell waits for all)
    kernel.settle = False  # the tests' silent flush would wait for the commit
    kernel.run("import os\nos.environ['MIRRORNEURON_WRITER_DELAY'] = '2'\ndel os")
    kernel.run("%%mn_step t\nx = 1\nnew = 2")  # returns before its claim
    hold = HOLD.replace("_mn = get_ipython()._mirrorneuron_session\n", "")
    assert kernel.run(hold).stdout.strip() == "Attempt"  # taken in the writer's delay
    out = kernel.run("import mirrorneuron_nb as _m\n_m.flush()")
    lines = [x for x in (out.stderr + "".join(str(o) for o in out.own)).splitlines() if x]
    said = [x for x in lines if "claimed meanwhile" in x]
    assert len(said) == 1 and "not recorded" in said[0], lines
    assert value(kernel, "(x, new)") == "(1, 2)"  # its values stay, as a plain cell's
    assert value(kernel, "[t.run_id for t in _mn.store.attempts('t')]") == "['other']"


@pytest.mark.kernel
def test_constants_checkpointed_behind_the_cell_serve_a_reading_step_after_a_restart(
    kernel: Kernel,
) -> None:
    """Immutable constants are fingerprinted, saved and signed by the writer thread: after a
    restart they come back, and a step reading them is served (same fingerprints)."""
    kernel.run("%%mn_step a\nx = 7\nname = 'run-7'\nshape = (3, (4, 'b'))\nnothing = None")
    kernel.run("%%mn_step b\ny = (x, name, shape, nothing)")
    kernel.restart()
    kernel.run("%load_ext mirrorneuron_nb")
    kernel.run("%mn_resume")
    assert value(kernel, "(x, name, shape, nothing)") == "(7, 'run-7', (3, (4, 'b')), None)"
    out = kernel.run("%%mn_step b\ny = (x, name, shape, nothing)")
    assert "restored from checkpoint" in str(out.own), out


class _Text(str):
    pass


@pytest.mark.parametrize(
    ("values", "deferred"),
    [
        ({"x": 1, "f": 2.5, "c": 1j, "b": True, "n": None, "s": "run", "y": b"\x00"}, True),
        ({"t": (1, ("a", (None, 2.0))), "fs": frozenset({1, "a"})}, True),
        ({"cols": ["a", "b"]}, False),  # mutable: frozen in the cell
        ({"d": {"k": 1}}, False),
        ({"s": _Text("x")}, False),  # a subclass may run code
        ({"s": "x" * 20_000}, False),  # large: saved in the cell
        ({"t": tuple(range(5_000))}, False),
        ({"t": (1, [2])}, False),
    ],
)
def test_only_small_immutable_constants_are_checkpointed_behind_the_cell(
    values: dict[str, Any], deferred: bool
) -> None:
    from mirrorneuron_nb.kernel.constants import deferrable

    assert deferrable(values) is deferred
