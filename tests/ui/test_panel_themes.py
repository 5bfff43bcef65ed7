"""The Steps panel in each of JupyterLab's own themes (light, dark, dark high contrast),
switched at run time: at 220 px nothing overflows, and every visible text of the rows,
the cell badges, the header, the drawer, the resume summary and the timeline reaches the
WCAG contrast minimum against the background it is drawn on; the status colours stay
apart from each other.

Set MIRRORNEURON_PANEL_DARK_SCREENSHOT to a path to save the dark panel for the README
(scripts/screenshots.sh sets it).
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from .contrast import delta_e, fills, samples, status_samples, unreadable
from .lab import Lab
from .pages import (
    PANEL,
    cell,
    command,
    open_notebook,
    overflow,
    restart_kernel,
    row,
    set_sidebar_width,
    wait_kernel_idle,
    write_notebook,
)

THEMES = ["JupyterLab Light", "JupyterLab Dark", "JupyterLab Dark High Contrast"]

# What the eye must tell apart: a status's colour says which of these it is (the glyph and
# the word say which status exactly).
FAMILIES = {
    "good": ["succeeded", "cached"],
    "bad": ["failed", "rejected"],
    "attention": ["interrupted", "stale", "awaiting_approval", "sleeping"],
    "busy": ["running", "checkpointing", "retrying", "approved"],
    "idle": ["pending"],
}
# CIE76: ~2.3 is just noticeable; two status colours must be plainly different.
DISTINCT_DELTA_E = 20

# The inner regions first: an element counts for the first region it is in.
STEPS_VIEW = {
    "badges": ".jp-Notebook .mn-CellBadge",
    "approval gate": f"{PANEL} .mn-Step-approval",
    "missing inputs": f"{PANEL} .mn-Step-missingInputs",
    "drawer": f"{PANEL} .mn-Step-drawer",
    "resume summary": f"{PANEL} .mn-Resume",
    "rows": f"{PANEL} .mn-StepList",
    "header": f"{PANEL} .mn-Steps-header",
    "tabs": f"{PANEL} .mn-Steps-tabs",
}
TIMELINE_VIEW = {"timeline": f"{PANEL} .mn-Timeline"}
PLAN_VIEW = {"plan": f"{PANEL} .mn-Plan"}


def screenshot(page: Page) -> None:
    """The README's picture of the dark panel, at a comfortable width (then back to 220)."""
    target = os.environ.get("MIRRORNEURON_PANEL_DARK_SCREENSHOT")
    if target:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        set_sidebar_width(page, 340)
        # The traceback folded, so the gate and the running step fit in the picture.
        error = row(page, "report").locator(".mn-Step-error")
        error.click()
        expect(row(page, "report").locator(".mn-Step-traceback")).to_have_count(0)
        page.screenshot(path=target)
        error.click()
        set_sidebar_width(page, 220)


def set_theme(page: Page, theme: str) -> None:
    command(page, "apputils:change-theme", {"theme": theme})
    page.wait_for_function("(theme) => document.body.dataset.jpThemeName === theme", arg=theme)


def check_readable(page: Page, regions: dict[str, str]) -> None:
    found = samples(page, regions)
    # Each region was on screen and measured: a test that checked nothing would pass.
    assert {s.region for s in found} == set(regions), found
    bad = unreadable(found)
    assert not bad, "\n".join(bad)


def build_scene(page: Page, root: Path, name: str) -> Path:
    """Every box the panel draws, on the notebook open in `page`: good, failed (traceback
    open), stale (edited), pending, a resume summary, an approval gate, a step whose inputs
    are missing, and a step still running (blocked until the returned flag file exists)."""
    command(page, "notebook:run-all-cells")
    expect(row(page, "report", "failed")).to_be_visible()
    restart_kernel(page)
    page.click(f"{PANEL} button.mn-Steps-resume")
    expect(page.locator(f"{PANEL} .mn-Resume .mn-Resume-list dt").first).to_have_text("values")
    row(page, "report").locator(".mn-Step-error").click()
    expect(row(page, "report").locator(".mn-Step-traceback")).to_contain_text("ValueError")
    # The gate: its cell run stops at the question.
    run_cell(page, GATE_CELL)
    expect(row(page, "publish", "awaiting_approval").locator(".mn-Step-question")).to_be_visible()
    # `rate` came from a plain cell nobody checkpointed: the re-run names it and offers it.
    row(page, "scaled").locator("button.mn-Step-rerun").click()
    expect(row(page, "scaled").locator(".mn-Step-missingInputs")).to_be_visible()
    # An edit: stale, in the row and the cell's badge.
    page.evaluate(
        """() => window.jupyterapp.shell.currentWidget.content.model.cells.get(3)
            .sharedModel.setSource('%%mn_step load_the_table\\nnumbers = list(range(11))')"""
    )
    expect(row(page, "load_the_table", "stale")).to_be_visible()
    expect(cell(page, 3).locator(".mn-CellBadge")).to_have_attribute("data-status", "stale")
    # Last, a step that runs until the test lets it go.
    flag = root / f"{name}.go"
    run_cell(page, SLOW_CELL)
    expect(row(page, "slow", "running")).to_be_visible()
    return flag


def scene_cells(flag: str) -> list[str]:
    return [
        "%load_ext mirrorneuron_nb",
        "rate = 3",
        "%%mn_step scaled\nvalues = [rate * i for i in range(4)]",
        "%%mn_step load_the_table\nnumbers = list(range(10))",
        "%%mn_step report\nraise ValueError('the input file is missing')",
        "%%mn_step later\ntotal = sum(numbers)",
        '%%mn_step publish --approve "Ship the report?"\nprint("shipped")',
        f"%%mn_step slow\nimport os, time\nwhile not os.path.exists({flag!r}):\n"
        "    time.sleep(0.05)",
    ]


GATE_CELL = 6
SLOW_CELL = 7


def run_cell(page: Page, index: int) -> None:
    cell(page, index).locator(".jp-InputArea-editor").click()
    page.keyboard.press("Control+Enter")


def check_scene(page: Page, theme: str, narrow: bool = True) -> None:
    """Everything in the scene readable (and, `narrow`, nothing overflowing at 220 px)."""
    if narrow:
        set_sidebar_width(page, 220)
        assert overflow(page) == []
    check_readable(page, STEPS_VIEW)
    if theme == "JupyterLab Dark" and narrow:
        screenshot(page)

    statuses = status_samples(page, [s for family in FAMILIES.values() for s in family])
    bad = unreadable(list(statuses.values()))
    assert not bad, "\n".join(bad)
    for (a, a_statuses), (b, b_statuses) in itertools.combinations(FAMILIES.items(), 2):
        for x, y in itertools.product(a_statuses, b_statuses):
            apart = delta_e(statuses[x].fg, statuses[y].fg)
            assert apart >= DISTINCT_DELTA_E, f"{x} ({a}) vs {y} ({b}): ΔE {apart:.1f}"

    page.click(f"{PANEL} .mn-Steps-tab[data-view='timeline']")
    expect(page.locator(f"{PANEL} .mn-Timeline-run").first).to_be_visible()
    expect(
        page.locator(f"{PANEL} .mn-Timeline-lane[data-step='slow'] .mn-bar-running")
    ).to_be_visible()
    if narrow:
        assert overflow(page) == []
    check_readable(page, TIMELINE_VIEW)
    # Each bar stands out from its track (the waiting hatch is drawn, not filled).
    bars = fills(page, f"{PANEL} .mn-Bar:not(.mn-bar-waiting)")
    assert bars, "no bar drawn"
    bad = unreadable(bars)
    assert not bad, "\n".join(bad)

    page.click(f"{PANEL} .mn-Steps-tab[data-view='plan']")
    expect(page.locator(f"{PANEL} .mn-Plan-step").first).to_be_visible()
    if narrow:
        assert overflow(page) == []
    check_readable(page, PLAN_VIEW)


@pytest.mark.parametrize("theme", THEMES)
def test_readable_at_220_px(lab: Lab, page: Page, theme: str) -> None:
    name = f"themed-{THEMES.index(theme)}"
    write_notebook(lab.root / f"{name}.ipynb", scene_cells(f"{name}.go"))
    open_notebook(page, lab, f"{name}.ipynb", name)
    set_theme(page, theme)
    flag = build_scene(page, lab.root, name)
    try:
        check_scene(page, theme)
    finally:
        flag.touch()


def test_readable_in_notebook7_dark(notebook7: Lab, page: Page) -> None:
    """The same scene and checks in Jupyter Notebook 7's right sidebar, dark theme (its
    sidebar keeps its own width: no 220 px step here)."""
    name = "themed-nb7"
    write_notebook(notebook7.root / f"{name}.ipynb", scene_cells(f"{name}.go"))
    page.goto(notebook7.notebook7_url(f"{name}.ipynb"))
    page.wait_for_selector(".jp-Notebook .jp-Cell")
    wait_kernel_idle(page)
    page.click(".jp-NotebookPanel-toolbar .mn-ShowSteps")
    expect(page.locator(PANEL)).to_be_visible()
    set_theme(page, "JupyterLab Dark")
    flag = build_scene(page, notebook7.root, name)
    try:
        assert overflow(page) == []
        check_scene(page, "JupyterLab Dark", narrow=False)
    finally:
        flag.touch()
