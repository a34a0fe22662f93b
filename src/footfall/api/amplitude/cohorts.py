"""Amplitude's Behavioral Cohorts API: list, download, upload and membership changes.

Downloads follow Amplitude's three calls (request → status → file) without a job queue: a request
records what to download (and computes a dynamic cohort then), its status is at once "JOB COMPLETED",
and the file streams the members from the engine when fetched. Errors are Amplitude's cohort-API JSON,
`{"http_code", "type", "message", "metadata"}`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from footfall.api import cohorts as service
from footfall.api.auth import amplitude_project
from footfall.api.limits import LimitExceeded, limiter
from footfall.meta import cohorts as rows
from footfall.meta.accounts import ProjectInfo
from footfall.meta.models import Cohort, CohortDownload, utcnow
from footfall.query import cohorts as membership
from footfall.security import new_token

router = APIRouter(tags=["Amplitude Behavioral Cohorts API"])

MAX_IDS = 100_000
DOWNLOAD_VALID = dt.timedelta(days=7)
INVALID_SAMPLE = 10


class CohortAPIError(Exception):
    def __init__(self, status: int, message: str, metadata: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.metadata = status, metadata or {}

    def response(self) -> Response:
        body = {
            "http_code": self.status,
            "type": HTTPStatus(self.status).name,
            "message": str(self),
            "metadata": self.metadata,
        }
        return Response(orjson.dumps(body), self.status, media_type="application/json")


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status, media_type="application/json")


def _epoch(moment: dt.datetime | None) -> int | None:
    if moment is None:
        return None
    return int((moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).timestamp())


def cohort_json(cohort: Cohort) -> dict[str, Any]:
    """A cohort with the keys of Amplitude's cohort list (timestamps in epoch seconds)."""
    return {
        "appId": cohort.project_id,
        "archived": cohort.archived,
        "definition": cohort.definition or {},
        "description": cohort.description,
        "finished": True,
        "id": str(cohort.id),
        "name": cohort.name,
        "owners": list(cohort.owners or []),
        "viewers": [],
        "published": cohort.published,
        "size": cohort.count or 0,
        "type": "static" if cohort.is_static else "dynamic",
        "lastMod": _epoch(cohort.updated_at),
        "createdAt": _epoch(cohort.created_at),
        "lastComputed": _epoch(cohort.last_computed),
        "hidden": False,
        "metadata": [],
        "view_count": 0,
        "popularity": 0,
        "last_viewed": None,
        "chart_id": None,
        "edit_id": None,
        "is_predictive": False,
        "is_official_content": False,
        "location_id": None,
        "shortcut_ids": [],
        "syncMetadata": [],
    }


@router.get("/api/3/cohorts")
def list_cohorts(request: Request, project: ProjectInfo = Depends(amplitude_project)) -> Response:
    rt = request.app.state.runtime
    with rt.meta.session() as session, session.begin():
        cohorts = rows.list_cohorts(session, project.id)
        service.refresh(session, rt.engine, cohorts)
        return _json({"cohorts": [cohort_json(c) for c in cohorts]})


@router.get("/api/5/cohorts/request/{cohort_id}")
def request_download(cohort_id: str, request: Request, project: ProjectInfo = Depends(amplitude_project)) -> Response:
    rt = request.app.state.runtime
    q = request.query_params
    keys = [k for k in q.getlist("propKeys") if k]
    with rt.meta.session() as session, session.begin():
        cohort = rows.get_cohort(session, project.id, cohort_id)
        if cohort is None:
            return CohortAPIError(404, f"Cohort {cohort_id} not found").response()
        service.recompute(session, rt.engine, cohort)  # the members as of this request
        download = CohortDownload(
            id=new_token(nbytes=24),
            project_id=project.id,
            cohort_id=cohort.id,
            props=q.get("props") in ("1", "true") or bool(keys),
            prop_keys=keys,
        )
        session.add(download)
    return _json({"request_id": download.id, "cohort_id": str(cohort.id)}, 202)


def _download(request: Request, project: ProjectInfo, request_id: str) -> CohortDownload | None:
    with request.app.state.runtime.meta.session() as session:
        download = session.scalar(
            select(CohortDownload).where(CohortDownload.project_id == project.id, CohortDownload.id == request_id)
        )
    if download is None:
        return None
    created = download.created_at if download.created_at.tzinfo else download.created_at.replace(tzinfo=dt.UTC)
    return download if utcnow() - created <= DOWNLOAD_VALID else None


@router.get("/api/5/cohorts/request-status/{request_id}")
def download_status(request_id: str, request: Request, project: ProjectInfo = Depends(amplitude_project)) -> Response:
    download = _download(request, project, request_id)
    if download is None:
        return CohortAPIError(404, "Unknown or expired request_id").response()
    return _json({"request_id": download.id, "cohort_id": str(download.cohort_id), "async_status": "JOB COMPLETED"})


@router.get("/api/5/cohorts/request/{request_id}/file")
def download_file(request_id: str, request: Request, project: ProjectInfo = Depends(amplitude_project)) -> Response:
    """The members as CSV: amplitude_id, user_id, then the requested person properties (all with props=1)."""
    download = _download(request, project, request_id)
    if download is None:
        return CohortAPIError(404, "Unknown or expired request_id").response()
    engine = request.app.state.runtime.engine
    keys = list(download.prop_keys or [])
    if download.props and not keys:
        keys = membership.property_keys(engine, project.id, download.cohort_id)
    try:
        lease = limiter(request).acquire(project.id, project.settings)
    except LimitExceeded as exc:
        return exc.response()
    try:
        header = io.StringIO()
        csv.writer(header).writerow(["amplitude_id", "user_id", *keys])
        # gp:name and name both mean the user property `name`.
        chunks = membership.members_csv(engine, project.id, download.cohort_id, [k.removeprefix("gp:") for k in keys])
        first = next(chunks, b"")  # run the query before the response starts
    except BaseException:
        lease.release()
        raise

    def body() -> Iterator[bytes]:
        try:
            yield header.getvalue().encode()
            yield first
            yield from chunks
        finally:
            lease.release()

    filename = f"cohort_{download.cohort_id}.csv"
    return StreamingResponse(
        body(), media_type="text/csv", headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


def _body(raw: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise CohortAPIError(400, "The body must be JSON") from exc
    if not isinstance(body, dict):
        raise CohortAPIError(400, "The body must be a JSON object")
    return body


def _ids(raw: Any) -> list[Any]:
    if not isinstance(raw, list):
        raise CohortAPIError(400, "ids must be a list")
    if len(raw) > MAX_IDS:
        raise CohortAPIError(400, f"At most {MAX_IDS} ids per request")
    return raw


def _flag(body: dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise CohortAPIError(400, f"{name} must be true or false")
    return value


def resolve_ids(engine: Any, project_id: int, ids: list[Any], by_amplitude_id: bool) -> tuple[list[str], list[Any]]:
    """(persons matched, ids that match no one) for Amplitude ids or user ids."""
    keys: dict[int, Any] = {}  # position in `ids` → lookup key
    for index, raw in enumerate(ids):
        key = _amplitude_id(raw) if by_amplitude_id else _user_id(raw)
        if key is not None:
            keys[index] = key
    lookup = membership.persons_by_amplitude_id if by_amplitude_id else membership.persons_by_distinct_id
    found = lookup(engine, project_id, sorted(set(keys.values())))
    matched, invalid = [], []
    for index, raw in enumerate(ids):
        person = found.get(keys[index]) if index in keys else None
        if person:
            matched.append(person)
        else:
            invalid.append(raw)
    return matched, invalid


def _amplitude_id(raw: Any) -> int | None:
    if isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) <= 20:
        raw = int(raw)
    if isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw < 2**64:
        return raw
    return None


def _user_id(raw: Any) -> str | None:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return str(raw)
    return raw if isinstance(raw, str) and raw else None


@router.post("/api/3/cohorts/upload")
async def upload(request: Request, project: ProjectInfo = Depends(amplitude_project)) -> Response:
    raw = await request.body()
    try:
        body = _body(raw)
        return await run_in_threadpool(_upload, request, project, body)
    except CohortAPIError as exc:
        return exc.response()


def _upload(request: Request, project: ProjectInfo, body: dict[str, Any]) -> Response:
    rt = request.app.state.runtime
    id_type = body.get("id_type")
    if id_type not in ("BY_AMP_ID", "BY_USER_ID"):
        raise CohortAPIError(400, "id_type must be BY_AMP_ID or BY_USER_ID")
    ids = _ids(body.get("ids"))
    skip_invalid = _flag(body, "skip_invalid_ids", True)
    published = _flag(body, "published", False)
    existing = body.get("existing_cohort_id")
    name = body.get("name")
    if existing is None and (not isinstance(name, str) or not name.strip()):
        raise CohortAPIError(400, "name is required")
    owner = body.get("owner")
    # app_id is not checked: the api_key:secret_key pair names the project.
    matched, invalid = resolve_ids(rt.engine, project.id, ids, id_type == "BY_AMP_ID")
    sample = invalid[:INVALID_SAMPLE]
    if invalid and not skip_invalid:
        raise CohortAPIError(400, f"{len(invalid)} ids match no user", {"invalid_ids_sample": sample})
    with rt.meta.session() as session, session.begin():
        if existing is not None:
            cohort = rows.get_cohort(session, project.id, existing)
            if cohort is None:
                raise CohortAPIError(404, f"Cohort {existing} not found")
            if not cohort.is_static:
                raise CohortAPIError(400, "Only uploaded (static) cohorts can be replaced")
            service.change_members(session, rt.engine, cohort, add=matched, replace=True)
            if isinstance(name, str) and name.strip():
                cohort.name = name.strip()
        else:
            owners = [owner] if isinstance(owner, str) and owner else []
            cohort = service.create_static(
                session, rt.engine, project.id, name.strip(), matched, owners=owners, published=published
            )
        cohort_id = cohort.id
    return _json(
        {
            "cohortId": str(cohort_id),
            "metadata": {"matched": len(set(matched)), "totals": len(ids), "invalid_ids_sample": sample},
        }
    )


@router.post("/api/3/cohorts/membership")
async def change_membership(request: Request, project: ProjectInfo = Depends(amplitude_project)) -> Response:
    raw = await request.body()
    try:
        body = _body(raw)
        return await run_in_threadpool(_membership, request, project, body)
    except CohortAPIError as exc:
        return exc.response()


def _membership(request: Request, project: ProjectInfo, body: dict[str, Any]) -> Response:
    rt = request.app.state.runtime
    if body.get("count_group", "User") != "User":
        raise CohortAPIError(400, "Only the User count group is supported")
    changes = body.get("memberships")
    if not isinstance(changes, list) or not changes:
        raise CohortAPIError(400, "memberships must be a non-empty list")
    skip_invalid = _flag(body, "skip_invalid_ids", True)
    planned = []
    for change in changes:
        if not isinstance(change, dict):
            raise CohortAPIError(400, "Each membership change must be an object")
        id_type, operation = change.get("id_type"), change.get("operation")
        if id_type not in ("BY_ID", "BY_NAME"):
            raise CohortAPIError(400, "id_type must be BY_ID or BY_NAME")
        if operation not in ("ADD", "REMOVE"):
            raise CohortAPIError(400, "operation must be ADD or REMOVE")
        matched, invalid = resolve_ids(rt.engine, project.id, _ids(change.get("ids")), id_type == "BY_ID")
        if invalid and not skip_invalid:
            raise CohortAPIError(400, f"{len(invalid)} ids match no user", {"invalid_ids_sample": invalid[:10]})
        planned.append((id_type, operation, matched, invalid))
    with rt.meta.session() as session, session.begin():
        cohort = rows.get_cohort(session, project.id, body.get("cohort_id"))
        if cohort is None:
            raise CohortAPIError(404, f"Cohort {body.get('cohort_id')} not found")
        if not cohort.is_static:
            raise CohortAPIError(400, "Only uploaded (static) cohorts have members added or removed")
        for _, operation, matched, _ in planned:
            if operation == "ADD":
                service.change_members(session, rt.engine, cohort, add=matched)
            else:
                service.change_members(session, rt.engine, cohort, remove=matched)
        cohort_id = cohort.id
    return _json(
        {
            "cohort_id": str(cohort_id),
            "memberships_result": [
                {"skipped_ids": invalid, "id_type": id_type, "operation": operation}
                for id_type, operation, _, invalid in planned
            ],
        }
    )
