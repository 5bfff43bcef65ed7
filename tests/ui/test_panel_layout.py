"""The redesigned Steps panel in a real JupyterLab (one server for the module): it fits
220 px and 500 px sidebars, its labels follow the live notebook model, its one primary
action follows the kernel's state, and its timeline draws a bar per step.

Set MIRRORNEURON_PANEL_SCREENSHOT / MIRRORNEURON_TIMELINE_SCREENSHOT to a path to save
the screenshots the README shows (scripts/screenshots.sh sets both).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from playwright.sync_api import Page, expect

from .lab import Lab
from .pages import (
    PANEL,
    cell,
    command,
    fully_readable,
    open_notebook,
    overflow,
    restart_kernel,
    row,
    set_sidebar_width,
    write_notebook,
)

LONG_NAME = "a_rather_long_variable_name_that_does_not_fit_a_narrow_sidebar"


def screenshot(page: Page, env: str) -> None:
    target = os.environ.get(env)
    if target:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=target)


def test_fits_220_and_500_px_with_resume_summary_and_traceback(lab: Lab, page: Page) -> None:
    write_notebook(
        lab.root / "narrow.ipynb",
        [
            "%load_ext mirrorneuron_nb",
            "%%mn_step load_the_customer_transactions_table --kind tool\n"
            f"{LONG_NAME} = list(range(50))\ntotal = sum({LONG_NAME})",
            "%%mn_step report\nraise ValueError('the input file has a very long path: '"
            " + '/data/' * 30 + 'transactions.parquet')",
        ],
    )
    open_notebook(page, lab, "narrow.ipynb", "narrow")
    command(page, "notebook:run-all-cells")
    expect(row(page, "report", "failed")).to_be_visible()
    restart_kernel(page)
    page.click(f"{PANEL} button.mn-Steps-resume")
    summary = page.locator(f"{PANEL} .mn-Resume")
    expect(summary.locator(".mn-Resume-list dt")).to_have_text([LONG_NAME, "total"])
    row(page, "report").locator(".mn-Step-error").click()
    traceback = row(page, "report").locator(".mn-Step-traceback")
    expect(traceback).to_contain_text("transactions.parquet")

    for width in (220, 500):
        set_sidebar_width(page, width)
        assert overflow(page) == [], f"at {width} px"
        readable = (
            f"{PANEL} .mn-Resume-list dt, {PANEL} .mn-Resume-list dd, {PANEL} .mn-Step-traceback"
        )
        assert fully_readable(page, readable) == [], f"at {width} px"
        # The full text of the resume stays one click away, wrapped too.
        toggle = summary.locator(".mn-Resume-toggle")
        toggle.click()
        expect(summary.locator(".mn-Resume-text")).to_contain_text("mn_resume: restored")
        assert overflow(page) == [], f"at {width} px, details open"
        toggle.click()
    screenshot(page, "MIRRORNEURON_PANEL_SCREENSHOT")


def test_labels_follow_the_live_notebook(lab: Lab, page: Page) -> None:
    write_notebook(
        lab.root / "live.ipynb",
        [
            "%load_ext mirrorneuron_nb",
            "%%mn_step first\na = 1",
            "%%mn_step bad!\nb = 2",
        ],
    )
    open_notebook(page, lab, "live.ipynb", "live")
    headline = page.locator(f"{PANEL} .mn-Steps-headline")

    # An invalid name is no step: a warning with the magic's own error, not counted.
    expect(headline).to_have_text("0 of 1 good")
    expect(page.locator(f"{PANEL} li.mn-Step")).to_have_count(1)
    invalid = page.locator(f"{PANEL} .mn-Steps-invalidCell")
    expect(invalid).to_have_text(
        "cell 3: invalid step name 'bad!': use letters, digits, '_' and '-' (at most 128)"
    )
    expect(cell(page, 2).locator(".mn-CellBadge[data-status='invalid']")).to_contain_text(
        "invalid step name 'bad!'"
    )
    # Never run: it offers Run, not Re-run.
    first = row(page, "first", "pending")
    expect(first.locator("button.mn-Step-run")).to_have_count(1)
    expect(first.locator("button.mn-Step-rerun")).to_have_count(0)
    expect(first.locator("button.mn-Step-reset")).to_have_count(0)

    cell(page, 0).locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    page.keyboard.press("Shift+Enter")
    expect(row(page, "first", "succeeded").locator("button.mn-Step-rerun")).to_have_count(1)

    # A new cell, not saved: a step ("unsaved"), not a deleted one; while it runs, its row
    # and its badge both say running.
    page.evaluate(
        """() => window.jupyterapp.shell.currentWidget.content.model.sharedModel.insertCell(3,
            {cell_type: 'code', source: "%%mn_step added\\nimport os, time\\n"
             + "while not os.path.exists('added.flag'):\\n    time.sleep(0.05)\\nc = 3"})"""
    )
    added = row(page, "added", "pending")
    expect(added).to_have_attribute("data-unsaved", "new")
    expect(added.locator(".mn-Step-tag[data-tag='unsaved']")).to_have_text("unsaved")
    expect(headline).to_have_text("1 of 2 good")
    cell(page, 3).locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    expect(row(page, "added", "running")).to_be_visible()
    expect(cell(page, 3).locator(".mn-CellBadge")).to_have_attribute("data-status", "running")
    (lab.root / "added.flag").touch()
    expect(row(page, "added", "succeeded")).to_have_attribute("data-unsaved", "new")
    expect(cell(page, 3).locator(".mn-CellBadge")).to_have_attribute("data-status", "succeeded")
    expect(page.locator(f"{PANEL} .mn-Steps-sectionTitle", has_text="cell deleted")).to_have_count(
        0
    )
    expect(headline).to_have_text("2 of 2 good")

    # An edit makes the step stale at once, before any save.
    page.evaluate(
        """() => window.jupyterapp.shell.currentWidget.content.model.cells.get(1)
            .sharedModel.setSource('%%mn_step first\\na = 10')"""
    )
    edited = row(page, "first", "stale")
    expect(edited).to_have_attribute("data-unsaved", "edited")
    expect(cell(page, 1).locator(".mn-CellBadge")).to_have_attribute("data-status", "stale")
    expect(headline).to_have_text("1 of 2 good")

    # Saved: `added` is an ordinary step now.
    command(page, "docmanager:save")
    expect(row(page, "added", "succeeded")).not_to_have_attribute("data-unsaved", "new")

    # Deleted means gone from the model: delete `added`'s cell, then it is listed as such.
    page.evaluate(
        "() => window.jupyterapp.shell.currentWidget.content.model.sharedModel.deleteCell(3)"
    )
    deleted = page.locator(f"{PANEL} .mn-Steps-sectionTitle", has_text="cell deleted")
    expect(deleted).to_have_count(1)
    expect(headline).to_contain_text("of 1 good")


def test_primary_action_follows_the_kernel_and_timeline(lab: Lab, page: Page) -> None:
    write_notebook(
        lab.root / "flow.ipynb",
        [
            "%load_ext mirrorneuron_nb",
            "%%mn_step one\nx = 1",
            "%%mn_step two\ny = x + 1",
            "%%mn_step three\nz = y * 2",
        ],
    )
    open_notebook(page, lab, "flow.ipynb", "flow")
    header = page.locator(f"{PANEL} .mn-Steps-header")
    primary = page.locator(f"{PANEL} .mn-Steps-actions button.mn-mod-primary")
    # Nothing to resume yet: running is the one primary action.
    expect(header).to_have_attribute("data-primary", "runFrom")
    expect(primary).to_have_text("Run from one")
    expect(primary).to_have_count(1)

    command(page, "notebook:run-all-cells")
    expect(row(page, "three", "succeeded")).to_be_visible()
    expect(primary).to_have_text("All steps good")

    # Restarted: the state is not loaded, Resume becomes THE primary action.
    restart_kernel(page)
    expect(header).to_have_attribute("data-primary", "resume")
    expect(primary).to_have_text("Resume")
    expect(primary).to_have_count(1)
    primary.click()
    expect(page.locator(f"{PANEL} .mn-Resume")).to_be_visible()
    # Loaded: Resume is no longer primary.
    expect(header).to_have_attribute("data-primary", "runFrom")
    expect(page.locator(f"{PANEL} button.mn-Steps-resume")).not_to_have_class(
        re.compile("mn-mod-primary")
    )
    # Another restart: the old "Resumed" box goes with the state it described.
    restart_kernel(page)
    expect(header).to_have_attribute("data-primary", "resume")
    expect(page.locator(f"{PANEL} .mn-Resume")).to_have_count(0)

    # Run again: every step restored from its checkpoint; the timeline says what it saved.
    command(page, "notebook:run-all-cells")
    expect(row(page, "three", "cached")).to_be_visible()
    page.click(f"{PANEL} .mn-Steps-tab[data-view='timeline']")
    runs = page.locator(f"{PANEL} .mn-Timeline-run")
    expect(runs.first.locator(".mn-Timeline-saved")).to_contain_text(
        re.compile(r"^restored 3 steps: saved ")
    )
    lanes = runs.first.locator(".mn-Timeline-lane")
    expect(lanes).to_have_count(3)
    assert lanes.evaluate_all("ls => ls.map(l => l.dataset.step)") == ["one", "two", "three"]
    expect(runs.first.locator(".mn-Bar[data-outcome='restored']")).to_have_count(3)
    # The first run (older, below) ran each step once.
    expect(runs.last.locator(".mn-Bar[data-outcome='ran']")).to_have_count(3)
    set_sidebar_width(page, 220)
    assert overflow(page) == []
    screenshot(page, "MIRRORNEURON_TIMELINE_SCREENSHOT")
