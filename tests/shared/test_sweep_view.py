"""A sweep's progress display, fed the outcomes a sweep produces (no cluster needed)."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from mirrorneuron_nb.batch.sweep import Outcome, combinations
from mirrorneuron_nb.batch.sweep_view import Lines, Live


def _outcomes(tmp_path: Path) -> list[Outcome]:
    combos = combinations({"lr": [0.1, "[red]x"], "depth": [3]}, tmp_path / "nb.ipynb", tmp_path)
    done = Outcome(combos[0], "succeeded", None, None, 2, 1, 3.5, {"prep": "restored"})
    failed = Outcome(combos[1], "failed", "train", "ValueError: diverged", 0, 1, 1.0)
    failed.steps = {"prep": "restored", "train": "failed"}
    return [done, failed]


def test_live_view_shows_a_bar_and_a_table(tmp_path: Path) -> None:
    out = io.StringIO()
    outcomes = _outcomes(tmp_path)
    console = Console(file=out, force_terminal=True, width=160, color_system=None)
    with Live([o.combination for o in outcomes], console=console) as live:
        for o in outcomes:
            live.changed(o)
    text = out.getvalue()
    assert "2/2" in text  # the bar: every combination finished
    assert "lr=0.1 depth=3" in text and "succeeded" in text
    assert "lr='[red]x' depth=3" in text  # a value is shown, never read as markup
    assert "ValueError: diverged" in text and "failed" in text


def test_plain_lines_when_not_a_terminal(tmp_path: Path) -> None:
    out = io.StringIO()
    outcomes = _outcomes(tmp_path)
    lines = Lines([o.combination for o in outcomes], out)
    for o in outcomes:
        lines.changed(o)
    assert out.getvalue().splitlines() == [
        "  [1/2] lr=0.1 depth=3: prep restored",
        "[1/2 done] lr=0.1 depth=3: succeeded (ran 2, restored 1, 3.5 s)",
        "  [2/2] lr='[red]x' depth=3: prep restored",
        "  [2/2] lr='[red]x' depth=3: train failed",
        "[2/2 done] lr='[red]x' depth=3: failed (ran 0, restored 1, 1.0 s): step train: "
        "ValueError: diverged",
    ]
