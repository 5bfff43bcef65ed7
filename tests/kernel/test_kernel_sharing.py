"""Real-kernel tests of shared references: variables that share objects (in one step, or
across steps) still share them after a restart and %mn_resume, and a later change to
one reaches the other; unrelated variables are not saved together."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ..helpers import checks, fresh, run, sidecar
from ..kernels import Kernel

pytestmark = pytest.mark.kernel


def resumed(kernel: Kernel, code: str) -> dict[str, object]:
    fresh(kernel)
    run(kernel, "%mn_resume")
    return checks(kernel, code)


def saved_names(workdir: Path, step: str) -> set[str]:
    """The variables the current checkpoint of `step` holds."""
    with sqlite3.connect(sidecar(workdir) / "state.sqlite") as conn:
        rows = conn.execute(
            "SELECT v.name FROM steps s JOIN checkpoint_vars v ON v.checkpoint_id = s.checkpoint_id"
            " WHERE s.name = ? AND v.name NOT LIKE '\\_\\_%' ESCAPE '\\'",
            (step,),
        ).fetchall()
    return {r[0] for r in rows}


def test_values_of_one_step_share_what_they_shared(kernel: Kernel) -> None:
    run(kernel, "%%mn_step make\nrow = [0, 0]\ngrid = [row, row]\nholder = {'grid': grid}")
    found = resumed(
        kernel,
        "row[0] = 7\nchecks = {'same': grid[0] is row and grid[1] is row, "
        "'held': holder['grid'] is grid, 'seen': holder['grid'][1][0]}",
    )
    assert found == {"same": True, "held": True, "seen": 7}


def test_a_change_in_place_saves_the_holders_of_the_object_too(kernel: Kernel) -> None:
    run(
        kernel,
        "%%mn_step make\nclass Node:\n    def __init__(self):\n        self.v = 0\n"
        "node = Node()\nholder = {'node': node}",
    )
    run(kernel, "%%mn_step change\nnode.v = 5")
    assert "holder" in saved_names(kernel.cwd, "change")
    found = resumed(
        kernel,
        "checks = {'same': holder['node'] is node, 'value': holder['node'].v, "
        "'cls': isinstance(holder['node'], Node)}",
    )
    assert found == {"same": True, "value": 5, "cls": True}


def test_a_new_variable_holding_an_earlier_steps_object_shares_it(kernel: Kernel) -> None:
    run(kernel, "%%mn_step make\nitems = [{'k': 1}, {'k': 2}]")
    run(kernel, "%%mn_step pick\nfirst = items[0]")
    found = resumed(
        kernel, "first['k'] = 10\nchecks = {'same': first is items[0], 'k': items[0]['k']}"
    )
    assert found == {"same": True, "k": 10}


def test_a_slice_made_in_a_later_step_views_the_same_memory(kernel: Kernel) -> None:
    run(kernel, "%%mn_step make\nimport numpy as np\narr = np.zeros(6)")
    run(kernel, "%%mn_step half\nhalf = arr[:3]\nhalf[:] = 1.0")
    found = resumed(
        kernel,
        "half[0] = 9.0\nchecks = {'shares': bool(np.shares_memory(half, arr)), "
        "'arr': arr.tolist()}",
    )
    assert found == {"shares": True, "arr": [9.0, 1.0, 1.0, 0.0, 0.0, 0.0]}


def test_an_optimizer_made_in_a_later_step_holds_the_models_parameters(kernel: Kernel) -> None:
    pytest.importorskip("torch")
    run(
        kernel, "%%mn_step model\nimport torch\ntorch.manual_seed(0)\nmodel = torch.nn.Linear(2, 1)"
    )
    run(kernel, "%%mn_step optim\nopt = torch.optim.SGD(model.parameters(), lr=0.5)")
    found = resumed(
        kernel,
        "before = model.weight.detach().clone()\n"
        "model(torch.ones(3, 2)).sum().backward()\nopt.step()\n"
        "checks = {'same': opt.param_groups[0]['params'][0] is model.weight, "
        "'moved': bool((model.weight != before).all())}",
    )
    assert found == {"same": True, "moved": True}


def test_unrelated_values_are_not_saved_together(kernel: Kernel) -> None:
    pytest.importorskip("matplotlib")
    run(
        kernel,
        "%%mn_step first\nimport numpy as np\nfrom matplotlib.figure import Figure\n"
        "fig1 = Figure()\nax1 = fig1.add_subplot()\nax1.plot([1, 2], marker='o')\n"
        "a = np.zeros(3)",
    )
    run(
        kernel,
        "%%mn_step second\nimport numpy as np\nfrom matplotlib.figure import Figure\n"
        "fig2 = Figure()\nax2 = fig2.add_subplot()\nax2.plot([3, 4], marker='o')\n"
        "b = np.ones(3)",
    )
    # Both figures hold matplotlib's constant marker paths and both steps bind `np`:
    # neither makes the first step's values part of the second's checkpoint.
    assert saved_names(kernel.cwd, "second") == {"np", "Figure", "fig2", "ax2", "b"}


def test_a_value_that_cannot_be_saved_leaves_the_others_shared(kernel: Kernel) -> None:
    out = run(
        kernel,
        "%%mn_step make\nlog = open('log.txt', 'w')\nbase = [1]\nalias = {'b': base}",
    )
    assert "'log' was not checkpointed" in out.stderr
    found = resumed(kernel, "checks = {'same': alias['b'] is base, 'log': 'log' in dir()}")
    assert found == {"same": True, "log": False}
