"""The panel's "Next run" view in a real JupyterLab: before a run, after it, and after an
edit of a cell's code (saved), the actions it shows are what the next run will do."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from .lab import Lab
from .test_panel import (
    PANEL,
    command,
    open_notebook,
    row,
    write_notebook,
)


def plan_step(page: Page, step: str, action: str) -> object:
    return page.locator(f"{PANEL} li.mn-Plan-step[data-step='{step}'][data-action='{action}']")


def test_next_run_view_shows_what_will_run(lab: Lab, page: Page) -> None:
    write_notebook(
        lab.root / "plan.ipynb",
        [
            "%load_ext mirrorneuron_nb",
            "%%mn_step load\nx = list(range(5))",
            "%%mn_step fit\nm = sum(x)",
            "%%mn_step report\nr = m * 2\nprint('r is', r)",
        ],
    )
    open_notebook(page, lab, "plan.ipynb", "plan-view")

    # Keyboard: the Steps tab is focusable and the arrow key moves to "Next run".
    steps_tab = page.locator(f"{PANEL} [role='tab'][data-view='steps']")
    expect(steps_tab).to_have_attribute("aria-selected", "true")
    steps_tab.focus()
    page.keyboard.press("ArrowRight")
    plan_tab = page.locator(f"{PANEL} [role='tab'][data-view='plan']")
    expect(plan_tab).to_have_attribute("aria-selected", "true")
    expect(plan_tab).to_be_focused()
    headline = page.locator(f"{PANEL} .mn-Plan-headline")
    expect(headline).to_have_text("3 of 3 steps will run")
    for step in ("load", "fit", "report"):
        expect(plan_step(page, step, "run")).to_contain_text("new")

    # Run everything: the plan, refreshed by the panel's polling, restores every step.
    command(page, "notebook:run-all-cells")
    for step in ("load", "fit", "report"):
        expect(plan_step(page, step, "restore")).to_be_visible()
    expect(headline).to_have_text("0 of 3 steps will run")

    # Edit fit's code and save: fit runs (code changed) and report, which reads m, too.
    page.evaluate(
        """() => {
            const cell = window.jupyterapp.shell.currentWidget.content.model.cells.get(2);
            cell.sharedModel.setSource('%%mn_step fit\\nm = sum(x) + 1');
        }"""
    )
    command(page, "docmanager:save")
    fit = plan_step(page, "fit", "run")
    expect(fit.locator(".mn-Plan-reason")).to_have_text("code changed")
    report = plan_step(page, "report", "run")
    expect(report.locator(".mn-Plan-reason")).to_have_text(
        "input changed: reads m from 'fit', which runs"
    )
    expect(plan_step(page, "load", "restore")).to_be_visible()
    expect(headline).to_have_text("2 of 3 steps will run")

    # Compact: at 220 px (JupyterLab's sidebar stops at 250 px, so the panel's content is
    # set to 220 px) nothing in the panel scrolls sideways.
    overflow = page.evaluate(
        f"""() => {{
            const panel = document.querySelector('{PANEL} .mn-Steps');
            panel.style.width = '220px';
            panel.style.boxSizing = 'border-box';
            return [panel.clientWidth, panel.scrollWidth - panel.clientWidth];
        }}"""
    )
    assert overflow[0] <= 220 and overflow[1] <= 0, overflow

    # Back to the steps: the rows are there, the plan is out of the way.
    plan_tab.click()
    steps_tab.click()
    expect(row(page, "fit", "stale")).to_be_visible()
    expect(page.locator(f"{PANEL} .mn-Plan")).to_have_count(0)


def test_a_running_step_shows_its_owner(lab: Lab, page: Page) -> None:
    """The lease's owner, as the server sends it, under the running step's row."""
    write_notebook(
        lab.root / "owner.ipynb",
        ["%load_ext mirrorneuron_nb", "%%mn_step slow\nimport time\ntime.sleep(20)\ndone = 1"],
    )
    open_notebook(page, lab, "owner.ipynb", "owner-view")
    command(page, "notebook:run-all-cells")
    owner = page.locator(f"{PANEL} .mn-Step-owner")
    expect(owner).to_contain_text("running in kernel pid", timeout=15_000)
    expect(owner).to_contain_text(" on ")
    expect(row(page, "slow", "succeeded")).to_be_visible(timeout=40_000)
    expect(owner).to_have_count(0)
