"""The Steps panel in Jupyter Notebook 7 (`jupyter notebook`, /notebooks/NAME.ipynb), the
same smoke test as in JupyterLab: found from the notebook's toolbar (and the command
palette's "Show Steps panel"), its rows follow a run."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from .lab import Lab
from .pages import PANEL, command, row, wait_kernel_idle, write_notebook


def test_steps_panel_in_notebook7(notebook7: Lab, page: Page) -> None:
    write_notebook(
        notebook7.root / "seven.ipynb",
        ["%load_ext mirrorneuron_nb", "%%mn_step one\nx = 1", "%%mn_step two\ny = x + 1"],
    )
    page.goto(notebook7.notebook7_url("seven.ipynb"))
    page.wait_for_selector(".jp-Notebook .jp-Cell")
    wait_kernel_idle(page)
    assert page.evaluate(
        "() => window.jupyterapp.commands.label('mirrorneuron-nb:show-steps')"
    ) == ("Show Steps panel")

    # Closed at first; the toolbar button opens it.
    expect(page.locator(PANEL)).to_be_hidden()
    page.click(".jp-NotebookPanel-toolbar .mn-ShowSteps")
    expect(page.locator(PANEL)).to_be_visible()
    expect(page.locator(f"{PANEL} .mn-Steps-headline")).to_have_text("0 of 2 good")

    command(page, "notebook:run-all-cells")
    expect(row(page, "one", "succeeded")).to_be_visible()
    expect(row(page, "two", "succeeded")).to_be_visible()
    expect(page.locator(f"{PANEL} .mn-Steps-headline")).to_have_text("2 of 2 good")
    expect(page.locator(".jp-Cell .mn-CellBadge[data-status='succeeded']")).to_have_count(2)
