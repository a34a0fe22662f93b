"""Amplitude's API authentication: HTTP Basic with the project's api_key as user and secret_key as password.

`amplitude_project` is a FastAPI dependency answering 401 with a Basic challenge for missing or wrong
credentials (clients treat 401 and 403 alike as an auth error; the challenge lets curl and browsers retry).
It runs in the thread pool: verifying an argon2 hash takes tens of milliseconds the first time.
"""

from __future__ import annotations

import base64
import binascii

from fastapi import HTTPException, Request

from footfall.meta.accounts import ProjectInfo

CHALLENGE = {"WWW-Authenticate": 'Basic realm="footfall"'}


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """(user, password) of an `Authorization: Basic …` header, or None when absent or malformed."""
    if not header:
        return None
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep and user else None


def amplitude_project(request: Request) -> ProjectInfo:
    """The project whose api_key:secret_key the request presents; 401 otherwise."""
    credentials = basic_credentials(request.headers.get("authorization"))
    if credentials is None:
        raise HTTPException(401, "Basic authentication with api_key:secret_key required", headers=CHALLENGE)
    project = request.app.state.runtime.projects.verify_secret(*credentials)
    if project is None:
        raise HTTPException(401, "Invalid api_key or secret_key", headers=CHALLENGE)
    return project
