"""Fingerprint once, in a real kernel: a step that only reads values a step produced does
not hash them again; anything that could have written into them makes the next step hash
them again, and it runs on the new content (never a stale checkpoint).

Fingerprints are counted inside the kernel by wrapping the content digest every
fingerprint of a non-immutable value goes through."""

from __future__ import annotations

import ast

from mirrorneuron_nb.batch.driver import Execution

from ..helpers import run as run_settled
from ..kernels import Kernel
from ..messages import RESTORED


def run(kernel: Kernel, code: str) -> Execution:
    """A cell, with no wait for its checkpoint after it (these tests watch it being
    written, or count fingerprints, which the silent flush would forget)."""
    kernel.settle = False
    return run_settled(kernel, code)


COUNTER = """\
import mirrorneuron_nb.values.fingerprint as _fpm
_hashed = []
_inner_digest = _fpm.content_digest
def _counting_digest(value, *args, **kwargs):
    _hashed.append(type(value).__name__)
    return _inner_digest(value, *args, **kwargs)
_fpm.content_digest = _counting_digest
"""

LOAD = """%%mn_step load
import numpy as np
arr = np.arange(200_000, dtype=float)
dicts = [{"i": i, "name": f"n{i}"} for i in range(2_000)]
"""

FINAL = """%%mn_step final
total = float(arr.sum()) + float(np.mean(arr)) + len(dicts) + sum(d["i"] for d in dicts[:10])
"""

EXPECTED = "float(arr.sum()) + float(np.mean(arr)) + len(dicts) + sum(d['i'] for d in dicts[:10])"


def hashed(kernel: Kernel, code: str) -> tuple[list[str], str]:
    """The types hashed while `code` ran, and its stderr with the kernel's own notes (the
    restored banner). (The counting cells only read, so they change nothing known
    themselves.)"""
    before = int(run(kernel, "print(len(_hashed))").stdout)
    out = run(kernel, code)
    shown = run(kernel, f"print(repr(_hashed[{before}:]))").stdout.strip()
    found: list[str] = ast.literal_eval(shown)
    return found, out.stderr + out.notes


def check_total(kernel: Kernel) -> None:
    same = run(kernel, f"print(total == {EXPECTED})").stdout.strip()
    assert same == "True", "the step served a stale value"


def test_read_only_step_after_producer_hashes_nothing(kernel: Kernel) -> None:
    run(kernel, COUNTER)
    made, _ = hashed(kernel, LOAD)
    # Each output once, at its checkpoint (a dict: the library state importing numpy set).
    assert (made.count("ndarray"), made.count("list")) == (1, 1), made
    # A plain cell that only reads keeps the fingerprints too.
    run(kernel, "print(arr.mean(), len(dicts), dicts[0]['i'], np.sum(arr))")
    seen, err = hashed(kernel, FINAL)
    assert RESTORED not in err
    assert seen == [], seen  # before: arr and dicts hashed before and after the body
    check_total(kernel)
    # Not even when the read-only step runs again under another name.
    again, _ = hashed(kernel, FINAL.replace("final", "final2"))
    assert again == []


def test_a_step_that_imports_and_calls_a_clock_keeps_fingerprints(kernel: Kernel) -> None:
    """Issue 13: a slow API call in a step (`import time`, `time.sleep`) made the next
    steps hash every value again."""
    run(kernel, COUNTER)
    run(kernel, LOAD)
    seen, _ = hashed(kernel, "%%mn_step api\nimport time\ntime.sleep(0.01)\nanswer = {'n': 42}\n")
    assert seen == ["dict"], seen  # its own output only
    seen, _ = hashed(kernel, FINAL)
    assert seen == [], seen  # before: arr and dicts again
    check_total(kernel)


MUTATIONS = {
    "augmented": "arr *= 2",
    "append": "dicts.append({'i': 7, 'name': 'x'})",
    "unknown function": "def bump(a):\n    a[0] += 1\nbump(arr)",
    "exec": "exec('arr[1] = 5.0')",
    "time magic": "%%time\narr[2] = 9.0",
    "alias": "alias = dicts\nalias[0]['i'] = 100",  # the cell writes through another name
    "alias later": "alias.append({'i': 1, 'name': 'y'})",
}


def test_cells_that_may_write_make_the_next_step_hash_and_run_again(kernel: Kernel) -> None:
    run(kernel, COUNTER)
    run(kernel, LOAD)
    run(kernel, FINAL)
    for what, cell in MUTATIONS.items():
        run(kernel, cell)
        seen, err = hashed(kernel, FINAL)
        assert RESTORED not in err, what  # new content: a new cache key
        # Every input hashed again, once (the body only reads: not after it).
        assert sorted(seen) == ["list", "ndarray"], (what, seen)
        check_total(kernel)


def test_step_that_writes_rehashes_its_inputs_after_its_body(kernel: Kernel) -> None:
    run(kernel, COUNTER)
    run(kernel, LOAD)
    # The body writes into arr: hashed after it (not before: the producer's holds).
    seen, _ = hashed(kernel, "%%mn_step double\narr *= 2\n")
    assert seen == ["ndarray"], seen
    # That fingerprint, taken after the body, serves the next step; dicts was forgotten
    # (the body may have written into anything sharing objects with arr).
    seen, err = hashed(kernel, FINAL)
    assert seen == ["list"], seen
    check_total(kernel)
    # A plain cell that rebinds arr (to equal content) forgets arr only.
    run(kernel, "arr = arr * 1")
    seen, err = hashed(kernel, FINAL)
    assert seen == ["ndarray"], seen
    assert RESTORED in err  # same content: the checkpoint serves it
    check_total(kernel)


def test_a_live_thread_the_notebook_started_disables_reuse(kernel: Kernel) -> None:
    run(kernel, COUNTER)
    run(kernel, LOAD)
    run(
        kernel,
        "import threading\n_stop = threading.Event()\n"
        "_t = threading.Thread(target=_stop.wait, daemon=True)\n_t.start()",
    )
    seen, _ = hashed(kernel, FINAL)
    # Hashed before the body (the cell that started the thread forgot everything) and
    # after it: the thread may write at any time.
    assert sorted(seen) == ["list", "list", "ndarray", "ndarray"], seen
    run(kernel, "_stop.set(); _t.join()")
    seen, _ = hashed(kernel, FINAL.replace("final", "final3"))
    assert sorted(seen) == ["list", "ndarray"], seen  # hashed at plan (forgotten), then reused


def test_a_widget_message_that_writes_is_seen(kernel: Kernel) -> None:
    """A comm message (what a widget's callback runs on) runs outside any cell."""
    run(kernel, COUNTER)
    run(kernel, LOAD)
    comm_id = run(
        kernel,
        "import comm\n_c = comm.create_comm(target_name='mn-test')\n"
        "_c.on_msg(lambda msg: dicts.append({'i': -1, 'name': 'w'}))\nprint(_c.comm_id)",
    ).stdout.strip()
    run(kernel, FINAL)
    message = kernel.kc.session.msg("comm_msg", {"comm_id": comm_id, "data": {}})
    kernel.kc.shell_channel.send(message)
    seen, err = hashed(kernel, FINAL)  # the shell handles the message before this cell
    assert RESTORED not in err  # dicts grew: a new key, the body runs
    assert sorted(seen) == ["list", "ndarray"], seen
    check_total(kernel)
    assert run(kernel, "print(len(dicts))").stdout.strip() == "2001"
