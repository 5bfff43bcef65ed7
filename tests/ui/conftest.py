"""A real JupyterLab and Debian's chromium, per test, both stopped at the end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from .lab import CHROMIUM, CHROMIUM_ARGS, Lab, running_lab


@pytest.fixture
def lab(tmp_path: Path, hermetic: Path) -> Iterator[Lab]:
    root = tmp_path / "root"
    root.mkdir()
    with running_lab(root, tmp_path / "jupyter-lab.log") as server:
        yield server


@pytest.fixture
def page(lab: Lab) -> Iterator[Page]:
    if not Path(CHROMIUM).exists():
        # scripts/setup.sh installs it: a missing browser is a set-up error, not a skip.
        pytest.fail(f"{CHROMIUM} is missing: run scripts/setup.sh", pytrace=False)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            page = context.new_page()
            # Generous: a kernel start on a loaded CI machine. Waits, not timed assertions.
            page.set_default_timeout(60_000)
            expect.set_options(timeout=60_000)
            yield page
        finally:
            browser.close()
