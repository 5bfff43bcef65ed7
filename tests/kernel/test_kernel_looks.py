"""A step's look before it runs, in a real kernel (store/look_cache.py): once the writer
has read what looks find, a step whose look finds nothing sends the database no
statement; and whatever another kernel commits meanwhile is seen by the next look."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ..helpers import runs_of, tick
from ..kernels import Kernel

pytestmark = pytest.mark.kernel

CURRENT = """
import time as _t
_s = get_ipython().magics_manager.registry['MirrorNeuronMagics'].session
_s.writer.wait()
_looks = _s.store._looks
_until = _t.monotonic() + 30
while _looks.facts is None or _looks.facts.header != _looks.index.header():
    assert _t.monotonic() < _until, "the writer never read what looks find"
    _t.sleep(0.01)
del _t, _until
"""
"""Wait until the kernel's writer has read what looks find, as of now."""


def test_a_step_whose_look_finds_nothing_sends_the_database_no_statement(
    kernel: Kernel,
) -> None:
    kernel.settle = False  # (settling reads the store)
    kernel.run("%%mn_step first\nx = 1\n")
    kernel.run(CURRENT + "_sql = []\n_s.store.conn.set_trace_callback(_sql.append)\n")
    kernel.run("%%mn_step second\ny = 2\n")
    # Its landing moves the header: until the writer has read again, a look asks. (A cell
    # sent at once may find either; waiting makes this one find the read.)
    kernel.run(CURRENT)
    kernel.run("%%mn_step third\nz = sum(range(4))\n")  # runs code: claimed apart
    out = kernel.run("_s.store.conn.set_trace_callback(None)\nprint(repr(_sql))")
    statements = ast.literal_eval(out.stdout.strip())
    looks = [s for s in statements if "LEFT JOIN leases" in s]
    assert looks == [], statements
    assert any("INSERT INTO attempts" in s or "leases" in s for s in statements), statements
    assert kernel.run("print(x, y, z)").stdout.split() == ["1", "2", "6"]


def test_a_checkpoint_another_kernel_commits_serves_the_next_look(
    kernel: Kernel, workdir: Path
) -> None:
    body = f"%%mn_step shared\n{tick('count')}v = 40 + 2\n"
    kernel.run("%%mn_step warm\nw = 1\n")
    kernel.run(CURRENT)  # this kernel knows what looks find, as of now
    other = Kernel(workdir)
    try:
        other.run("%load_ext mirrorneuron_nb")
        other.run(body)  # (settles: its checkpoint has landed)
        assert runs_of(workdir, "count") == 1
    finally:
        other.shutdown()
    out = kernel.run(body)
    assert "mn_step shared: restored from checkpoint" in out.text + str(out.own), out
    assert runs_of(workdir, "count") == 1  # served, not run again
    assert kernel.run("print(v)").stdout.strip() == "42"
