"""PostHog's `/flags`, `/decide` and the SDK's remote config, for a server without feature flags.

posthog-js asks for its remote config when it starts (`/array/<token>/config.js`, then `/array/<token>/config`)
and for flags at `/flags/?v=2`; the server SDKs call `/flags/` when asked for a flag. footfall has no flags,
recordings or surveys, so every answer says so, in the shape the client's version asks for (PostHog's
`rust/feature-flags` service: `get_versioned_response`, `ConfigResponse`), and the SDKs carry on capturing.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson

from footfall.ingest.posthog import PostHogError

# posthog-js compresses with gzip when the config offers it; ingestion sniffs gzip bodies.
SUPPORTED_COMPRESSION = ["gzip", "gzip-js"]


def remote_config(token: str) -> dict[str, Any]:
    """The project's SDK config: every optional feature off, since footfall does not serve them."""
    return {
        "token": token,
        "supportedCompression": SUPPORTED_COMPRESSION,
        "hasFeatureFlags": False,
        "sessionRecording": False,
        "surveys": False,
        "heatmaps": False,
        "productTours": False,
        "autocaptureExceptions": False,
        "capturePerformance": False,
        "captureDeadClicks": False,
        "siteApps": [],
    }


def remote_config_js(token: str) -> str:
    """The script form of the config, which posthog-js loads first (it may also carry site apps)."""
    entry = orjson.dumps({"config": remote_config(token), "siteApps": []}).decode()
    return (
        "(function(){var w=window;w._POSTHOG_REMOTE_CONFIG=w._POSTHOG_REMOTE_CONFIG||{};"
        f"w._POSTHOG_REMOTE_CONFIG[{orjson.dumps(token).decode()}]={entry};}})();"
    )


def _decide_config(token: str) -> dict[str, Any]:
    """The config fields /decide (and /flags?config=true) flatten into their answer."""
    return {
        **remote_config(token),
        "config": {"enable_collect_everything": True},
        "toolbarParams": {},
        "isAuthenticated": False,
    }


def token_and_distinct_id(body: Any) -> tuple[str, str]:
    """The token and distinct_id of a flags request, with PostHog's aliases; errors are PostHogError."""
    if not isinstance(body, dict):
        raise PostHogError(400, "invalid_payload", "the request body must be a JSON object")
    token = body.get("token") or body.get("$token") or body.get("api_key")
    if not token or not isinstance(token, str):
        raise PostHogError(401, "ingest_key_required", "no project API key (token) in the request")
    distinct_id = body.get("distinct_id", body.get("$distinct_id"))
    if distinct_id is None:
        raise PostHogError(400, "missing_distinct_id", "the distinct_id field is missing from the request")
    if isinstance(distinct_id, bool) or not isinstance(distinct_id, str | int | float):
        raise PostHogError(400, "invalid_payload", "distinct_id must be a string or a number")
    return token, str(distinct_id)[:200]


def _version(raw: str | None) -> int | None:
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        return 1  # as PostHog parses it


def _flag(value: str | None) -> bool | None:
    return value.lower() in ("1", "true", "yes") if value else None


def _answer(shape: str, config: dict[str, Any]) -> dict[str, Any]:
    """No flags in one of PostHog's response shapes, with the config fields flattened in."""
    flags: dict[str, Any] = {
        "decide_v1": {"featureFlags": []},
        "decide_v2": {"featureFlags": {}},
        "flags_v1": {"errorsWhileComputingFlags": False, "featureFlags": {}, "featureFlagPayloads": {}},
        "flags_v2": {"errorsWhileComputingFlags": False, "flags": {}},
    }[shape]
    return {**flags, "requestId": str(uuid.uuid4()), "evaluatedAt": time.time_ns() // 1_000_000, **config}


def flags_response(token: str, query: dict[str, str], decide: bool) -> dict[str, Any]:
    """The answer to a POST: the shape `v` (and the path) ask for, with the config when asked or implied."""
    version, with_config = _version(query.get("v")), _flag(query.get("config"))
    if decide and with_config is None:
        with_config = True  # /decide always carried the config
    if version is None and with_config is None:
        version, with_config = 2, True  # the newest shape for a client that names neither
    config = _decide_config(token) if with_config else {}
    if not decide:
        return _answer("flags_v2" if version is not None and version >= 2 else "flags_v1", config)
    if version == 2:
        return _answer("decide_v2", config)
    if version == 3:
        return _answer("flags_v1", config)
    return _answer("flags_v2" if version is not None and version >= 4 else "decide_v1", config)


def minimal_response(version: str | None) -> dict[str, Any]:
    """What a GET answers: no flags, and only the config a client needs to keep capturing."""
    config = {
        "supportedCompression": SUPPORTED_COMPRESSION,
        "config": {"enable_collect_everything": True},
        "toolbarParams": {},
        "isAuthenticated": False,
        "sessionRecording": False,
    }
    return _answer("flags_v2" if (_version(version) or 1) >= 2 else "flags_v1", config)
