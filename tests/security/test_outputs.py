"""Replayed outputs are signed: a cache hit never publishes outputs from a checkpoint
signed with another key, or whose `outputs` column was edited; the step runs instead."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ..kernels import Execution
from .sidecars import build, counter, db, kernel_for, runs

pytestmark = [pytest.mark.kernel]

# Shows HTML and script, and binds no variable: nothing but outputs to replay.
SHOW = (
    "%%mn_step show\n" + counter("runs.txt") + "__import__('IPython.display').display.display("
    "__import__('IPython.display').display.HTML('<b>made here</b>'))\n"
)
HOSTILE = [
    {
        "output_type": "display_data",
        "data": {"text/html": "<img src=x onerror=alert(1)>", "text/plain": "hostile"},
        "metadata": {},
    },
    {
        "output_type": "display_data",
        "data": {"application/javascript": "alert(2)", "text/plain": "hostile js"},
        "metadata": {},
    },
]
ACTIVE = ("text/html", "application/javascript")


def _published(out: Execution) -> list[str]:
    return [str(d.get(m)) for d in out.displays for m in ACTIVE if m in d]


def test_edited_outputs_are_never_published(workdir: Path) -> None:
    notebook = workdir / "nb.ipynb"
    sidecar = build(notebook, [SHOW])
    assert runs(workdir, "runs.txt") == 1
    with db(sidecar) as conn:
        conn.execute("UPDATE checkpoints SET outputs=?", (json.dumps(HOSTILE),))
    with kernel_for(notebook) as kernel:
        out = kernel.run(SHOW)
    assert out.error is None, out.error
    # The step ran instead (its own output, not the edited one), saying why.
    assert runs(workdir, "runs.txt") == 2
    assert _published(out) == ["<b>made here</b>"], out.displays
    assert "checkpoint unusable" in out.stderr and "not signed" in out.stderr, out.stderr


def test_outputs_signed_with_another_key_are_never_published(workdir: Path, hermetic: Path) -> None:
    notebook = workdir / "nb.ipynb"
    theirs = SHOW.replace("<b>made here</b>", "<img src=x onerror=alert(1)>")
    build(notebook, [theirs], key=hermetic / "attacker.key")
    assert runs(workdir, "runs.txt") == 1
    with kernel_for(notebook) as kernel:  # this user's key
        out = kernel.run(theirs)
    assert out.error is None, out.error
    # The body ran: its output is published because this kernel made it, not replayed.
    assert runs(workdir, "runs.txt") == 2
    assert len(_published(out)) == 1, out.displays
    assert "checkpoint unusable" in out.stderr and "not signed" in out.stderr, out.stderr
    # --once refuses to run again, and still publishes nothing it cannot verify.
    with kernel_for(notebook, hermetic / "third.key") as kernel:
        once = kernel.run(theirs.replace("show", "show --once", 1), check=False)
    assert _published(once) == [], once.displays
    assert runs(workdir, "runs.txt") == 2
    assert "is --once and already succeeded" in once.stderr, once.stderr
