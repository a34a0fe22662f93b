"""PostHog's cohorts: list, create (dynamic from `filters`, static from person ids or a CSV upload), retrieve,
PATCH (soft delete with `deleted`), the members (`persons`), and static membership changes.

Everything goes through the cohort service Amplitude's cohort API uses (`footfall.api.cohorts`), so a cohort
made here is listed, downloadable and usable as a segment there, and the reverse. Dynamic cohorts are
computed when created or changed and again when read after `STALE_AFTER`; `is_calculating` is therefore
always false. DELETE is 405 as in PostHog: deletion is `PATCH {"deleted": true}`.
"""

from __future__ import annotations

import csv
import io
import uuid
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from footfall.api import cohorts as service
from footfall.api.posthog.auth import Caller, require
from footfall.api.posthog.common import body_of, dual_route, json_response, limit_offset, page, validated
from footfall.api.posthog.errors import PostHogAPIError, invalid, not_found
from footfall.api.posthog.people_events import person_json
from footfall.api.posthog.serialize import iso, user
from footfall.meta import cohorts as rows
from footfall.meta.models import Cohort
from footfall.query import cohorts as membership
from footfall.query.actors import ActorsQuery, run_actors
from footfall.query.spec import QueryError

router = APIRouter(tags=["PostHog cohorts"])

MAX_IDS = 100_000  # persons per request, as Amplitude's cohort upload allows
MAX_CSV_BYTES = 64 << 20
PersonIds = Annotated[list[str], Field(max_length=MAX_IDS)]


class CohortIn(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    name: str | None = Field(default=None, max_length=400)
    description: str | None = Field(default=None, max_length=1000)
    filters: dict[str, Any] | None = None
    groups: list[dict[str, Any]] | None = None  # the legacy form of filters
    query: dict[str, Any] | None = None
    is_static: bool | None = None
    deleted: bool | None = None
    static_person_ids: PersonIds | None = Field(default=None, alias="_create_static_person_ids")


class AddPersonsIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    person_ids: PersonIds


class RemovePersonIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    person_id: str


def cohort_json(session: Session, cohort: Cohort) -> dict[str, Any]:
    kind = "static" if cohort.is_static else "behavioral" if service.is_behavioral(cohort.definition) else None
    return {
        "id": cohort.id,
        "name": cohort.name,
        "description": cohort.description,
        "groups": [],
        "deleted": cohort.deleted,
        "filters": None if cohort.is_static else cohort.definition,
        "query": None,
        "version": None,
        "pending_version": None,
        "is_calculating": False,
        "created_by": user(session, cohort.created_by_id),
        "created_at": iso(cohort.created_at),
        "last_calculation": iso(cohort.last_computed),
        "errors_calculating": 0,
        "last_error_message": None,
        "count": cohort.count,
        "is_static": cohort.is_static,
        "cohort_type": kind or "person_property",
        "experiment_set": [],
    }


# --- request bodies: JSON, or a multipart form with a `csv` file ---------------------------------------


async def _body(request: Request) -> tuple[CohortIn, bytes | None]:
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return await body_of(request, CohortIn), None
    form = await request.form()
    upload = form.get("csv")
    if isinstance(upload, UploadFile) and (upload.size or 0) > MAX_CSV_BYTES:
        raise invalid(f"the csv file is larger than {MAX_CSV_BYTES >> 20} MB", "csv")
    fields: dict[str, Any] = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        fields["filters"] = orjson.loads(fields["filters"]) if "filters" in fields else None
    except orjson.JSONDecodeError as exc:
        raise invalid("filters must be JSON", "filters") from exc
    if "is_static" in fields:
        fields["is_static"] = fields["is_static"].lower() in ("true", "1")
    return validated(CohortIn, fields), await upload.read() if isinstance(upload, UploadFile) else None


def _csv_ids(data: bytes) -> tuple[list[str], bool]:
    """The ids of an uploaded CSV and whether they are person ids: a `person_id` or `distinct_id` column named
    in a header row, else the first column (PostHog's first form: distinct ids, one per row)."""
    try:
        lines = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise invalid(f"the csv file could not be read: {exc}", "csv") from exc
    header = [cell.strip().lower() for cell in lines[0]] if lines else []
    if "email" in header and not {"person_id", "distinct_id"} & set(header):
        raise invalid("matching persons by email is not supported: upload distinct_id or person_id", "csv")
    column, by_person = 0, False
    for name in ("person_id", "distinct_id"):
        if name in header:
            column, by_person, lines = header.index(name), name == "person_id", lines[1:]
            break
    ids = [line[column].strip() for line in lines if len(line) > column and line[column].strip()]
    if len(ids) > MAX_IDS:
        raise invalid(f"at most {MAX_IDS} persons per upload", "csv")
    return ids, by_person


def _persons(request: Request, caller: Caller, person_ids: list[str], upload: bytes | None) -> list[str]:
    """The persons named by id and by the upload (unknown ids name no one, as in PostHog)."""
    engine = request.app.state.runtime.engine
    found = list(membership.persons_by_id(engine, caller.project.id, person_ids).values())
    if upload is not None:
        ids, by_person = _csv_ids(upload)
        lookup = membership.persons_by_id if by_person else membership.persons_by_distinct_id
        found += lookup(engine, caller.project.id, ids).values()
    return found


def _definition(body: CohortIn) -> dict[str, Any] | None:
    """`filters`, or legacy `groups` of person properties as the same filters (an OR of ANDs)."""
    if body.query is not None:
        raise invalid("cohorts from a query are not supported: use filters, person ids or a csv", "query")
    if body.filters is not None or not body.groups:
        return body.filters
    if any(set(group) - {"properties"} for group in body.groups):
        raise invalid("legacy groups with actions or events are not supported: use filters", "groups")
    values = [{"type": "AND", "values": group.get("properties") or []} for group in body.groups]
    return {"properties": {"type": "OR", "values": values}}


def _cohort(session: Session, caller: Caller, cohort_id: int, include_deleted: bool = True) -> Cohort:
    found = rows.get_cohort(session, caller.project.id, cohort_id, include_deleted)
    if found is None:
        raise not_found()
    return found


def _rules_error(exc: QueryError) -> PostHogAPIError:
    return invalid(str(exc), "filters")


# --- endpoints ----------------------------------------------------------------------------------------


@dual_route(router, "/cohorts/", ["GET"])
def list_cohorts(request: Request, caller: Caller = Depends(require("cohort:read"))) -> Response:
    limit, offset = limit_offset(request)
    rt = request.app.state.runtime
    live = (Cohort.project_id == caller.project.id, Cohort.deleted.is_(False))
    with rt.meta.session() as session, session.begin():
        count = session.scalar(select(func.count()).select_from(Cohort).where(*live)) or 0
        found = list(
            session.scalars(
                select(Cohort)
                .where(*live)
                .order_by(Cohort.created_at.desc(), Cohort.id.desc())
                .limit(limit)
                .offset(offset)
            )
        )
        try:
            service.refresh(session, rt.engine, found)
        except QueryError as exc:
            raise _rules_error(exc) from exc
        items = [cohort_json(session, c) for c in found]
    return json_response(page(request, items, count, limit, offset))


@dual_route(router, "/cohorts/", ["POST"])
async def create_cohort(request: Request, caller: Caller = Depends(require("cohort:write"))) -> Response:
    body, upload = await _body(request)
    return await run_in_threadpool(_create, request, caller, body, upload)


def _create(request: Request, caller: Caller, body: CohortIn, upload: bytes | None) -> Response:
    rt = request.app.state.runtime
    fields = {"description": body.description or "", "created_by_id": caller.user_id or None}
    with rt.meta.session() as session, session.begin():
        if body.is_static:
            persons = _persons(request, caller, body.static_person_ids or [], upload)
            cohort = service.create_static(session, rt.engine, caller.project.id, body.name or "", persons, **fields)
        else:
            definition = _definition(body)
            if definition is None:
                raise invalid("a dynamic cohort needs filters (or is_static with persons or a csv)", "filters")
            try:
                cohort = service.create_dynamic(
                    session, rt.engine, caller.project.id, body.name or "", definition, **fields
                )
            except QueryError as exc:
                raise _rules_error(exc) from exc
        return json_response(cohort_json(session, cohort), 201)


@dual_route(router, "/cohorts/{cohort_id}/", ["GET"])
def retrieve_cohort(request: Request, cohort_id: int, caller: Caller = Depends(require("cohort:read"))) -> Response:
    rt = request.app.state.runtime
    with rt.meta.session() as session, session.begin():
        cohort = _cohort(session, caller, cohort_id)
        try:
            service.refresh(session, rt.engine, [cohort])
        except QueryError as exc:
            raise _rules_error(exc) from exc
        return json_response(cohort_json(session, cohort))


@dual_route(router, "/cohorts/{cohort_id}/", ["PATCH", "PUT"])
async def update_cohort(
    request: Request, cohort_id: int, caller: Caller = Depends(require("cohort:write"))
) -> Response:
    body, upload = await _body(request)
    return await run_in_threadpool(_update, request, caller, cohort_id, body, upload)


def _update(request: Request, caller: Caller, cohort_id: int, body: CohortIn, upload: bytes | None) -> Response:
    rt = request.app.state.runtime
    with rt.meta.session() as session, session.begin():
        cohort = _cohort(session, caller, cohort_id)
        if body.is_static is not None and body.is_static != cohort.is_static:
            raise invalid("a cohort cannot change between static and dynamic", "is_static")
        if body.name is not None:
            cohort.name = body.name
        if body.description is not None:
            cohort.description = body.description
        if body.deleted is not None:
            cohort.deleted = body.deleted
        definition = None if cohort.is_static else _definition(body)
        try:
            if definition is not None:
                service.redefine(session, rt.engine, cohort, definition)
            if cohort.is_static and (upload is not None or body.static_person_ids):
                persons = _persons(request, caller, body.static_person_ids or [], upload)
                service.change_members(session, rt.engine, cohort, add=persons)
        except QueryError as exc:
            raise _rules_error(exc) from exc
        return json_response(cohort_json(session, cohort))


@dual_route(router, "/cohorts/{cohort_id}/", ["DELETE"])
def delete_cohort(cohort_id: int, caller: Caller = Depends(require("cohort:write"))) -> Response:
    raise PostHogAPIError(405, "method_not_allowed", 'Method "DELETE" not allowed. To delete, PATCH {"deleted": true}.')


@dual_route(router, "/cohorts/{cohort_id}/persons/", ["GET"])
def cohort_persons(request: Request, cohort_id: int, caller: Caller = Depends(require("cohort:read"))) -> Response:
    """The members (merges followed), as the persons endpoint shows them, a page at a time in person id order."""
    limit, offset = limit_offset(request)
    rt = request.app.state.runtime
    with rt.meta.session() as session:
        cohort = _cohort(session, caller, cohort_id)
    members = ActorsQuery(caller.project.id, filters=(membership.in_cohort(cohort.id),), limit=limit, offset=offset)
    found = run_actors(rt.engine, members).actors
    items = [person_json(a.person_id, a.properties, a.created_at, a.is_identified, a.distinct_ids) for a in found]
    return json_response(page(request, items, membership.size(rt.engine, caller.project.id, cohort.id), limit, offset))


@dual_route(router, "/cohorts/{cohort_id}/add_persons_to_static_cohort/", ["PATCH"])
async def add_persons(request: Request, cohort_id: int, caller: Caller = Depends(require("cohort:write"))) -> Response:
    """Persons by id; ids of no person are skipped, but at least one must be valid (as in PostHog)."""
    body = await body_of(request, AddPersonsIn)
    if not body.person_ids:
        raise invalid("person_ids cannot be empty", "person_ids")
    return await run_in_threadpool(_change, request, caller, cohort_id, body.person_ids, True)


@dual_route(router, "/cohorts/{cohort_id}/remove_person_from_static_cohort/", ["PATCH"])
async def remove_person(
    request: Request, cohort_id: int, caller: Caller = Depends(require("cohort:write"))
) -> Response:
    """One person by id (404 if the project has no such person); removing a non-member succeeds."""
    body = await body_of(request, RemovePersonIn)
    try:
        uuid.UUID(body.person_id)
    except ValueError as exc:
        raise invalid("person_id must be a valid UUID", "person_id") from exc
    return await run_in_threadpool(_change, request, caller, cohort_id, [body.person_id], False)


def _change(request: Request, caller: Caller, cohort_id: int, person_ids: list[str], add: bool) -> Response:
    rt = request.app.state.runtime
    with rt.meta.session() as session, session.begin():
        cohort = _cohort(session, caller, cohort_id, include_deleted=False)
        if not cohort.is_static:
            raise invalid("only static cohorts have persons added or removed", "person_ids" if add else "person_id")
        persons = _persons(request, caller, person_ids, None)
        if not persons:
            if not add:
                raise PostHogAPIError(404, "not_found", "Person with this UUID does not exist in this project")
            raise invalid("No valid users to add to cohort", "person_ids")
        service.change_members(session, rt.engine, cohort, **{"add" if add else "remove": persons})
        return json_response({"success": True})
