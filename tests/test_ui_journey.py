"""The issue's acceptance script, as a new user would act, in one go: sign in, open the demo dashboard and see
every tile's chart, build a funnel and save it to a new dashboard, share that dashboard with a password, and
open the link in a fresh browser context, past the password gate."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser import FUNNEL_NAME, SCREENSHOTS, build_funnel_and_save, login
from tests.conftest import ServerProcess


def test_new_user_journey(ui_server: ServerProcess, new_context: Any) -> None:
    watched = login(new_context(), ui_server)
    page = watched.page

    page.click("#dashboard-list a:text-is('Product analytics')")
    page.wait_for_selector("#tiles[aria-busy]", state="detached", timeout=60_000)
    tiles = page.locator("#tiles .tile")
    assert tiles.count() >= 5
    for i in range(tiles.count()):
        expect(tiles.nth(i).locator(".tile-body svg")).to_have_count(1)

    page.goto(page.url.split("/dashboard/")[0] + "/dashboards")
    page.fill("#new-dashboard input[name=name]", "Checkout health")
    page.click("#new-dashboard button[type=submit]")
    page.wait_for_url("**/dashboard/*")
    expect(page.locator("#no-tiles")).to_be_visible()  # the empty state says what to do next

    build_funnel_and_save(page, ui_server, "Checkout health")
    page.click("#save-status a.dashboard-link")
    page.wait_for_selector("#tiles[aria-busy]", state="detached", timeout=60_000)
    expect(page.locator("#tiles .tile h3")).to_have_text([FUNNEL_NAME])
    expect(page.locator("#tiles .tile .tile-body svg")).to_have_count(1)

    page.click("#share")
    for box in ("#share-enabled", "#share-password-required"):
        with page.expect_response(lambda r: r.request.method == "PATCH" and "/sharing/" in r.url):
            page.check(box)
    page.click("#share-add-password")  # an empty field: the server generates a password
    expect(page.locator("#share-password-shown")).to_contain_text("shown only now")
    password = page.locator("#share-password-shown").inner_text().split("Password: ")[1].split(" (")[0]
    link = page.input_value("#share-link")
    watched.expect_no_errors()

    visitor = new_context().new_page()
    errors: list[str] = []
    visitor.on("pageerror", lambda e: errors.append(str(e)))
    visitor.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    visitor.goto(link)
    expect(visitor.locator("#password-gate")).to_be_visible()
    visitor.fill("#gate-password", password)
    visitor.click("#password-gate button")
    expect(visitor.locator("#shared-title")).to_have_text("Checkout health")
    expect(visitor.locator("#tiles .tile svg")).to_have_count(1)
    visitor.screenshot(path=str(SCREENSHOTS / "journey-shared.png"), full_page=True)
    # Only the gate's own check of the locked link (a 401 before the password) may show in the console.
    assert all("401" in e for e in errors), errors
