"""The events explorer and people pages in Chromium: demo events filtered, a live tail of events sent while the
page is open (over HTTP, and from the unchanged posthog-js on another site), a person's properties, distinct ids
and timeline."""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser import UIServer, Watched, login

POSTHOG_JS = Path(__file__).parent / "js" / "node_modules" / "posthog-js" / "dist" / "array.full.js"
TAIL_TIMEOUT_MS = 30_000  # posthog-js sends every few seconds; the tail polls every 2 s


def open_page(watched: Watched, server: UIServer, page_path: str) -> Any:
    """A page of the signed-in user's first project (the demo), e.g. `events?event=Search`."""
    project = watched.page.url.split("/project/")[1].split("/")[0]
    watched.page.goto(f"{server.url}/project/{project}/{page_path}")
    return watched.page


def events_page(watched: Watched, server: UIServer, query: str = "") -> Any:
    page = open_page(watched, server, f"events{query}")
    page.wait_for_selector("#events-table:not([aria-busy])", state="attached")
    return page


def event_names(page: Any) -> list[str]:
    return page.locator("#events-body tr.event-row td.event-name").all_inner_texts()


def send_event(server: UIServer, name: str, distinct_id: str) -> None:
    body = {"api_key": server.demo_api_key, "event": name, "distinct_id": distinct_id, "properties": {"via": "test"}}
    assert httpx.post(server.url + "/capture/", json=body).status_code == 200


def test_explorer_shows_demo_events_and_filters_them(ui_server: UIServer, new_context: Any) -> None:
    watched = login(new_context(), ui_server)
    page = events_page(watched, ui_server)
    names = event_names(page)
    assert len(names) == 100 and len(set(names)) > 3  # a page of the demo's many kinds of event
    times = page.locator("#events-body time").evaluate_all("nodes => nodes.map(n => n.dateTime)")
    assert times == sorted(times, reverse=True)  # newest first
    expect(page.locator("#live-status")).to_have_text("Live")
    watched.screenshot("events")

    page.fill("#event-filters [name=event]", "$pageview")
    page.fill("#event-filters [name=key]", "$browser")
    page.select_option("#event-filters [name=operator]", "exact")
    page.fill("#event-filters [name=value]", "Chrome")
    page.click("#event-filters button[type=submit]")
    page.wait_for_selector("#events-table:not([aria-busy])", state="attached")
    assert set(event_names(page)) == {"$pageview"}
    assert "event=%24pageview" in page.url and "key=%24browser" in page.url  # a filtered view is a link

    # A row opens to the whole event, with a link to its person.
    first = page.locator("#events-body tr.event-row").first
    first.click()
    detail = page.locator("#events-body tr.event-detail").first
    expect(detail.locator("pre")).to_contain_text('"$browser": "Chrome"')
    distinct_id = detail.inner_text().split("distinct_id ")[1].split()[0]
    assert detail.locator("a").get_attribute("href").startswith("/project/")

    page.click("#clear-filters")
    page.fill("#event-filters [name=distinct_id]", distinct_id)
    page.click("#event-filters button[type=submit]")
    page.wait_for_selector("#events-table:not([aria-busy])", state="attached")
    rows = page.locator("#events-body tr.event-row")
    assert rows.count() >= 1
    page.reload()  # the filters come back from the address
    page.wait_for_selector("#events-table:not([aria-busy])", state="attached")
    assert page.input_value("#event-filters [name=distinct_id]") == distinct_id

    page.fill("#event-filters [name=event]", "no such event anywhere")
    page.click("#event-filters button[type=submit]")
    expect(page.locator("#no-matches")).to_be_visible()
    page.click("#no-matches [data-clear]")
    page.wait_for_selector("#events-table:not([aria-busy])", state="attached")
    assert len(event_names(page)) == 100
    watched.expect_no_errors()


def test_live_tail_shows_events_sent_while_the_page_is_open(ui_server: UIServer, new_context: Any) -> None:
    watched = login(new_context(), ui_server)
    page = events_page(watched, ui_server)
    name = f"tail check {uuid.uuid4().hex[:8]}"
    send_event(ui_server, name, "tail-tester")
    newest = page.locator("#events-body tr.event-row").first
    expect(newest.locator("td.event-name")).to_have_text(name, timeout=TAIL_TIMEOUT_MS)
    assert event_names(page).count(name) == 1  # each poll looks back, but shows an event once

    # Paused, nothing new is shown; resumed, what arrived meanwhile appears.
    page.click("#pause")
    expect(page.locator("#live-status")).to_have_text("Paused")
    send_event(ui_server, name + " while paused", "tail-tester")
    page.wait_for_timeout(5_000)
    assert name + " while paused" not in event_names(page)
    page.click("#pause")
    expect(newest.locator("td.event-name")).to_have_text(name + " while paused", timeout=TAIL_TIMEOUT_MS)
    watched.expect_no_errors()


def test_people_list_search_and_a_persons_page(ui_server: UIServer, new_context: Any) -> None:
    watched = login(new_context(), ui_server)
    page = open_page(watched, ui_server, "persons")
    page.wait_for_selector("#persons-table:not([aria-busy])")
    expect(page.locator("#persons-count")).to_contain_text("1–50 of")
    page.click("#persons-next")
    expect(page.locator("#persons-count")).to_contain_text("51–100 of")
    watched.screenshot("persons")

    page.fill("#person-search [name=search]", "@example.com")
    page.click("#person-search button")
    expect(page.locator("#persons-count")).to_have_text(re.compile(r"^1–\d+ of"))
    names = page.locator("#persons-body td:first-child a").all_inner_texts()
    assert names and all("@example.com" in n for n in names)
    identified = page.locator("#persons-body tr", has_text="more").first  # merged: several distinct ids
    email = identified.locator("td:first-child a").inner_text()
    identified.locator("td:first-child a").click()

    page.wait_for_selector("#timeline:not([aria-busy])")
    page.wait_for_selector("#person-summary:not([aria-busy])")
    expect(page.locator("#person-name")).to_have_text(email)
    expect(page.locator("#person-properties")).to_contain_text(email)
    assert page.locator("#person-distinct-ids li").count() >= 2
    expect(page.locator("#person-summary .stat").first).not_to_contain_text("—")  # Events: a count
    assert page.locator("#timeline .timeline-day h3").count() >= 1
    sessions = page.locator("#timeline .session")
    assert sessions.count() >= 1 and sessions.first.locator("li").count() >= 1
    sessions.first.locator("li").first.click()
    expect(sessions.first.locator("li pre").first).to_be_visible()
    watched.screenshot("person")
    page.fill("#property-filter", "email")
    assert page.locator("#person-properties tr").count() == 1
    watched.expect_no_errors()


@pytest.fixture
def shop_site(tmp_path: Path) -> Iterator[str]:
    """Another site than footfall (another origin), serving a page and posthog-js as npm ships it."""
    if not POSTHOG_JS.exists():
        pytest.fail(f"posthog-js is missing at {POSTHOG_JS}: ./bin/test installs it with npm (tests/js)")
    shutil.copy(POSTHOG_JS, tmp_path / "array.full.js")
    (tmp_path / "index.html").write_text(
        """<!doctype html><html><head><title>Shop</title><link rel="icon" href="data:,">
<script src="/array.full.js"></script></head><body><h1>A shop</h1><script>
  const params = new URLSearchParams(location.search);
  posthog.init(params.get("key"), {
    api_host: params.get("host"),
    bootstrap: { distinctID: params.get("distinct_id") },
    capture_pageview: true,
    opt_out_useragent_filter: true,  // headless Chromium looks like a bot, whose events posthog-js drops
  });
  posthog.capture(params.get("event"), { plan: "pro" });
</script></body></html>"""
    )

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(tmp_path)))
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{site.server_address[1]}"
    site.shutdown()
    site.server_close()


def test_posthog_js_pageview_and_event_appear_in_the_live_tail(
    ui_server: UIServer, new_context: Any, shop_site: str
) -> None:
    context = new_context()
    watched = login(context, ui_server)
    visitor = f"js-{uuid.uuid4().hex[:10]}"
    page = events_page(watched, ui_server, f"?distinct_id={visitor}")
    expect(page.locator("#no-matches")).to_be_visible()

    shop = Watched(context.new_page())
    query = httpx.QueryParams(key=ui_server.demo_api_key, host=ui_server.url, distinct_id=visitor, event="signed_up")
    shop.page.goto(f"{shop_site}/?{query}")
    shop.page.wait_for_function("window.posthog && window.posthog.__loaded")

    for name in ("$pageview", "signed_up"):
        cell = page.locator("#events-body td.event-name").get_by_text(name, exact=True)
        expect(cell).to_have_count(1, timeout=TAIL_TIMEOUT_MS)
    page.locator("#events-body td.event-name").get_by_text("signed_up", exact=True).click()
    expect(page.locator("#events-body tr.event-detail pre")).to_contain_text('"$lib": "web"')
    shop.expect_no_errors()  # /flags, /decide and the remote config answered as posthog-js expects
    watched.expect_no_errors()
