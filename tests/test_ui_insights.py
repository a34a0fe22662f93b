"""The insight builder in Chromium, as an analyst would use it on the demo data: trends with a breakdown, a funnel
saved to the demo dashboard and edited again, a retention table, every other kind, a query's error, and the
saved insights list."""

from __future__ import annotations

from typing import Any

from tests.browser import FUNNEL_NAME, FUNNEL_STEPS, Watched, build_funnel_and_save, calculate_insight, login
from tests.conftest import ServerProcess

DEMO_DASHBOARD = "Product analytics"  # the demo's dashboard, from PostHog's product analytics template


def open_builder(watched: Watched, kind: str) -> None:
    """A new insight of `kind` in the signed-in project, once its first calculation has finished."""
    page = watched.page
    project = page.url.split("/project/")[1].split("/")[0]
    page.goto(f"{page.url.split('/project/')[0]}/project/{project}/insights/new?kind={kind}")
    builder_ready(page)


def builder_ready(page: Any) -> None:
    """The builder has its controls (the calculation starts with them) and has finished calculating."""
    page.wait_for_selector("#controls:not([aria-busy])")
    page.wait_for_selector("#chart[aria-busy]", state="detached", timeout=60_000)


def test_trends_with_a_breakdown_draws_a_chart(ui_server: ServerProcess, new_context: Any) -> None:
    watched = login(new_context(), ui_server)
    page = watched.page
    open_builder(watched, "TrendsQuery")
    # The event and property inputs suggest what the project has (PostHog's event and property definitions).
    page.wait_for_selector("#ff-events option[value='Add To Cart']", state="attached")
    page.wait_for_selector("#ff-event-properties option[value='category']", state="attached")
    page.fill("[aria-label='series A']", "View Item")
    page.select_option("[aria-label=Math]", "dau")
    page.fill("[aria-label='Breakdown property']", "category")
    page.select_option("[aria-label='Date range']", "-30d")
    page.select_option("[aria-label=Interval]", "week")
    calculate_insight(page)
    assert page.locator("#chart svg").count() == 1
    rows = page.locator("#trends-table tbody tr").all_inner_texts()
    assert len(rows) >= 3, rows  # one line per category
    assert all(row.split("\t")[0] == "View Item" for row in rows), rows
    assert len({row.split("\t")[1] for row in rows}) == len(rows), rows
    watched.screenshot("insight-trends")

    # A filter on all events (several values: any of them) leaves only those values in the breakdown.
    page.click("fieldset:has(legend:text-is('Filters')) button:has-text('Filter')")
    page.fill("[aria-label='Filter property']", "category")
    page.fill("[aria-label='Filter value']", "Shoes, Books")
    calculate_insight(page)
    rows = page.locator("#trends-table tbody tr").all_inner_texts()
    assert sorted(row.split("\t")[1] for row in rows) == ["Books", "Shoes"], rows
    watched.expect_no_errors()


def test_a_funnel_saved_to_the_demo_dashboard_renders_there_and_can_be_edited(
    ui_server: ServerProcess, new_context: Any
) -> None:
    watched = login(new_context(), ui_server)
    page = watched.page
    build_funnel_and_save(page, ui_server, DEMO_DASHBOARD)
    assert "/insight/" in page.url  # the new insight's own address, for reloading and sharing
    steps = [row.split("\t") for row in page.locator("#funnel-steps tbody tr").all_inner_texts()]
    assert [s[0] for s in steps] == [f"{i + 1}. {e}" for i, e in enumerate(FUNNEL_STEPS)]
    assert steps[0][2] == "100.0%"
    persons = [int(s[1].replace(",", "")) for s in steps]
    assert persons[0] >= persons[1] >= persons[2] > 0
    assert steps[1][4] != "–" and steps[1][5] != "–", steps  # average and median time to convert
    watched.screenshot("insight-funnel")

    page.click("#save-status a.dashboard-link")
    page.wait_for_selector("#tiles[aria-busy]", state="detached", timeout=60_000)
    tile = page.locator("#tiles .tile", has_text=FUNNEL_NAME).last
    assert tile.locator("svg").count() >= 1, tile.inner_text()

    # The tile's title opens the builder on the saved funnel; saving again updates it in place.
    tile.locator("h3 a").click()
    page.wait_for_url("**/insight/*")
    builder_ready(page)
    assert page.locator("[role=tab][aria-selected=true]").inner_text() == "Funnel"
    assert [page.locator("#controls input.event").nth(i).input_value() for i in range(3)] == list(FUNNEL_STEPS)
    assert page.locator("#save-status a.dashboard-link").inner_text() == DEMO_DASHBOARD
    page.get_by_label("Step order").select_option("strict")
    page.fill("#insight-name", "Strict checkout funnel")
    page.click("#save")
    page.wait_for_selector("#save-status.saved")
    assert page.locator("#insight-title").inner_text() == "Strict checkout funnel"

    # Time to convert: a histogram between the first and last step, and its numbers.
    page.select_option("[aria-label='Funnel view']", "time_to_convert")
    calculate_insight(page)
    assert page.locator("#chart svg").count() == 1
    assert page.locator("#result-table").inner_text().startswith("Average time to convert: ")
    bins = page.locator("#time-to-convert tbody tr").all_inner_texts()
    persons = [int(row.split("\t")[1].replace(",", "")) for row in bins]
    assert sum(persons) > 0
    watched.expect_no_errors()


def test_retention_shows_a_heat_map_and_a_cohort_table(ui_server: ServerProcess, new_context: Any) -> None:
    watched = login(new_context(), ui_server)
    page = watched.page
    open_builder(watched, "RetentionQuery")
    page.select_option("[aria-label='Retention type']", "retention_recurring")
    calculate_insight(page)
    assert page.locator("#chart svg").count() == 1
    table = page.locator("#retention-table")
    assert table.locator("thead th").all_text_contents()[:4] == ["Cohort", "Persons", "Day 0", "Day 1"]
    rows = table.locator("tbody tr")
    assert rows.count() == 8
    assert rows.first.locator("td").nth(2).inner_text().startswith("100.0%")
    watched.screenshot("insight-retention")
    watched.expect_no_errors()


def test_lifecycle_stickiness_and_paths_draw_and_keep_the_event(ui_server: ServerProcess, new_context: Any) -> None:
    watched = login(new_context(), ui_server)
    page = watched.page
    open_builder(watched, "TrendsQuery")
    page.fill("[aria-label='series A']", "View Item")
    for tab in ("Lifecycle", "Stickiness", "Paths"):
        page.click(f"[role=tab]:has-text('{tab}')")
        page.wait_for_selector("#chart[aria-busy]", state="detached", timeout=60_000)
        assert page.locator("#query-error").is_hidden(), page.locator("#query-error").inner_text()
        assert page.locator("#chart svg").count() == 1, tab
        watched.screenshot(f"insight-{tab.lower()}")
        if tab != "Paths":  # the event chosen under Trends carries over
            assert page.locator("#controls input.event").first.input_value() == "View Item"
    assert page.url.endswith("?kind=PathsQuery")
    watched.expect_no_errors()


def test_a_query_error_is_shown_in_the_page(ui_server: ServerProcess, new_context: Any) -> None:
    watched = login(new_context(), ui_server)
    page = watched.page
    open_builder(watched, "TrendsQuery")
    page.select_option("[aria-label=Math]", "sum")  # a property math, left without its property
    calculate_insight(page)
    error = page.locator("#query-error")
    assert error.is_visible()
    assert "needs a property" in error.inner_text()
    assert page.locator("#chart svg").count() == 0
    watched.expect_no_errors(allowed=("status of 400",))  # Chromium logs the failed request itself


def test_the_insights_list_searches_and_opens_insights(ui_server: ServerProcess, new_context: Any) -> None:
    watched = login(new_context(), ui_server)
    page = watched.page
    page.click("header nav a:has-text('Insights')")
    rows = page.locator("#insight-list tbody tr")
    assert rows.count() >= 5  # the demo dashboard's
    retention = rows.filter(has_text="Retention").first
    assert retention.locator("td").nth(1).inner_text() == "Retention"
    assert DEMO_DASHBOARD in retention.locator("td").nth(2).inner_text()
    watched.screenshot("insights")

    page.fill("input[name=search]", "active users")
    page.press("input[name=search]", "Enter")
    page.wait_for_url("**search=active*")
    names = page.locator("#insight-list tbody tr td:first-child a").all_inner_texts()
    assert names and all("active users" in n.lower() for n in names), names

    page.fill("input[name=search]", "no insight is called this")
    page.press("input[name=search]", "Enter")
    assert "No insights match" in page.locator(".empty").inner_text()

    page.click(".empty a:has-text('Show all insights')")
    page.locator("#insight-list tbody tr", has_text="Growth accounting").locator("a").first.click()
    page.wait_for_url("**/insight/*")
    builder_ready(page)
    assert page.locator("[role=tab][aria-selected=true]").inner_text() == "Lifecycle"
    assert page.locator("#chart svg").count() == 1
    watched.expect_no_errors()
