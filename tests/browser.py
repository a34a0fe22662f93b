"""Browser fixtures (a pytest plugin): a `footfall serve` with demo data and an admin password, and Debian's
Chromium driven by playwright. Pages fail their test on any console error; screenshots go to SCREENSHOTS."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerProcess

CHROMIUM = os.environ.get("FOOTFALL_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
PASSWORD = "correct horse battery"
ADMIN = "admin@localhost"
# Without the background-networking flags Chromium keeps dialling Google's hosts, which this network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


class UIServer(ServerProcess):
    demo_api_key = ""  # the demo project's ingest key, for SDKs in test pages


@pytest.fixture(scope="session")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UIServer]:
    """One server for the browser tests: the demo project (with its dashboard) and a known admin password."""
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)  # a run's screenshots are that run's only
    server = UIServer(tmp_path_factory.mktemp("ui") / "data", env={"FOOTFALL_ADMIN_PASSWORD": PASSWORD})
    server.data_dir.mkdir(parents=True)
    demo = server.cli("demo", "--events", "30000", "--days", "30", "--json")
    server.demo_api_key = json.loads(demo.stdout)["api_key"]
    server.cli("admin", "password")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is missing at {CHROMIUM}: ./bin/test installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Watched:
    """A page whose console errors and failed scripts are collected, to be asserted empty."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def expect_no_errors(self, allowed: tuple[str, ...] = ()) -> None:
        unexpected = [e for e in self.errors if not any(a in e for a in allowed)]
        assert not unexpected, unexpected

    def screenshot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def new_context(browser: Any) -> Iterator[Any]:
    """Fresh browser contexts (separate cookies), closed after the test."""
    contexts: list[Any] = []

    def make() -> Any:
        context = browser.new_context(viewport={"width": 1360, "height": 900})
        context.set_default_timeout(30_000)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


def login(context: Any, server: ServerProcess) -> Watched:
    watched = Watched(context.new_page())
    page = watched.page
    page.goto(server.url + "/")
    page.fill("input[name=email]", ADMIN)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/project/*/dashboards")
    return watched


# The funnel `build_funnel_and_save` makes, from the demo's events.
FUNNEL_STEPS = ("View Item", "Add To Cart", "Checkout")
FUNNEL_NAME = "View to checkout funnel"


def calculate_insight(page: Any) -> None:
    """Press the insight builder's Calculate and wait for the answer (a chart, a table or an error)."""
    page.click("#calculate")
    page.wait_for_selector("#chart[aria-busy]", state="detached", timeout=60_000)


def build_funnel_and_save(page: Any, server: ServerProcess, dashboard_name: str) -> None:
    """In a signed-in page: build FUNNEL_STEPS as a funnel in the first project, see its chart, and save it as
    FUNNEL_NAME on the dashboard named `dashboard_name`. The page stays on the saved insight, whose status
    links to that dashboard (`#save-status a.dashboard-link`)."""
    page.goto(server.url + "/")
    project = page.url.split("/project/")[1].split("/")[0]
    page.goto(f"{server.url}/project/{project}/insights/new?kind=FunnelsQuery")
    page.wait_for_selector("#controls:not([aria-busy])")
    page.click("#controls button:has-text('Add step')")
    steps = page.locator("#controls input.event")
    for i, event in enumerate(FUNNEL_STEPS):
        steps.nth(i).fill(event)
    calculate_insight(page)
    assert page.locator("#query-error").is_hidden(), page.locator("#query-error").inner_text()
    page.wait_for_selector("#chart svg")
    page.fill("#insight-name", FUNNEL_NAME)
    page.select_option("#save-dashboard", label=dashboard_name)
    page.click("#save")
    page.wait_for_selector("#save-status a.dashboard-link", timeout=60_000)
