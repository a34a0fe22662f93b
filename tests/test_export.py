"""The Amplitude Export API (`GET /api/2/export`): the zip real consumers read, its range and its errors.

Events with chosen upload times go through the write-ahead log and the flusher (`put_events`); the
SDK-shaped round trip lives in test_import.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient

from footfall.export.amplitude import parse_range
from footfall.runtime import Runtime
from tests.conftest import new_project
from tests.export_checks import events_by_uuid, ms, parse_export, put_events, set_settings

DAY = "2024-03-02"


def export(client: TestClient, project: dict[str, Any], start: str, end: str, **kwargs: Any) -> Any:
    auth = kwargs.pop("auth", (project["api_key"], project["secret_key"]))
    return client.get("/api/2/export", params={"start": start, "end": end}, auth=auth, **kwargs)


def uploaded(at: str, name: str = "Opened", **fields: Any) -> dict[str, Any]:
    """An Amplitude-ish event uploaded at `at` (UTC), happening a second earlier."""
    received = ms(at)
    return {
        "event": name,
        "timestamp": received - 1000,
        "user_id": "user-1",
        "distinct_id": "user-1",
        "received_at": received,
        "client_upload_time": received,
        "source": "amplitude",
        **fields,
    }


@pytest.fixture(scope="module")
def boundary(runtime: Runtime) -> dict[str, Any]:
    """A project with events uploaded either side of 11:00 on DAY, and one on the next day."""
    project = new_project(runtime)
    put_events(
        runtime,
        project["id"],
        uploaded(f"{DAY} 10:59:59.999", "Before", uuid="00000000-0000-4000-8000-000000000001"),
        uploaded(f"{DAY} 11:00:00.000", "At", uuid="00000000-0000-4000-8000-000000000002"),
        uploaded("2024-03-03 00:30:00.000", "Next day", uuid="00000000-0000-4000-8000-000000000003"),
    )
    return project


def test_an_hour_boundary_splits_files_by_upload_hour(client: TestClient, boundary: dict[str, Any]) -> None:
    r = export(client, boundary, "20240302T00", "20240303T23")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    files = parse_export(r.content)
    pid = boundary["id"]
    assert {name: [e["event_type"] for e in events] for name, events in files.items()} == {
        f"{pid}/{pid}_2024-03-02_10#0.json.gz": ["Before"],
        f"{pid}/{pid}_2024-03-02_11#0.json.gz": ["At"],
        f"{pid}/{pid}_2024-03-03_0#0.json.gz": ["Next day"],
    }
    before = files[f"{pid}/{pid}_2024-03-02_10#0.json.gz"][0]
    assert before["server_upload_time"] == "2024-03-02 10:59:59.999000"
    assert before["event_time"] == before["client_event_time"] == "2024-03-02 10:59:58.999000"
    assert before["app"] == pid and before["uuid"] == "00000000-0000-4000-8000-000000000001"


@pytest.mark.parametrize(
    ("start", "end", "events"),
    [
        ("20240302T10", "20240302T10", ["Before"]),  # the end hour is included, the next one is not
        ("20240302T11", "20240302T11", ["At"]),
        ("20240302T10", "20240302T11", ["Before", "At"]),
        ("20240302", "20240302", ["Before", "At"]),  # a bare date is the whole day
        ("20240303", "20240303", ["Next day"]),
    ],
)
def test_both_hours_are_included(
    client: TestClient, boundary: dict[str, Any], start: str, end: str, events: list[str]
) -> None:
    r = export(client, boundary, start, end)
    assert r.status_code == 200, r.text
    found = events_by_uuid(parse_export(r.content)).values()
    assert sorted(e["event_type"] for e in found) == sorted(events)


def test_no_data_is_404(client: TestClient, boundary: dict[str, Any]) -> None:
    r = export(client, boundary, "20240302T12", "20240302T23")
    assert r.status_code == 404
    assert r.text == "HTTP 404: Not Found (No data available for the time range requested.)"


@pytest.mark.parametrize(
    ("start", "end", "reason"),
    [
        ("20240302T11", "20240302T10", "end is before start"),
        ("2024-03-02", "20240302T10", "start must be YYYYMMDDTHH or YYYYMMDD"),
        ("20240302T10", "20240302T1", "end must be YYYYMMDDTHH or YYYYMMDD"),
        ("20240302T24", "20240302T10", "start has an hour above 23"),
        ("20240230T00", "20240302T10", "start is not a valid date"),
        ("", "20240302T10", "missing required parameter start"),
        ("20230302", "20240302", "the range is longer than 365 days"),  # 366 days (2024 is a leap year)
        ("20230302T00", "20240301T00", "the range is longer than 365 days"),  # 365 days and an hour
    ],
)
def test_a_bad_range_is_400(client: TestClient, boundary: dict[str, Any], start: str, end: str, reason: str) -> None:
    r = export(client, boundary, start, end)
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("text/plain")
    assert r.text.startswith(f"HTTP 400: Bad Request ({reason}"), r.text


def test_365_days_pass_and_366_fail(client: TestClient, boundary: dict[str, Any]) -> None:
    assert parse_range("20230303", "20240301").hours == 365 * 24
    assert export(client, boundary, "20230304", "20240302").status_code == 200  # 365 whole days, ending on DAY
    assert export(client, boundary, "20230304T00", "20240302T23").status_code == 200
    assert export(client, boundary, "20230303", "20240302").status_code == 400  # 366 days
    assert export(client, boundary, "20230303T23", "20240302T23").status_code == 400  # 365 days and an hour


def test_missing_parameters_are_400(client: TestClient, boundary: dict[str, Any]) -> None:
    r = client.get("/api/2/export", auth=(boundary["api_key"], boundary["secret_key"]))
    assert r.status_code == 400 and "missing required parameter start" in r.text


@pytest.mark.parametrize(
    "auth",
    [None, ("wrong-key", "wrong-secret"), "wrong secret", "malformed"],
)
def test_missing_or_wrong_credentials_are_401(client: TestClient, boundary: dict[str, Any], auth: Any) -> None:
    headers = {}
    if auth == "wrong secret":
        auth = (boundary["api_key"], "not-the-secret")
    elif auth == "malformed":
        auth, headers = None, {"Authorization": "Basic not-base64!"}
    r = client.get("/api/2/export", params={"start": "20240302", "end": "20240302"}, auth=auth, headers=headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Basic realm="footfall"'


def test_a_project_exports_only_its_own_events(client: TestClient, runtime: Runtime, boundary: dict[str, Any]) -> None:
    other = new_project(runtime)
    assert export(client, other, "20240302", "20240303").status_code == 404
    put_events(runtime, other["id"], uploaded(f"{DAY} 10:15:00.000", "Other's"))
    files = parse_export(export(client, other, "20240302", "20240303").content)
    assert [e["event_type"] for e in events_by_uuid(files).values()] == ["Other's"]
    assert all(name.startswith(f"{other['id']}/") for name in files)


def test_a_large_hour_gets_several_partitions(client: TestClient, runtime: Runtime) -> None:
    project = new_project(runtime)
    set_settings(runtime, project["id"], export_partition_events=2)
    put_events(runtime, project["id"], *(uploaded(f"{DAY} 05:{i:02d}:00.000", f"E{i}") for i in range(5)))
    put_events(runtime, project["id"], uploaded(f"{DAY} 06:00:00.000", "Later"))
    files = parse_export(export(client, project, "20240302T05", "20240302T06").content)
    pid = project["id"]
    assert {name: len(events) for name, events in files.items()} == {
        f"{pid}/{pid}_2024-03-02_5#0.json.gz": 2,
        f"{pid}/{pid}_2024-03-02_5#1.json.gz": 2,
        f"{pid}/{pid}_2024-03-02_5#2.json.gz": 1,
        f"{pid}/{pid}_2024-03-02_6#0.json.gz": 1,
    }


def test_an_export_over_the_size_limit_is_400(client: TestClient, runtime: Runtime) -> None:
    project = new_project(runtime)
    put_events(runtime, project["id"], *(uploaded(f"{DAY} 05:{i:02d}:00.000") for i in range(20)))
    assert export(client, project, "20240302", "20240302").status_code == 200
    set_settings(runtime, project["id"], export_max_bytes=1000)
    r = export(client, project, "20240302", "20240302")
    assert r.status_code == 400
    assert r.text == (
        "HTTP 400: Bad Request (The file size of the exported data is too large. Shorten the time ranges and try"
        " again. The limit size is 1000 bytes.)"
    )
    assert export(client, project, "20240302T05", "20240302T05").status_code == 400  # the same data, still too big


def test_the_hourly_cost_budget_gives_429(client: TestClient, runtime: Runtime) -> None:
    project = new_project(runtime)
    put_events(runtime, project["id"], uploaded(f"{DAY} 05:00:00.000"))
    set_settings(runtime, project["id"], api_cost_per_hour=30)
    assert export(client, project, "20240302", "20240302").status_code == 200  # costs 24 (hours)
    assert export(client, project, "20240302T05", "20240302T10").status_code == 200  # 6 more: 30
    r = export(client, project, "20240302T05", "20240302T05")
    assert r.status_code == 429
    assert r.json()["limit"] == "cost_per_hour"
    assert 3500 <= int(r.headers["retry-after"]) <= 3600


def test_the_zip_is_streamed(client: TestClient, runtime: Runtime) -> None:
    """Chunked, with no length known in advance; hours are read one bounded query at a time."""
    project = new_project(runtime)
    start = dt.datetime(2024, 3, 2, tzinfo=dt.UTC)
    put_events(
        runtime,
        project["id"],
        *(uploaded(f"{start + dt.timedelta(hours=h):%Y-%m-%d %H}:00:00.000", f"H{h}") for h in range(48)),
    )
    with client.stream("GET", "/api/2/export", params={"start": "20240302", "end": "20240303"},
                       auth=(project["api_key"], project["secret_key"])) as r:  # fmt: skip
        assert r.status_code == 200
        assert "content-length" not in r.headers
        content = b"".join(r.iter_bytes())
    assert len(parse_export(content)) == 48


def test_every_answer_frees_its_concurrency_slot(client: TestClient, runtime: Runtime) -> None:
    project = new_project(runtime)
    put_events(runtime, project["id"], uploaded(f"{DAY} 05:00:00.000"))
    set_settings(runtime, project["id"], api_concurrent_requests=1)
    for _ in range(2):
        assert export(client, project, "20240302", "20240302").status_code == 200  # streamed to the end
        assert export(client, project, "20240301", "20240301").status_code == 404
        with client.stream("GET", "/api/2/export", params={"start": "20240302", "end": "20240302"},
                           auth=(project["api_key"], project["secret_key"])) as r:  # fmt: skip
            assert r.status_code == 200
            next(r.iter_bytes())  # the client goes away after the first chunk
