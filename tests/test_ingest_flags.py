"""PostHog's /flags, /decide and remote config (reference §1.7): no flags, in each client version's shape."""

from __future__ import annotations

import base64
import gzip
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from footfall.ingest import flags
from footfall.runtime import Runtime
from tests.conftest import new_project


@pytest.fixture(scope="module")
def key(runtime: Runtime) -> str:
    return new_project(runtime)["api_key"]


def ask(client: TestClient, key: str, path: str = "/flags/", query: str = "", **body: Any) -> Any:
    return client.post(f"{path}{query}", json={"token": key, "distinct_id": "user-1", **body})


def test_posthog_js_request_gets_no_flags_and_no_config(client: TestClient, key: str) -> None:
    """What posthog-js sends: `?v=2&compression=base64` and a form with the base64 JSON, from another origin."""
    data = base64.b64encode(orjson.dumps({"token": key, "distinct_id": "anon", "groups": {}})).decode()
    response = client.post(
        "/flags/?v=2&compression=base64",
        content=f"data={data}",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": "https://shop.example"},
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://shop.example"
    body = response.json()
    assert body["flags"] == {} and body["errorsWhileComputingFlags"] is False
    assert isinstance(body["requestId"], str) and body["evaluatedAt"] > 0
    assert "supportedCompression" not in body  # v=2 without config=true: flags only


SHAPES = {
    "flags_v2": {"errorsWhileComputingFlags": False, "flags": {}},
    "flags_v1": {"errorsWhileComputingFlags": False, "featureFlags": {}, "featureFlagPayloads": {}},
    "decide_v2": {"featureFlags": {}},
    "decide_v1": {"featureFlags": []},
}


@pytest.mark.parametrize(
    ("path", "query", "shape", "has_config"),
    [
        ("/flags/", "", "flags_v2", True),  # neither v nor config: the newest shape, with the config
        ("/flags/", "?v=1", "flags_v1", False),
        ("/flags/", "?v=2&config=true", "flags_v2", True),
        ("/flags", "?config=true", "flags_v1", True),
        ("/decide/", "", "decide_v1", True),  # /decide always carried the config
        ("/decide/", "?v=2", "decide_v2", True),
        ("/decide/", "?v=3", "flags_v1", True),
        ("/decide/", "?v=4", "flags_v2", True),
        ("/decide", "?v=3&config=false", "flags_v1", False),
    ],
)
def test_versioned_shapes(client: TestClient, key: str, path: str, query: str, shape: str, has_config: bool) -> None:
    body = ask(client, key, path, query).json()
    config_keys = {*flags.remote_config(key), "config", "toolbarParams", "isAuthenticated"}
    assert {k: v for k, v in body.items() if k not in config_keys | {"requestId", "evaluatedAt"}} == SHAPES[shape]
    assert ("supportedCompression" in body) == has_config
    if has_config:
        assert body["sessionRecording"] is False and body["hasFeatureFlags"] is False and body["token"] == key


def test_posthog_python_shape_with_gzip(client: TestClient, key: str) -> None:
    """posthog-python: `/flags/?v=2` with `api_key` and person properties; bodies may be gzipped."""
    payload = {"api_key": key, "distinct_id": 42, "person_properties": {"plan": "pro"}, "groups": {}}
    response = client.post(
        "/flags/?v=2", content=gzip.compress(orjson.dumps(payload)), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200 and response.json()["flags"] == {}


def test_get_and_preflight(client: TestClient) -> None:
    assert client.get("/flags/?v=2").json()["flags"] == {}
    assert client.get("/decide/").json()["featureFlags"] == {}
    preflight = client.options(
        "/flags/", headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 204 and preflight.headers["access-control-allow-origin"] == "https://shop.example"


@pytest.mark.parametrize(
    ("content", "status", "code"),
    [
        (b'{"distinct_id": "a"}', 401, "ingest_key_required"),
        (b'{"token": "nope", "distinct_id": "a"}', 401, "ingest_key_unknown"),
        (b"not json", 400, "invalid_payload"),
        (b"", 400, "empty_payload"),
        (b"[1, 2]", 400, "invalid_payload"),
        (b'{"token": "KEY"}', 400, "missing_distinct_id"),
        (b'{"token": "KEY", "distinct_id": {"a": 1}}', 400, "invalid_payload"),
    ],
)
def test_bad_requests_are_clear_4xx(client: TestClient, key: str, content: bytes, status: int, code: str) -> None:
    response = client.post("/flags/?v=2", content=content.replace(b"KEY", key.encode()))
    assert response.status_code == status, response.text
    assert response.json()["code"] == code


def test_remote_config(client: TestClient, key: str) -> None:
    config = client.get(f"/array/{key}/config", headers={"Origin": "https://shop.example"})
    assert config.status_code == 200 and config.headers["access-control-allow-origin"] == "https://shop.example"
    body = config.json()
    assert body["token"] == key and body["supportedCompression"] == ["gzip", "gzip-js"]
    assert body["hasFeatureFlags"] is False and body["sessionRecording"] is False and body["siteApps"] == []
    script = client.get(f"/array/{key}/config.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert f'_POSTHOG_REMOTE_CONFIG["{key}"]=' in script.text and '"supportedCompression"' in script.text
    for path in ("/array/unknown/config", "/array/unknown/config.js"):
        missing = client.get(path)
        assert missing.status_code == 404 and missing.json()["code"] == "not_found"
