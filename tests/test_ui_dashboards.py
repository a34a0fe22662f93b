"""The web UI in Chromium, as a new user would use it: sign in, open the demo dashboard, rearrange and share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.browser import SCREENSHOTS, login
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


def _open_demo_dashboard(server: ServerProcess, new_context: Any) -> Any:
    watched = login(new_context(), server)
    watched.page.click("#dashboard-list a")
    watched.page.wait_for_selector("#tiles[aria-busy]", state="detached", timeout=60_000)
    return watched


def _tile_titles(page: Any) -> list[str]:
    return page.locator("#tiles .tile h3").all_inner_texts()


def test_tiles_are_rearranged_by_dragging_and_the_order_is_saved(ui_server: ServerProcess, new_context: Any) -> None:
    watched = _open_demo_dashboard(ui_server, new_context)
    page = watched.page
    before = _tile_titles(page)
    with page.expect_response(lambda r: r.request.method == "PATCH" and "/dashboards/" in r.url) as saved:
        page.drag_and_drop("#tiles .tile:nth-child(1) header", "#tiles .tile:nth-child(3) header")
    assert saved.value.ok
    after = _tile_titles(page)
    assert after[2] == before[0] and sorted(after) == sorted(before)
    page.reload()
    page.wait_for_selector("#tiles[aria-busy]", state="detached", timeout=60_000)
    assert _tile_titles(page) == after  # the layouts were stored, not just redrawn
    watched.expect_no_errors()


def test_a_date_range_applies_to_every_tile(ui_server: ServerProcess, new_context: Any) -> None:
    watched = _open_demo_dashboard(ui_server, new_context)
    page = watched.page
    with page.expect_response(lambda r: "stream_tiles" in r.url):
        page.select_option("#date-range", "-7d")
    page.wait_for_selector("#tiles[aria-busy]", state="detached", timeout=60_000)
    dashboard_id = page.url.rsplit("/", 1)[1]
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    board = httpx.get(f"{ui_server.url}/api/projects/1/dashboards/{dashboard_id}/", cookies=cookies).json()
    assert board["filters"]["date_from"] == "-7d"
    daily = next(t for t in board["tiles"] if t["insight"] and t["insight"]["name"].startswith("Daily active"))
    assert len(daily["insight"]["result"][0]["days"]) == 8  # the insight's own range is 30 days
    page.select_option("#date-range", "")
    page.wait_for_selector("#tiles[aria-busy]", state="detached", timeout=60_000)
    watched.expect_no_errors()


def test_exports_download_from_the_dashboard(ui_server: ServerProcess, new_context: Any) -> None:
    watched = _open_demo_dashboard(ui_server, new_context)
    page = watched.page
    for label, magic in (("PNG", b"\x89PNG"), ("CSV", b"")):
        with page.expect_download(timeout=90_000) as download:
            page.click(f"button:text-is('{label}')")
        content = Path(download.value.path()).read_bytes()
        assert content.startswith(magic) and len(content) > 100
    watched.expect_no_errors()


def test_share_with_a_password_in_a_fresh_context(ui_server: ServerProcess, new_context: Any) -> None:
    watched = _open_demo_dashboard(ui_server, new_context)
    page = watched.page
    page.click("#share")
    for box in ("#share-enabled", "#share-password-required"):
        with page.expect_response(lambda r: r.request.method == "PATCH" and "/sharing/" in r.url):
            page.check(box)
    page.fill("#share-new-password", "open sesame 42")
    page.click("#share-add-password")
    expect(page.locator("#share-password-shown")).to_contain_text("open sesame 42")
    expect(page.locator("#share-password-list li")).to_have_count(1)
    link = page.input_value("#share-link")
    watched.screenshot("share-dialog")

    visitor = new_context().new_page()
    errors: list[str] = []
    visitor.on("pageerror", lambda e: errors.append(str(e)))
    visitor.goto(link)
    visitor.fill("#gate-password", "wrong password")
    visitor.click("#password-gate button")
    visitor.wait_for_selector("#gate-error", state="visible")
    assert visitor.locator("#shared-content").is_hidden()
    visitor.fill("#gate-password", "open sesame 42")
    visitor.click("#password-gate button")
    visitor.wait_for_selector("#shared-content", state="visible")
    visitor.wait_for_function("document.querySelectorAll('#tiles .tile svg').length >= 4", timeout=60_000)
    visitor.screenshot(path=str(SCREENSHOTS / "shared.png"), full_page=True)
    assert not errors

    # Rotating the link kills the old one; the new one still asks for the password.
    page.click("#share-rotate")
    page.wait_for_function(f"document.querySelector('#share-link').value !== {link!r}")
    assert httpx.get(link, headers={"Accept": "application/json"}).status_code == 404
    assert httpx.get(page.input_value("#share-link"), headers={"Accept": "application/json"}).status_code == 401
    watched.expect_no_errors()
