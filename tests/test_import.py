"""`footfall import amplitude`: export zips in, through the write-ahead log, identities merged, once.

The round trip: events in through the SDK endpoints → export → import into a fresh project → export
again; the two exports hold the same events field for field except the ones naming the project.
"""

from __future__ import annotations

import gzip
import json
import time
import zipfile
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient

from footfall.ops import import_amplitude
from footfall.runtime import Runtime
from tests.conftest import ServerProcess, flush, new_project
from tests.export_checks import events_by_uuid, parse_export
from tests.ingest_checks import person_of, stored, stored_count

# Fields that must differ between a project's export and the export of its import elsewhere: the
# project id, and the person id derived from it. Everything else survives.
DIFFERENT_IN_ANOTHER_PROJECT = {"app", "amplitude_id"}
T0 = 1_709_370_000_000  # 2024-03-02 09:00 UTC


def export_now(client: TestClient, project: dict[str, Any]) -> bytes:
    """The export of everything uploaded in the last and the next hour (SDK events are uploaded now)."""
    start = time.strftime("%Y%m%dT%H", time.gmtime(time.time() - 3600))
    end = time.strftime("%Y%m%dT%H", time.gmtime(time.time() + 3600))
    return export(client, project, start, end)


def ingest_through_sdk_endpoints(client: TestClient, key: str) -> None:
    """A device that later signs in, identify/group-identify calls, revenue, groups, and PostHog events."""
    events = [
        {
            "device_id": "device-rt-1",
            "event_type": "Opened",
            "time": T0,
            "session_id": T0,
            "insert_id": "ins-1",
            "event_properties": {"path": "/home", "nested": {"a": [1, 2]}},
            "user_properties": {"$setOnce": {"first_seen": "2024-03-02"}},
            "platform": "iOS",
            "os_name": "ios",
            "os_version": "17.2",
            "device_brand": "Apple",
            "device_manufacturer": "Apple",
            "device_model": "iPhone15,2",
            "carrier": "Vodafone",
            "country": "Germany",
            "region": "Berlin",
            "city": "Berlin",
            "dma": "n/a",
            "language": "German",
            "app_version": "3.1.0",
            "location_lat": 52.52,
            "location_lng": 13.405,
            "ip": "203.0.113.9",
            "idfa": "AEBE52E7-03EE-455A-B3C4-E57283966239",
            "library": "amplitude-swift/1.9.2",
        },
        {
            "user_id": "user-rt-1",
            "device_id": "device-rt-1",
            "event_type": "Signed In",
            "time": T0 + 60_000,
            "session_id": T0,
            "event_id": 2,
            "insert_id": "ins-2",
            "user_properties": {"$set": {"plan": "pro"}, "$add": {"logins": 1}},
            "groups": {"company": "acme"},
            "platform": "iOS",
        },
        {
            "user_id": "user-rt-1",
            "event_type": "Purchase",
            "time": T0 + 120_000,
            "price": 9.99,
            "quantity": 2,
            "revenue": 19.98,
            "productId": "sku-1",
            "plan": {"branch": "main", "version": "7"},
            "partner_id": "partner-9",
        },
        {"user_id": "user-rt-2", "event_type": "Opened", "time": T0 + 5_000, "paying": True, "start_version": "1.0"},
    ]
    r = client.post("/2/httpapi", json={"api_key": key, "events": events})
    assert r.status_code == 200, r.text
    identification = json.dumps({"user_id": "user-rt-2", "user_properties": {"$set": {"email": "two@example.com"}}})
    assert client.post("/identify", data={"api_key": key, "identification": identification}).status_code == 200
    group = json.dumps({"group_type": "company", "group_value": "acme", "group_properties": {"$set": {"size": 50}}})
    assert client.post("/groupidentify", data={"api_key": key, "identification": group}).status_code == 200
    r = client.post(
        "/batch/",
        json={
            "api_key": key,
            "batch": [
                {
                    "event": "$pageview",
                    "distinct_id": "anon-rt-3",
                    "timestamp": "2024-03-02T09:10:00Z",
                    "properties": {"$current_url": "https://example.com/", "$device_id": "anon-rt-3"},
                },
                {
                    "event": "$identify",
                    "distinct_id": "user-rt-3",
                    "timestamp": "2024-03-02T09:11:00Z",
                    "properties": {"$anon_distinct_id": "anon-rt-3", "$device_id": "anon-rt-3"},
                    "$set": {"name": "Three"},
                },
            ],
        },
    )
    assert r.status_code == 200, r.text


def write_zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


def write_zip_bytes(tmp_path: Path, content: bytes, name: str = "export.zip") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def amplitude_record(n: int, **fields: Any) -> dict[str, Any]:
    """A record as Amplitude's own export writes it (more fields than footfall's, some it does not know)."""
    return {
        "app": 187520,
        "amplitude_id": 501 + n,
        "uuid": f"5a7a1b2c-0000-4000-8000-{n:012d}",
        "event_type": "Viewed",
        "event_time": f"2024-03-02 10:{n:02d}:00.123456",
        "client_event_time": f"2024-03-02 10:{n:02d}:00.123456",
        "server_upload_time": f"2024-03-02 10:{n:02d}:01.500000",
        "server_received_time": f"2024-03-02 10:{n:02d}:01.400000",
        "client_upload_time": f"2024-03-02 10:{n:02d}:01.000000",
        "processed_time": f"2024-03-02 10:{n:02d}:09.000000",
        "user_id": "amp-user",
        "device_id": "amp-device",
        "event_properties": {"n": n},
        "user_properties": {"cohort": "a", "n": n},
        "groups": {},
        "group_properties": {},
        "session_id": 1709373600000,
        "$insert_id": f"amp-{n}",
        "$schema": None,
        "data": {"path": "/2/httpapi", "user_properties_updated": False, "group_first_event": {}, "group_ids": {}},
        "data_type": "event",
        "user_creation_time": "2024-01-01 00:00:00.000000",
        "is_attribution_event": False,
        "sample_rate": None,
        "source_id": None,
        "global_user_properties": {},
        "amplitude_attribution_ids": None,
        "lat_long_precision": 2,  # not a field footfall knows
        **fields,
    }


def lines(*records: dict[str, Any] | bytes) -> bytes:
    return b"".join((r if isinstance(r, bytes) else orjson.dumps(r)) + b"\n" for r in records)


def export(client: TestClient, project: dict[str, Any], start: str, end: str) -> bytes:
    r = client.get(
        "/api/2/export", params={"start": start, "end": end}, auth=(project["api_key"], project["secret_key"])
    )
    assert r.status_code == 200, r.text
    return r.content


def test_round_trip_export_import_export(client: TestClient, runtime: Runtime, tmp_path: Path) -> None:
    source, target = new_project(runtime), new_project(runtime)
    ingest_through_sdk_endpoints(client, source["api_key"])
    flush(runtime)
    first = export_now(client, source)
    exported = events_by_uuid(parse_export(first))
    assert len(exported) == stored_count(runtime, source) == 8

    report = import_amplitude(
        runtime, lambda done, total: None, target["name"], [str(write_zip_bytes(tmp_path, first))]
    )
    assert report["imported"] == 8 and report["skipped"] == {} and report["ignored_fields"] == {}, report
    again = events_by_uuid(parse_export(export_now(client, target)))

    assert again.keys() == exported.keys()
    for event_uuid, before in exported.items():
        after = again[event_uuid]
        assert before.keys() == after.keys()
        differing = {k for k in before if before[k] != after[k]}
        assert differing <= DIFFERENT_IN_ANOTHER_PROJECT, {k: (before[k], after[k]) for k in differing}
        assert after["app"] == target["id"]

    # Identity is merged in the target as in the source: the device's first event counts for the user.
    by_type = {(e["event_type"], e["user_id"] or e["device_id"]): e for e in again.values()}
    user = by_type[("Signed In", "user-rt-1")]
    assert by_type[("Opened", "device-rt-1")]["amplitude_id"] == user["amplitude_id"]
    assert by_type[("Purchase", "user-rt-1")]["amplitude_id"] == user["amplitude_id"]
    assert by_type[("$pageview", "anon-rt-3")]["amplitude_id"] == by_type[("$identify", "user-rt-3")]["amplitude_id"]
    # Persons got the exported properties.
    person = person_of(runtime, target, "user-rt-1")
    assert person is not None and person.properties["plan"] == "pro" and person.properties["logins"] == 1
    assert person.properties["first_seen"] == "2024-03-02"
    # Spot checks of what the export says, so that "the same twice" is not "empty twice".
    purchase = by_type[("Purchase", "user-rt-1")]
    assert purchase["event_properties"] == {
        "$price": 9.99,
        "$quantity": 2,
        "$revenue": 19.98,
        "$productId": "sku-1",
    }
    assert purchase["plan"] == {"branch": "main", "version": "7"} and purchase["partner_id"] == "partner-9"
    opened = by_type[("Opened", "device-rt-1")]
    assert (
        opened["location_lat"] == 52.52 and opened["version_name"] == "3.1.0" and opened["device_carrier"] == "Vodafone"
    )
    assert opened["$insert_id"] == "ins-1" and opened["session_id"] == T0 and opened["user_id"] is None
    assert user["groups"] == {"company": "acme"} and user["user_properties"]["plan"] == "pro"
    assert user["data"]["user_properties_updated"] is True and opened["idfa"] is not None
    assert by_type[("Opened", "user-rt-2")]["paying"] is True and by_type[("Opened", "user-rt-2")]["session_id"] == -1


def test_real_amplitude_zip_with_nested_folders_unknown_fields_and_bad_lines(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    project = new_project(runtime)
    path = write_zip(
        tmp_path / "amplitude.zip",
        {
            "export/187520/": b"",
            "export/187520/187520_2024-03-02_10#1.json.gz": gzip.compress(lines(amplitude_record(3))),
            "export/187520/187520_2024-03-02_10#0.json.gz": gzip.compress(
                lines(
                    amplitude_record(1),
                    b'{"event_type": "Broken", "user_id": ',  # a malformed line
                    amplitude_record(2, event_type=None),
                    amplitude_record(4, user_id=None, device_id=None),
                    amplitude_record(5, event_time="yesterday", client_event_time=None),
                )
            ),
            "export/187520/_complete": b"",
            "export/.DS_Store": b"\x00",
        },
    )
    report = import_amplitude(runtime, lambda done, total: None, project["name"], [str(path)])
    assert report["imported"] == 2
    assert report["skipped"] == {
        "malformed JSON": 1,
        "missing event_type": 1,
        "missing user_id and device_id": 1,
        "invalid event_time": 1,
    }
    assert report["ignored_fields"] == {"lat_long_precision": 5}
    assert report["ignored_entries"] == ["export/187520/_complete", "export/.DS_Store"]
    assert report["events_read"] == 6 and report["entries"] == 2

    rows = stored(runtime, project, "event, toUnixTimestamp64Milli(timestamp), toUnixTimestamp64Milli(received_at)")
    assert rows == [["Viewed", 1709373660123, 1709373661500], ["Viewed", 1709373780123, 1709373781500]]
    person = person_of(runtime, project, "amp-user")
    assert person is not None and person.properties == {"cohort": "a", "n": 3}  # the later upload set last
    assert person_of(runtime, project, "amp-device") is not None  # merged with the user
    assert person_of(runtime, project, "amp-device").id == person.id  # type: ignore[union-attr]

    again = events_by_uuid(parse_export(export(client, project, "20240302T10", "20240302T10")))
    event = again["5a7a1b2c-0000-4000-8000-000000000001"]
    assert event["event_time"] == "2024-03-02 10:01:00.123000"  # footfall keeps milliseconds
    assert event["server_upload_time"] == "2024-03-02 10:01:01.500000"
    assert event["data"]["path"] == "/2/httpapi" and event["user_creation_time"] == "2024-01-01 00:00:00.000000"
    assert event["user_properties"] == {"cohort": "a", "n": 1} and event["$insert_id"] == "amp-1"


def test_importing_twice_stores_once_also_after_the_dedupe_window(runtime: Runtime, tmp_path: Path) -> None:
    """The events were uploaded in 2024, so their keys are long past the 8-day TTL: only `permanent` keeps them."""
    project = new_project(runtime)
    path = write_zip(
        tmp_path / "once.zip",
        {"1/1_2024-03-02_10#0.json.gz": gzip.compress(lines(*(amplitude_record(n) for n in range(10))))},
    )
    first = import_amplitude(runtime, lambda done, total: None, project["name"], [str(path)])
    assert first["imported"] == 10 and first["skipped"] == {}
    runtime.engine.command("OPTIMIZE TABLE dedupe_keys FINAL")  # applies the TTL now
    second = import_amplitude(runtime, lambda done, total: None, project["name"], [str(path), str(path)])
    assert second["imported"] == 0 and second["skipped"] == {"already imported": 20}
    assert stored_count(runtime, project) == 10


def test_duplicates_within_one_import_are_stored_once(runtime: Runtime, tmp_path: Path) -> None:
    project = new_project(runtime)
    path = write_zip(
        tmp_path / "dups.zip",
        {
            "1/1_2024-03-02_10#0.json.gz": gzip.compress(lines(amplitude_record(1), amplitude_record(1))),
            "1/1_2024-03-02_11#0.json.gz": gzip.compress(lines(amplitude_record(1), amplitude_record(2))),
        },
    )
    report = import_amplitude(runtime, lambda done, total: None, project["name"], [str(path)])
    assert report["imported"] == 2 and report["skipped"] == {"already imported": 2}
    assert stored_count(runtime, project) == 2


@pytest.mark.slow
def test_cli_export_and_import_while_the_server_runs(server: ServerProcess, tmp_path: Path) -> None:
    """Both commands routed through a running `footfall serve` (ops over the admin channel)."""
    server.start()
    source = json.loads(server.cli("project", "create", "source", "--json").stdout)
    target = json.loads(server.cli("project", "create", "target", "--json").stdout)
    body = {
        "api_key": source["api_key"],
        "events": [{"user_id": f"cli-user-{i}", "event_type": "Tapped", "time": T0 + i} for i in range(30)],
    }
    assert httpx.post(server.url + "/2/httpapi", json=body, timeout=10).status_code == 200
    server.wait_flushed()
    start = time.strftime("%Y%m%dT%H", time.gmtime(time.time() - 3600))
    end = time.strftime("%Y%m%dT%H", time.gmtime(time.time() + 3600))
    out = tmp_path / "source.zip"
    result = json.loads(
        server.cli("export", "--project", "source", "--start", start, "--end", end, "-o", str(out), "--json").stdout
    )
    assert result["events"] == 30 and out.stat().st_size == result["bytes"]
    first = events_by_uuid(parse_export(out.read_bytes()))
    report = json.loads(server.cli("import", "amplitude", str(out), "--project", "target", "--json").stdout)
    assert report["imported"] == 30 and report["skipped"] == {}
    r = httpx.get(
        server.url + "/api/2/export",
        params={"start": start, "end": end},
        auth=(target["api_key"], target["secret_key"]),
        timeout=30,
    )
    second = events_by_uuid(parse_export(r.content))
    assert first.keys() == second.keys()
    for key, event in first.items():
        assert {k for k in event if event[k] != second[key][k]} <= DIFFERENT_IN_ANOTHER_PROJECT


@pytest.mark.parametrize("bad", [b"not a zip", None])
def test_a_missing_or_broken_file_is_refused(runtime: Runtime, tmp_path: Path, bad: bytes | None) -> None:
    project = new_project(runtime)
    path = tmp_path / "bad.zip"
    if bad is not None:
        path.write_bytes(bad)
    with pytest.raises((ValueError, zipfile.BadZipFile)):
        import_amplitude(runtime, lambda done, total: None, project["name"], [str(path)])
