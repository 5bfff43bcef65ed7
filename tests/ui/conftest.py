"""A real JupyterLab and Debian's chromium, ONE of each per test module (each test opens its
own notebooks in a fresh workspace and a fresh browser context), stopped at the end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from .lab import CHROMIUM, CHROMIUM_ARGS, Lab, hermetic_env, running_lab


def _server(tmp: Path, app: str) -> Iterator[Lab]:
    root = tmp / "root"
    root.mkdir()
    with running_lab(root, tmp / "server.log", hermetic_env(tmp / "home"), app) as server:
        yield server


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    yield from _server(tmp_path_factory.mktemp("lab"), "jupyterlab")


@pytest.fixture(scope="module")
def notebook7(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """Jupyter Notebook 7 (`jupyter notebook`): notebooks open at /notebooks/NAME.ipynb."""
    yield from _server(tmp_path_factory.mktemp("nb7"), "notebook")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        # scripts/setup.sh installs it: a missing browser is a set-up error, not a skip.
        pytest.fail(f"{CHROMIUM} is missing: run scripts/setup.sh", pytrace=False)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        # Generous: a kernel start on a loaded CI machine. Waits, not timed assertions.
        page.set_default_timeout(60_000)
        expect.set_options(timeout=60_000)
        yield page
    finally:
        context.close()
