"""The web UI in Chromium, as a new user would use it: sign in, open the demo dashboard, rearrange and share."""

from __future__ import annotations

from typing import Any

import httpx

from tests.browser import login
from tests.conftest import ServerProcess


def test_login_is_required_and_a_wrong_password_is_refused(ui_server: ServerProcess, new_context: Any) -> None:
    page = new_context().new_page()
    page.goto(ui_server.url + "/project/1/dashboards")
    assert "/login" in page.url
    page.fill("input[name=email]", "admin@localhost")
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    assert page.locator("[role=alert]").inner_text() == "Wrong email or password."
    # The API refuses a browser without a session, and a session without the CSRF token cannot write.
    assert httpx.get(ui_server.url + "/api/projects/1/dashboards/").status_code == 401


def test_demo_dashboard_renders_every_tile(ui_server: ServerProcess, new_context: Any) -> None:
    watched = login(new_context(), ui_server)
    page = watched.page
    watched.screenshot("dashboards")
    page.click("#dashboard-list a")
    page.wait_for_selector("#tiles[aria-busy]", state="detached", timeout=60_000)
    tiles = page.locator("#tiles .tile")
    assert tiles.count() >= 4
    for i in range(tiles.count()):
        assert tiles.nth(i).locator("svg").count() >= 1, tiles.nth(i).inner_text()
    watched.screenshot("dashboard")
    watched.expect_no_errors()
