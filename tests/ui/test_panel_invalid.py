"""A `%%mn_step` cell whose name the magic refuses is a warning with the magic's error,
never a step, also while the panel has only the server's answer (the notebook's model is not
loaded yet): the server's `invalid_cells` fills in for the live cells."""

from __future__ import annotations

from playwright.sync_api import Page, Route, expect

from .lab import Lab
from .pages import PANEL, cell, row, wait_kernel_idle, write_notebook

ERROR = "invalid step name 'bad!'"


def test_invalid_name_is_a_warning_before_the_model_loads(lab: Lab, page: Page) -> None:
    name = "invalid-name.ipynb"
    write_notebook(
        lab.root / name,
        [
            "%load_ext mirrorneuron_nb",
            "%%mn_step one\nx = 1",
            "%%mn_step bad!\ny = 2",
            "%%mn_step two\nz = x + 1",
        ],
    )
    # Hold the notebook's content: JupyterLab's model of it stays unloaded while the panel
    # asks the server, as before any notebook model is ready.
    held: list[Route] = []

    def hold(route: Route) -> None:
        if held:
            route.continue_()
        else:
            held.append(route)

    page.route(lambda url: f"/api/contents/{name}" in url and "content=1" in url, hold)
    page.goto(lab.page_url(name, "invalid-name"))
    page.click(f".jp-SideBar.jp-mod-right .lm-TabBar-tab[data-id='{PANEL[1:]}']")
    warning = page.locator(f"{PANEL} .mn-Steps-invalidCell[data-name='bad!']")
    expect(warning).to_contain_text(ERROR)
    expect(warning).to_contain_text("cell 3:")
    expect(page.locator(f"{PANEL} .mn-Steps-headline")).to_have_text("0 of 2 good")
    expect(row(page, "bad!")).to_have_count(0)
    # Really without the model: the notebook's content is not loaded yet.
    assert held, "the notebook's content was never requested"
    assert page.evaluate("() => window.jupyterapp.shell.currentWidget.context.isReady") is False

    # Once loaded, the live cells say the same, and the cell carries the warning badge.
    held[0].continue_()
    page.wait_for_function("() => window.jupyterapp.shell.currentWidget.context.isReady")
    wait_kernel_idle(page)
    expect(cell(page, 2).locator(".mn-CellBadge")).to_have_attribute("data-status", "invalid")
    expect(cell(page, 2).locator(".mn-CellBadge")).to_contain_text(ERROR)
    expect(warning).to_contain_text(ERROR)
    expect(page.locator(f"{PANEL} .mn-Steps-headline")).to_have_text("0 of 2 good")
    expect(row(page, "bad!")).to_have_count(0)
