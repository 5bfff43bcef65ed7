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
        page.screenshot(path=target)
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


@pytest.mark.parametrize("theme", THEMES)
def test_readable_at_220_px(lab: Lab, page: Page, theme: str) -> None:
    name = f"themed-{THEMES.index(theme)}.ipynb"
    write_notebook(
        lab.root / name,
        [
            "%load_ext mirrorneuron_nb",
            "%%mn_step load_the_table\nnumbers = list(range(10))",
            "%%mn_step report\nraise ValueError('the input file is missing')",
            "%%mn_step later\ntotal = sum(numbers)",
        ],
    )
    open_notebook(page, lab, name, f"themed-{THEMES.index(theme)}")
    set_theme(page, theme)
    command(page, "notebook:run-all-cells")
    expect(row(page, "report", "failed")).to_be_visible()
    restart_kernel(page)
    page.click(f"{PANEL} button.mn-Steps-resume")
    expect(page.locator(f"{PANEL} .mn-Resume .mn-Resume-list dt").first).to_have_text("numbers")
    row(page, "report").locator(".mn-Step-error").click()
    expect(row(page, "report").locator(".mn-Step-traceback")).to_contain_text("ValueError")
    # An edit: stale, in the row and the cell's badge.
    page.evaluate(
        """() => window.jupyterapp.shell.currentWidget.content.model.cells.get(1)
            .sharedModel.setSource('%%mn_step load_the_table\\nnumbers = list(range(11))')"""
    )
    expect(row(page, "load_the_table", "stale")).to_be_visible()
    expect(cell(page, 1).locator(".mn-CellBadge")).to_have_attribute("data-status", "stale")

    set_sidebar_width(page, 220)
    assert overflow(page) == []
    check_readable(page, STEPS_VIEW)
    if theme == "JupyterLab Dark":
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
    assert overflow(page) == []
    check_readable(page, TIMELINE_VIEW)
    # Each bar stands out from its track (the waiting hatch is drawn, not filled).
    bars = fills(page, f"{PANEL} .mn-Bar:not(.mn-bar-waiting)")
    assert bars, "no bar drawn"
    bad = unreadable(bars)
    assert not bad, "\n".join(bad)

    page.click(f"{PANEL} .mn-Steps-tab[data-view='plan']")
    expect(page.locator(f"{PANEL} .mn-Plan-step").first).to_be_visible()
    assert overflow(page) == []
    check_readable(page, PLAN_VIEW)
