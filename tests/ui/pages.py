"""What the browser tests do on a page: write and open notebooks, run JupyterLab commands,
restart the kernel, find the panel's rows, size the right sidebar, check for overflow."""

from __future__ import annotations

from pathlib import Path

import nbformat
from playwright.sync_api import Locator, Page, expect

from .lab import Lab

PANEL = "#mirrorneuron-nb-steps"


def write_notebook(path: Path, cells: list[str]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)


def open_notebook(page: Page, lab: Lab, name: str, workspace: str) -> None:
    page.goto(lab.page_url(name, workspace))
    page.wait_for_selector(".jp-Notebook .jp-Cell")
    wait_kernel_idle(page)
    # Open the Steps panel from the right sidebar.
    page.click(f".jp-SideBar.jp-mod-right .lm-TabBar-tab[data-id='{PANEL[1:]}']")
    expect(page.locator(PANEL)).to_be_visible()


def wait_kernel_idle(page: Page) -> None:
    """Until the active notebook's kernel is connected and idle."""
    page.wait_for_function(
        """() => {
            const widget = window.jupyterapp.shell.currentWidget;
            const kernel = widget?.sessionContext?.session?.kernel;
            return kernel?.status === 'idle' && kernel?.connectionStatus === 'connected';
        }"""
    )


def restart_kernel(page: Page) -> None:
    """Restart the notebook's kernel from the menu; return once the new one is idle."""
    page.evaluate(
        """() => {
            window.mnRestarted = false;
            window.jupyterapp.shell.currentWidget.sessionContext.statusChanged.connect(
                (_, status) => { window.mnRestarted ||= status === 'restarting'; });
        }"""
    )
    command(page, "kernelmenu:restart")
    page.click(".jp-Dialog .jp-mod-accept")
    page.wait_for_function("() => window.mnRestarted")
    wait_kernel_idle(page)


def row(page: Page, step: str, status: str | None = None) -> Locator:
    selector = f"{PANEL} li.mn-Step[data-step='{step}']"
    if status is not None:
        selector += f"[data-status='{status}']"
    return page.locator(selector)


def command(page: Page, name: str, args: dict[str, str] | None = None) -> None:
    """Start a JupyterLab command without waiting for it (a run-all ends when cells do)."""
    page.evaluate(
        "([name, args]) => { void window.jupyterapp.commands.execute(name, args); }",
        [name, args or {}],
    )


def cell(page: Page, index: int) -> Locator:
    return page.locator(".jp-Notebook .jp-Cell").nth(index)


def widen_right_sidebar(page: Page, pixels: int) -> None:
    """Drag the handle between the notebook and the right sidebar to the left."""
    handle = page.locator("#jp-main-split-panel > .lm-SplitPanel-handle:not(.lm-mod-hidden)").last
    box = handle.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - pixels, y, steps=5)
    page.mouse.up()


def sidebar_width(page: Page) -> float:
    box = page.locator(PANEL).bounding_box()
    assert box is not None
    return float(box["width"])


def set_sidebar_width(page: Page, target: int) -> None:
    """Drag the handle between the notebook and the right sidebar until the panel is
    `target` px wide (within a few pixels). JupyterLab's sidebars stop at 250 px
    (--jp-sidebar-min-width); narrower ones (a theme's, another front end's) are reached
    by lowering that minimum."""
    if target < 250 and not page.evaluate("() => !!document.getElementById('mn-narrow')"):
        page.add_style_tag(content=":root { --jp-sidebar-min-width: 200px !important; }")
        page.evaluate("() => { document.querySelector('style:last-of-type').id = 'mn-narrow'; }")
        # Lumino reads minimum sizes when the split panel is fitted: close and reopen.
        page.evaluate(
            """() => { const shell = window.jupyterapp.shell;
                shell.collapseRight(); shell.activateById('mirrorneuron-nb-steps'); }"""
        )
        expect(page.locator(PANEL)).to_be_visible()
    for _ in range(3):
        delta = sidebar_width(page) - target
        if abs(delta) <= 2:
            return
        widen_right_sidebar(page, -int(delta))
    assert abs(sidebar_width(page) - target) <= 4, sidebar_width(page)


# Every element of the panel: none may be wider than its box (no sideways scrolling, no
# clipped text) and none may reach past the panel's right edge. Text cut with an ellipsis
# on purpose must carry a title tooltip (on itself or an ancestor).
_OVERFLOW_JS = """(selector) => {
    const root = document.querySelector(selector);
    const edge = root.getBoundingClientRect().right + 1;
    const name = el => el.tagName.toLowerCase()
        + (typeof el.className === 'string' && el.className
            ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
    const bad = [];
    for (const el of [root, ...root.querySelectorAll('*')]) {
        const box = el.getBoundingClientRect();
        if (box.width === 0 && box.height === 0) continue;
        if (box.right > edge) bad.push(`${name(el)} ends at ${box.right} > ${edge}`);
        if (el.clientWidth === 0) continue;
        const style = getComputedStyle(el);
        if (el.scrollWidth > el.clientWidth + 1) {
            if (style.textOverflow !== 'ellipsis') {
                bad.push(`${name(el)} scrolls: ${el.scrollWidth} > ${el.clientWidth}`);
            } else if (!el.closest('[title]')) {
                bad.push(`${name(el)} is cut without a tooltip`);
            }
        }
    }
    return bad;
}"""


def overflow(page: Page, selector: str = PANEL) -> list[str]:
    """What overflows in the panel (empty: nothing)."""
    return list(page.evaluate(_OVERFLOW_JS, selector))


def fully_readable(page: Page, selector: str) -> list[str]:
    """Elements matching `selector` whose text is clipped or cut (empty: all readable)."""
    return list(
        page.evaluate(
            """(selector) => [...document.querySelectorAll(selector)].flatMap(el => {
                const style = getComputedStyle(el);
                const cut = el.scrollWidth > el.clientWidth + 1
                    || el.scrollHeight > el.clientHeight + 1
                    || style.textOverflow === 'ellipsis' && el.scrollWidth > el.clientWidth;
                return cut ? [el.textContent.slice(0, 60)] : [];
            })""",
            selector,
        )
    )
