"""Amplitude's Chart Annotations API: v2 (`/api/2/annotations`), v3 (`/api/3/annotations`) and categories.

Both versions read and write the one `annotations` table PostHog's annotations use too. v2 dates are
whole days in the project's time zone; v3 `start`/`end` are ISO-8601 (a date means local midnight, a
time without offset is local) and are returned as local times with their offset. Deletion is soft.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from footfall.api.amplitude.errors import amplitude_error
from footfall.api.auth import amplitude_project
from footfall.meta import annotations
from footfall.meta.accounts import ProjectInfo
from footfall.meta.insights import chart_by_ref
from footfall.meta.models import Annotation, AnnotationCategory, Insight

router = APIRouter(tags=["Amplitude Chart Annotations API"])

MAX_LABEL = 1000
MAX_CATEGORY = 200


class Refused(Exception):
    """An answer other than 200: Amplitude's plain-text error with this status."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status

    def response(self) -> Response:
        return amplitude_error(self.status, str(self))


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status, media_type="application/json")


def _run(request: Request, work: Callable[[Session], Any], status: int = 200) -> Response:
    """`work` in one metadata transaction; its result as JSON, or its refusal."""
    try:
        with request.app.state.runtime.meta.session() as session, session.begin():
            return _json(work(session), status)
    except Refused as exc:
        return exc.response()


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = orjson.loads(await request.body() or b"{}")
    except orjson.JSONDecodeError as exc:
        raise Refused(400, "The body must be JSON") from exc
    if not isinstance(body, dict):
        raise Refused(400, "The body must be a JSON object")
    return body


# --- times -------------------------------------------------------------------------------------------


def _zone(project: ProjectInfo) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(project.timezone)


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _local(moment: dt.datetime, project: ProjectInfo) -> dt.datetime:
    return _utc(moment).astimezone(_zone(project))


def parse_day(raw: Any, name: str, project: ProjectInfo) -> dt.datetime:
    """YYYY-MM-DD as the UTC instant of that local midnight."""
    try:
        day = dt.date.fromisoformat(raw) if isinstance(raw, str) and len(raw) == 10 else None
    except ValueError:
        day = None
    if day is None:
        raise Refused(400, f"{name} must be a date (YYYY-MM-DD)")
    return dt.datetime.combine(day, dt.time(), _zone(project)).astimezone(dt.UTC)


def parse_instant(raw: Any, name: str, project: ProjectInfo) -> dt.datetime:
    """ISO-8601: a date is local midnight; a time without offset is local."""
    if isinstance(raw, str) and len(raw) == 10:
        return parse_day(raw, name, project)
    try:
        moment = dt.datetime.fromisoformat(raw.replace("Z", "+00:00")) if isinstance(raw, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise Refused(400, f"{name} must be an ISO-8601 date or time")
    return (moment.replace(tzinfo=_zone(project)) if moment.tzinfo is None else moment).astimezone(dt.UTC)


# --- lookups (always within the project) -------------------------------------------------------------


def _as_id(raw: Any) -> int | None:
    """A row id from a path, a query string or a body; None for anything else (no row has it)."""
    if isinstance(raw, int) and not isinstance(raw, bool) and 0 < raw < 2**62:
        return raw
    if isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) <= 18:
        return int(raw)
    return None


def _id(raw: Any, what: str) -> int:
    found = _as_id(raw)
    if found is None:
        raise Refused(404, f"{what} not found")
    return found


def _annotation(session: Session, project: ProjectInfo, raw: Any) -> Annotation:
    found = annotations.find(session, project.id, _id(raw, "Annotation"))
    if found is None:
        raise Refused(404, "Annotation not found")
    return found


def _category(session: Session, project: ProjectInfo, raw: Any, status: int = 404) -> AnnotationCategory:
    """A category by id, or (for annotation bodies and filters) by name."""
    scoped = select(AnnotationCategory).where(AnnotationCategory.project_id == project.id)
    found, category_id = None, _as_id(raw)
    if category_id is not None:
        found = session.scalar(scoped.where(AnnotationCategory.id == category_id))
    if found is None and isinstance(raw, str):
        found = session.scalar(scoped.where(AnnotationCategory.name == raw))
    if found is None:
        raise Refused(status, "Category not found")
    return found


def _chart(session: Session, project: ProjectInfo, raw: Any) -> Insight:
    found = chart_by_ref(session, project.id, str(raw)) if isinstance(raw, str | int) and raw != "" else None
    if found is None:
        raise Refused(400, f"Unknown chart_id: {raw}")
    return found


def _label(raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip() or len(raw) > MAX_LABEL:
        raise Refused(400, f"label is required (1 to {MAX_LABEL} characters)")
    return raw


def _details(raw: Any) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise Refused(400, "details must be a string")
    return raw


# --- shapes ------------------------------------------------------------------------------------------


def v2_json(annotation: Annotation, project: ProjectInfo) -> dict[str, Any]:
    return {
        "id": annotation.id,
        "date": _local(annotation.date_marker, project).strftime("%Y-%m-%d"),
        "label": annotation.content,
        "details": annotation.details,
    }


def v3_json(session: Session, annotation: Annotation, project: ProjectInfo) -> dict[str, Any]:
    category = session.get(AnnotationCategory, annotation.category_id) if annotation.category_id else None
    chart = session.get(Insight, annotation.insight_id) if annotation.insight_id else None
    end = annotation.end_marker
    return {
        "id": annotation.id,
        "start": _local(annotation.date_marker, project).isoformat(),
        "end": _local(end, project).isoformat() if end is not None else None,
        "label": annotation.content,
        "details": annotation.details,
        "category": {"id": category.id, "name": category.name} if category else None,
        "chart_id": chart.short_id if chart else None,
    }


# --- v2 ----------------------------------------------------------------------------------------------


@router.get("/api/2/annotations")
def list_v2(request: Request, project: ProjectInfo = Depends(amplitude_project)) -> Response:
    wanted = request.query_params.get("id")

    def work(session: Session) -> dict[str, Any]:
        if wanted is not None:
            return {"data": [v2_json(_annotation(session, project, wanted), project)]}
        found = session.scalars(
            select(Annotation)
            .where(Annotation.project_id == project.id, Annotation.deleted.is_(False))
            .order_by(Annotation.date_marker, Annotation.id)
        )
        return {"data": [v2_json(a, project) for a in found]}

    return _run(request, work)


@router.post("/api/2/annotations")
async def create_v2(request: Request, project: ProjectInfo = Depends(amplitude_project)) -> Response:
    """Parameters in the query string, as documented, or as a form body (`curl -d`, as older docs show)."""
    fields: Mapping[str, Any] = request.query_params
    if not fields.get("label") and "form" in request.headers.get("content-type", ""):
        fields = await request.form()
    params = {k: fields.get(k) for k in ("date", "label", "details", "chart_id")}

    def work(session: Session) -> dict[str, Any]:
        annotation = Annotation(
            project_id=project.id,
            content=_label(params["label"]),
            details=_details(params["details"]),
            date_marker=parse_day(params["date"], "date", project),
        )
        annotations.attach(annotation, _chart(session, project, params["chart_id"]) if params["chart_id"] else None)
        session.add(annotation)
        session.flush()
        return {"annotation": v2_json(annotation, project), "success": True}

    return await run_in_threadpool(_run, request, work)


# --- v3 ----------------------------------------------------------------------------------------------


@router.get("/api/3/annotations")
def list_v3(request: Request, project: ProjectInfo = Depends(amplitude_project)) -> Response:
    q = request.query_params

    def work(session: Session) -> dict[str, Any]:
        query = select(Annotation).where(Annotation.project_id == project.id, Annotation.deleted.is_(False))
        if q.get("category"):
            query = query.where(Annotation.category_id == _category(session, project, q["category"], 400).id)
        if q.get("chart_id"):
            query = query.where(Annotation.insight_id == _chart(session, project, q["chart_id"]).id)
        # start/end select the annotations overlapping [start, end].
        if q.get("start"):
            start = parse_instant(q["start"], "start", project)
            query = query.where(or_(Annotation.date_marker >= start, Annotation.end_marker >= start))
        if q.get("end"):
            end = parse_instant(q["end"], "end", project)
            if len(q["end"]) == 10:  # a date ends with its (local) day
                query = query.where(Annotation.date_marker < parse_day(q["end"], "end", project) + dt.timedelta(days=1))
            else:
                query = query.where(Annotation.date_marker <= end)
        found = session.scalars(query.order_by(Annotation.date_marker, Annotation.id))
        return {"data": [v3_json(session, a, project) for a in found]}

    return _run(request, work)


def _apply_v3(session: Session, project: ProjectInfo, annotation: Annotation, body: dict[str, Any]) -> None:
    """The fields present in `body` (`date`/`end_date` are accepted for `start`/`end`)."""
    for alias, name in (("date", "start"), ("end_date", "end")):
        if name not in body and alias in body:
            body[name] = body[alias]
    if "label" in body:
        annotation.content = _label(body["label"])
    if "details" in body:
        annotation.details = _details(body["details"])
    if "start" in body:
        annotation.date_marker = parse_instant(body["start"], "start", project)
    if "end" in body:
        annotation.end_marker = parse_instant(body["end"], "end", project) if body["end"] is not None else None
    if "category" in body:
        category = body["category"]
        if isinstance(category, dict):  # the shape it is returned in
            category = category.get("id")
        annotation.category_id = _category(session, project, category, 400).id if category is not None else None
    if "chart_id" in body:
        chart = _chart(session, project, body["chart_id"]) if body["chart_id"] is not None else None
        annotations.attach(annotation, chart)
    if annotation.end_marker is not None and _utc(annotation.end_marker) < _utc(annotation.date_marker):
        raise Refused(400, "end is before start")


@router.post("/api/3/annotations")
async def create_v3(request: Request, project: ProjectInfo = Depends(amplitude_project)) -> Response:
    try:
        body = await _body(request)
    except Refused as exc:
        return exc.response()

    def work(session: Session) -> dict[str, Any]:
        if "label" not in body or not ({"start", "date"} & body.keys()):
            raise Refused(400, "label and start are required")
        annotation = Annotation(project_id=project.id)
        _apply_v3(session, project, annotation, body)
        session.add(annotation)
        session.flush()
        return {"data": v3_json(session, annotation, project)}

    return await run_in_threadpool(_run, request, work)


@router.get("/api/3/annotations/{annotation_id}")
def get_v3(annotation_id: str, request: Request, project: ProjectInfo = Depends(amplitude_project)) -> Response:
    return _run(
        request, lambda session: {"data": v3_json(session, _annotation(session, project, annotation_id), project)}
    )


@router.put("/api/3/annotations/{annotation_id}")
async def update_v3(
    annotation_id: str, request: Request, project: ProjectInfo = Depends(amplitude_project)
) -> Response:
    try:
        body = await _body(request)
    except Refused as exc:
        return exc.response()

    def work(session: Session) -> dict[str, Any]:
        annotation = _annotation(session, project, annotation_id)
        _apply_v3(session, project, annotation, body)
        session.flush()
        return {"data": v3_json(session, annotation, project)}

    return await run_in_threadpool(_run, request, work)


@router.delete("/api/3/annotations/{annotation_id}")
def delete_v3(annotation_id: str, request: Request, project: ProjectInfo = Depends(amplitude_project)) -> Response:
    def work(session: Session) -> dict[str, Any]:
        _annotation(session, project, annotation_id).deleted = True
        return {"success": True}

    return _run(request, work)


# --- categories --------------------------------------------------------------------------------------


def _category_name(body: dict[str, Any]) -> str:
    name = body.get("category")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_CATEGORY:
        raise Refused(400, f"category is required (1 to {MAX_CATEGORY} characters)")
    return name.strip()


def _unique_name(session: Session, project: ProjectInfo, name: str, other_than: int | None = None) -> None:
    clash = session.scalar(
        select(AnnotationCategory.id).where(
            AnnotationCategory.project_id == project.id, AnnotationCategory.name == name
        )
    )
    if clash is not None and clash != other_than:
        raise Refused(409, f"Category {name!r} already exists")


def category_json(category: AnnotationCategory) -> dict[str, Any]:
    return {"id": category.id, "name": category.name}


@router.post("/api/3/annotation-categories")
async def create_category(request: Request, project: ProjectInfo = Depends(amplitude_project)) -> Response:
    try:
        body = await _body(request)
    except Refused as exc:
        return exc.response()

    def work(session: Session) -> dict[str, Any]:
        name = _category_name(body)
        _unique_name(session, project, name)
        category = AnnotationCategory(project_id=project.id, name=name)
        session.add(category)
        session.flush()
        return {"data": category_json(category)}

    return await run_in_threadpool(_run, request, work)


@router.get("/api/3/annotation-categories")
def list_categories(request: Request, project: ProjectInfo = Depends(amplitude_project)) -> Response:
    wanted = request.query_params.get("category")

    def work(session: Session) -> dict[str, Any]:
        query = select(AnnotationCategory).where(AnnotationCategory.project_id == project.id)
        if wanted is not None:
            query = query.where(AnnotationCategory.name == wanted)
        found = [category_json(c) for c in session.scalars(query.order_by(AnnotationCategory.id))]
        if wanted is not None and not found:
            raise Refused(404, "Category not found")
        return {"data": found}

    return _run(request, work)


@router.get("/api/3/annotation-categories/{category_id}")
def get_category(category_id: str, request: Request, project: ProjectInfo = Depends(amplitude_project)) -> Response:
    return _run(request, lambda session: {"data": category_json(_category_by_id(session, project, category_id))})


def _category_by_id(session: Session, project: ProjectInfo, raw: str) -> AnnotationCategory:
    found = session.scalar(
        select(AnnotationCategory).where(
            AnnotationCategory.project_id == project.id, AnnotationCategory.id == _id(raw, "Category")
        )
    )
    if found is None:
        raise Refused(404, "Category not found")
    return found


@router.put("/api/3/annotation-categories/{category_id}")
async def update_category(
    category_id: str, request: Request, project: ProjectInfo = Depends(amplitude_project)
) -> Response:
    try:
        body = await _body(request)
    except Refused as exc:
        return exc.response()

    def work(session: Session) -> dict[str, Any]:
        category = _category_by_id(session, project, category_id)
        name = _category_name(body)
        _unique_name(session, project, name, other_than=category.id)
        category.name = name
        return {"data": category_json(category)}

    return await run_in_threadpool(_run, request, work)


@router.delete("/api/3/annotation-categories/{category_id}")
def delete_category(category_id: str, request: Request, project: ProjectInfo = Depends(amplitude_project)) -> Response:
    def work(session: Session) -> dict[str, Any]:
        session.delete(_category_by_id(session, project, category_id))  # its annotations keep no category
        return {"success": True}

    return _run(request, work)
