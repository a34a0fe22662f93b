"""Amplitude's error bodies: plain text like `HTTP 400: Bad Request (<reason>)`, which clients show as is."""

from __future__ import annotations

from http import HTTPStatus

from fastapi import Response


def amplitude_error(status: int, reason: str) -> Response:
    return Response(f"HTTP {status}: {HTTPStatus(status).phrase} ({reason})", status, media_type="text/plain")
