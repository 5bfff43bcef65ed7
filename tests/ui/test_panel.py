"""The Steps panel in a real JupyterLab, driven through Debian's chromium.

Every wait is for something to appear on the page (no sleeps, no timed assertions).
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from .lab import Lab
from .pages import (
    PANEL,
    cell,
    command,
    open_notebook,
    restart_kernel,
    row,
    wait_kernel_idle,
    write_notebook,
)


def test_run_fail_restart_resume(lab: Lab, page: Page) -> None:
    # The kernel runs in the notebook's folder: `fit` waits there for the test's go-ahead.
    flag = lab.root / "go.flag"
    write_notebook(
        lab.root / "analysis.ipynb",
        [
            "%load_ext mirrorneuron_nb",
            "%%mn_step load\nnumbers = list(range(10))\ntotal = sum(numbers)\n"
            "print('loaded', len(numbers), 'numbers')",
            "%%mn_step fit\nimport os, time\n"
            "while not os.path.exists('go.flag'):\n    time.sleep(0.05)\n"
            "model = {'mean': total / len(numbers)}",
            "%%mn_step report\nraise ValueError('bad input file')",
            "print('restored total =', total)",
        ],
    )
    open_notebook(page, lab, "analysis.ipynb", "run-fail-resume")
    headline = page.locator(f"{PANEL} .mn-Steps-headline")
    kernel = page.locator(f"{PANEL} .mn-Steps-kernel")

    # Steps that never ran are listed, in notebook order, as pending.
    expect(headline).to_contain_text("0 of 3 good")
    expect(page.locator(f"{PANEL} li.mn-Step")).to_have_count(3)
    names = page.locator(f"{PANEL} .mn-Step-name").all_inner_texts()
    assert names == ["load", "fit", "report"]
    expect(row(page, "report", "pending")).to_be_visible()

    # Run everything: `fit` blocks until the test releases it, so its row shows running.
    command(page, "notebook:run-all-cells")
    expect(row(page, "load", "succeeded")).to_be_visible()
    expect(row(page, "fit", "running")).to_be_visible()
    flag.touch()
    expect(row(page, "fit", "succeeded")).to_be_visible()

    # The failure shows its error line, which expands to the traceback.
    failed = row(page, "report", "failed")
    expect(failed).to_be_visible()
    error = failed.locator(".mn-Step-error")
    expect(error).to_contain_text("ValueError: bad input file")
    error.click()
    expect(failed.locator(".mn-Step-traceback")).to_contain_text("raise ValueError")
    expect(headline).to_contain_text("2 of 3 good")

    # The step cells carry badges that match the panel.
    expect(page.locator(".jp-Cell .mn-CellBadge[data-status='succeeded']")).to_have_count(2)
    expect(page.locator(".jp-Cell .mn-CellBadge[data-status='failed']")).to_have_count(1)

    # Restart the kernel: the panel keeps its rows (it reads the sidecar, not the kernel)
    # and says the state is gone.
    command(page, "kernelmenu:restart")
    page.click(".jp-Dialog .jp-mod-accept")
    expect(kernel).to_contain_text("kernel restarted — state not loaded")
    expect(row(page, "load", "succeeded")).to_be_visible()
    wait_kernel_idle(page)

    # Resume: %mn_resume runs in this kernel and the panel shows its summary.
    page.click(f"{PANEL} button.mn-Steps-resume")
    output = page.locator(f"{PANEL} .mn-Resume")
    expect(output).to_contain_text("restored 5 variable(s) from 2 step(s)")
    expect(output.locator(".mn-Resume-list dt")).to_have_text(
        ["numbers", "total", "model", "os", "time"]
    )
    expect(kernel).to_contain_text("state loaded")

    # A cell that uses a restored variable sees its value.
    cell(page, 4).locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    expect(cell(page, 4).locator(".jp-Cell-outputArea")).to_contain_text("restored total = 45")


def test_reset_jump_and_run_from_first_unfinished(lab: Lab, page: Page) -> None:
    write_notebook(
        lab.root / "pipeline.ipynb",
        [
            "%load_ext mirrorneuron_nb",
            "%%mn_step first\na = 20",
            "%%mn_step second\nb = a + 1",
            "%%mn_step third\nc = b * 2\nprint('c is', c)",
        ],
    )
    open_notebook(page, lab, "pipeline.ipynb", "reset-run-from")
    command(page, "notebook:run-all-cells")
    for step in ("first", "second", "third"):
        expect(row(page, step, "succeeded")).to_be_visible()
    expect(page.locator(f"{PANEL} button.mn-Steps-runFrom")).to_be_disabled()

    # Click a row: its cell becomes the active one.
    row(page, "second").locator(".mn-Step-main").click()
    expect(page.locator(".jp-Notebook .jp-Cell.jp-mod-active")).to_contain_text("%%mn_step second")

    # Reset asks first; cancelling changes nothing.
    row(page, "second").locator("button.mn-Step-reset").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text("Reset step second?")
    dialog.locator("button", has_text="Cancel").click()
    expect(row(page, "second", "succeeded")).to_be_visible()

    row(page, "second").locator("button.mn-Step-reset").click()
    page.locator(".jp-Dialog button", has_text="Reset").click()
    expect(row(page, "second", "pending")).to_be_visible()
    expect(page.locator(f"{PANEL} .mn-Steps-headline")).to_contain_text("2 of 3 good")

    # Run from the first unfinished step: resume, then `second` runs again and `third`,
    # whose input did not change, is served from its checkpoint.
    page.click(f"{PANEL} button.mn-Steps-runFrom")
    expect(row(page, "second", "succeeded")).to_be_visible()
    expect(row(page, "third", "cached")).to_be_visible()
    expect(page.locator(f"{PANEL} .mn-Steps-output")).to_contain_text(
        re.compile(r"Resumed; ran from second")
    )
    expect(cell(page, 3).locator(".jp-Cell-outputArea")).to_contain_text("c is 42")

    # Another notebook whose sidecar is corrupted: the panel follows it and says so.
    write_notebook(lab.root / "damaged.ipynb", ["%%mn_step only\nx = 1"])
    (lab.root / "damaged.mn").mkdir()
    (lab.root / "damaged.mn" / "state.sqlite").write_bytes(b"not a database" * 100)
    command(page, "docmanager:open", {"path": "damaged.ipynb"})
    alert = page.locator(f"{PANEL} .mn-Steps-error")
    expect(alert).to_contain_text("sidecar database is unreadable")
    expect(alert).to_contain_text("sidecar_damaged")


def test_approval_gate_decided_in_the_panel(lab: Lab, page: Page) -> None:
    write_notebook(
        lab.root / "agent.ipynb",
        [
            "%load_ext mirrorneuron_nb\nimport mirrorneuron_nb as mn\n\n"
            "@mn.durable\ndef summarize(doc):\n    return doc.upper()",
            "%%mn_step summarize --kind llm\nsummaries = [summarize(d) for d in 'abc']",
            '%%mn_step publish --once --approve "Ship it?"\nprint("shipped", len(summaries))',
        ],
    )
    open_notebook(page, lab, "agent.ipynb", "approval-gate")
    command(page, "notebook:run-all-cells")

    # The LLM step ran its durable calls; the gate stopped the cell without running it.
    summarize = row(page, "summarize", "succeeded")
    expect(summarize.locator(".mn-Step-tag")).to_have_text(["llm"])
    summarize.locator("button.mn-Step-details").click()
    expect(summarize.locator(".mn-Step-durable")).to_have_text("3 calls recorded")
    publish = row(page, "publish", "awaiting_approval")
    expect(publish.locator(".mn-Step-status")).to_have_text("awaiting approval")
    expect(publish.locator(".mn-Step-tag")).to_have_text(["once"])
    expect(publish.locator(".mn-Step-question")).to_have_text("Ship it?")
    expect(cell(page, 2).locator(".jp-Cell-outputArea")).to_contain_text("ApprovalRequired")
    expect(page.locator(f"{PANEL} .mn-Steps-headline")).to_contain_text("1 awaiting approval")

    # Approve in the panel, with a note: the row says who approved and what to do next.
    publish.locator(".mn-Step-approvalNote").fill("looks good")
    publish.locator("button.mn-Step-approve").click()
    approved = row(page, "publish", "approved")
    expect(approved.locator(".mn-Step-decision")).to_contain_text(
        re.compile(r"approved by .+: looks good — re-run the step to continue")
    )
    expect(approved.locator("button.mn-Step-approve")).to_have_count(0)

    # Re-run the step: it passes the gate and runs.
    approved.locator("button.mn-Step-rerun").click()
    expect(row(page, "publish", "succeeded")).to_be_visible()
    expect(cell(page, 2).locator(".jp-Cell-outputArea")).to_contain_text("shipped 3")
    expect(page.locator(".jp-Cell .mn-CellBadge[data-status='succeeded']")).to_have_count(2)


def test_inputs_from_plain_cells_are_offered_after_a_restart(lab: Lab, page: Page) -> None:
    write_notebook(
        lab.root / "params.ipynb",
        [
            "%load_ext mirrorneuron_nb",
            "rate = 3\nprint('rate set')",
            "%%mn_step scaled\nvalues = [rate * i for i in range(4)]\nprint('values', values)",
            "print('rate', rate, 'values', values)",
        ],
    )
    open_notebook(page, lab, "params.ipynb", "missing-inputs")
    command(page, "notebook:run-all-cells")
    expect(row(page, "scaled", "succeeded")).to_be_visible()
    expect(cell(page, 3).locator(".jp-Cell-outputArea")).to_contain_text("values [0, 3, 6, 9]")

    # Restart: `rate` came from a plain cell, which nobody checkpointed.
    restart_kernel(page)
    expect(page.locator(f"{PANEL} .mn-Steps-kernel")).to_contain_text(
        "kernel restarted — state not loaded"
    )
    command(page, "notebook:clear-all-cell-outputs")
    cell(page, 0).locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    expect(cell(page, 0).locator(".jp-InputPrompt")).to_have_text("[1]:")

    # Re-run the step: its body does not run, the cell names the cell to run, and the
    # panel offers to run it (the step stays good).
    row(page, "scaled").locator("button.mn-Step-rerun").click()
    expect(cell(page, 2).locator(".jp-Cell-outputArea")).to_contain_text(
        "rate (cell 2, not a step)"
    )
    scaled = row(page, "scaled", "succeeded")
    expect(scaled.locator(".mn-Step-missing")).to_have_text("needs rate from cell 2")
    offer = scaled.locator("button.mn-Step-runMissing")
    expect(offer).to_have_text("Run cell 2, then this step")

    # A cell added above since the save moves every cell down: the cells are found by id.
    page.evaluate(
        """() => window.jupyterapp.shell.currentWidget.content.model.sharedModel.insertCell(
            0, {cell_type: 'markdown', source: 'Added after the save'})"""
    )
    expect(cell(page, 2)).to_contain_text("rate = 3")

    # The offer outlives the kernel: in a newer one (the extension not loaded yet) too.
    restart_kernel(page)
    expect(offer).to_have_text("Run cell 2, then this step")

    # Click it: the plain cell runs, then the step, served from its checkpoint.
    offer.click()
    expect(row(page, "scaled", "cached")).to_be_visible()
    expect(cell(page, 2).locator(".jp-Cell-outputArea")).to_contain_text("rate set")
    expect(cell(page, 3).locator(".jp-Cell-outputArea")).to_contain_text("values [0, 3, 6, 9]")
    expect(cell(page, 2).locator(".jp-InputPrompt")).to_have_text("[1]:")
    expect(cell(page, 3).locator(".jp-InputPrompt")).to_have_text("[2]:")
    expect(row(page, "scaled").locator(".mn-Step-missing")).to_have_count(0)

    # The kernel has both values back.
    cell(page, 4).locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    expect(cell(page, 4).locator(".jp-Cell-outputArea")).to_contain_text(
        "rate 3 values [0, 3, 6, 9]"
    )
