"""GET /api/2/retention: the cohort table (size at index 0, day N at index N+1) and combined row."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient


def get(client: TestClient, project: dict[str, Any], **params: Any) -> Any:
    query = {
        "se": json.dumps({"event_type": "open"}),
        "re": json.dumps({"event_type": "open"}),
        "start": "20240601",
        "end": "20240603",
        **params,
    }
    return client.get("/api/2/retention", params=query, auth=(project["api_key"], project["secret_key"]))


def test_n_day_table(client: TestClient, app_usage: dict[str, Any]) -> None:
    r = get(client, app_usage)
    assert r.status_code == 200, r.text
    [series] = r.json()["data"]["series"]
    assert series["dates"] == ["Jun 03", "Jun 02", "Jun 01"]
    june1 = series["values"]["Jun 01"]
    assert [c["count"] for c in june1] == [2, 2, 1, 1, 1]
    assert all(c["outof"] == 2 for c in june1)
    assert [c["count"] for c in series["combined"]] == [5, 5, 2, 2, 2]
    assert r.json()["data"]["seriesMeta"] == [{"segmentIndex": 0, "eventIndex": 0}]


def test_rolling_bracket_and_new_users(client: TestClient, app_usage: dict[str, Any]) -> None:
    rolling = get(client, app_usage, rm="rolling").json()["data"]["series"][0]["values"]["Jun 01"]
    assert [c["count"] for c in rolling] == [2, 2, 2, 2, 1]
    bracket = get(client, app_usage, rm="bracket", rb="[[1,1],[2,3]]").json()["data"]["series"][0]
    assert [c["count"] for c in bracket["values"]["Jun 02"]] == [3, 1, 1]
    new = get(client, app_usage, se=json.dumps({"event_type": "_new"})).json()["data"]["series"][0]
    assert next(c["count"] for c in new["values"]["Jun 02"]) == 2  # eve's first event was May 31 (local)


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"rm": "sideways"}, "Invalid retention mode"),
        ({"rm": "bracket"}, "Missing required parameter: rb"),
        ({"rm": "bracket", "rb": "[[2,1]]"}, "brackets"),
        ({"se": "nope"}, "Invalid JSON in parameter se"),
        ({"i": "-3600000"}, "Retention intervals"),
    ],
)
def test_bad_input(
    client: TestClient,
    app_usage: dict[str, Any],
    params: dict[str, str],
    reason: str,
) -> None:
    r = get(client, app_usage, **params)
    assert r.status_code == 400 and reason in r.text, r.text
