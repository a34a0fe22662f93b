"""Project settings in Chromium: a new project from the switcher (its keys shown once), its time zone, a new
Amplitude secret shown once, a personal API key shown once, and SDK snippets with this server's address."""

from __future__ import annotations

import itertools
import os
from typing import Any

import httpx

from tests.browser import Watched, login
from tests.conftest import ServerProcess

_names = itertools.count()


def _new_project(watched: Watched) -> tuple[int, str]:
    """A project made with the switcher's "New project…", then opened; its id and secret key."""
    page = watched.page
    page.select_option("#project-switcher", "new")
    page.wait_for_selector("#new-project[open]")
    name = f"Web shop {os.getpid()}-{next(_names)}"
    page.fill("#new-project-form input[name=name]", name)
    page.select_option("#new-project-form select[name=timezone]", "Europe/Berlin")
    page.click("#new-project-form button[type=submit]")
    page.wait_for_selector("#new-project-keys:not([hidden])")
    api_key, secret = page.input_value("#new-api-key"), page.input_value("#new-secret-key")
    assert api_key and secret
    watched.screenshot("settings-new-project")
    page.click("#new-project-go")
    page.wait_for_url("**/settings")
    project_id = int(page.url.split("/")[-2])
    assert page.locator("#project-switcher option:checked").inner_text() == name
    page.wait_for_function(f"document.querySelector('#api-key').value === {api_key!r}")
    assert page.input_value("#project-timezone") == "Europe/Berlin"
    assert secret not in page.content()  # shown once, in the dialog only
    return project_id, secret


def _api_key(page: Any) -> str:
    return page.input_value("#api-key")


def _accept_confirm(page: Any) -> None:
    page.once("dialog", lambda dialog: dialog.accept())


def test_a_new_project_its_time_zone_and_a_new_secret(ui_server: ServerProcess, new_context: Any) -> None:
    watched = login(new_context(), ui_server)
    page = watched.page
    project_id, first_secret = _new_project(watched)
    key = _api_key(page)
    amplitude = f"{ui_server.url}/api/2/annotations"
    assert httpx.get(amplitude, auth=(key, first_secret)).status_code == 200

    page.select_option("#project-timezone", "America/New_York")
    with page.expect_response(lambda r: r.request.method == "PATCH" and r.url.endswith(f"/{project_id}/")) as saved:
        page.click("#project-form button[type=submit]")
    assert saved.value.ok
    page.reload()
    page.wait_for_function(f"document.querySelector('#api-key').value === {key!r}")
    assert page.input_value("#project-timezone") == "America/New_York"

    _accept_confirm(page)
    page.click("#reset-secret")
    page.wait_for_selector("#secret-shown:not([hidden])")
    secret = page.input_value("#secret-value")
    assert secret and secret != first_secret
    assert httpx.get(amplitude, auth=(key, first_secret)).status_code == 401
    assert httpx.get(amplitude, auth=(key, secret)).status_code == 200
    page.reload()
    page.wait_for_function(f"document.querySelector('#api-key').value === {key!r}")
    assert page.locator("#secret-shown").is_hidden() and secret not in page.content()

    # Resetting the API key (after a confirm) breaks the old key for SDKs; the snippets follow.
    _accept_confirm(page)
    page.click("#reset-token")
    page.wait_for_function(f"document.querySelector('#api-key').value !== {key!r}")
    new_key = _api_key(page)
    batch = {"batch": [{"event": "ping", "distinct_id": "d"}]}
    assert httpx.post(f"{ui_server.url}/batch/", json={"api_key": key, **batch}).status_code == 403
    assert httpx.post(f"{ui_server.url}/batch/", json={"api_key": new_key, **batch}).status_code == 200
    snippets = page.locator("#snippets").inner_text()
    assert f"posthog.init('{new_key}', {{ api_host: '{ui_server.url}' }})" in snippets
    assert f"amplitude.init('{new_key}', {{ serverUrl: '{ui_server.url}/2/httpapi' }})" in snippets
    assert f"Posthog('{new_key}', host='{ui_server.url}')" in snippets
    watched.expect_no_errors()


def test_a_personal_api_key_is_shown_once(ui_server: ServerProcess, new_context: Any) -> None:
    watched = login(new_context(), ui_server)
    page = watched.page
    page.goto(f"{ui_server.url}/project/1/settings")
    page.wait_for_selector("#scope-grid input[value='dashboard:read']")
    label = f"notebook {next(_names)}"
    page.fill("#key-form input[name=label]", label)
    page.check("#scope-grid input[value='dashboard:read']")
    page.check("#key-form input[name=only_project]")
    page.click("#key-form button[type=submit]")
    page.wait_for_selector("#key-shown:not([hidden])")
    value = page.input_value("#key-value")
    assert value.startswith("phx_")
    row = page.locator("#key-list tr", has_text=label)
    assert "dashboard:read" in row.inner_text() and value[-4:] in row.inner_text()
    watched.screenshot("settings")

    bearer = {"Authorization": f"Bearer {value}"}
    assert httpx.get(f"{ui_server.url}/api/projects/1/dashboards/", headers=bearer).status_code == 200
    assert httpx.post(f"{ui_server.url}/api/projects/1/dashboards/", headers=bearer, json={}).status_code == 403

    page.reload()
    page.wait_for_selector(f"#key-list tr:has-text('{label}')")
    assert value not in page.content()
    _accept_confirm(page)
    page.locator("#key-list tr", has_text=label).locator("button[data-action=delete-key]").click()
    page.wait_for_selector(f"#key-list tr:has-text('{label}')", state="detached")
    assert httpx.get(f"{ui_server.url}/api/projects/1/dashboards/", headers=bearer).status_code == 401
    watched.expect_no_errors()
