"""The web UI's pages. Each handler renders a shell with what the page needs to start; the page's script
then reads and writes through the PostHog REST API with the session cookie (footfall.api.posthog.auth)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import or_, select

from footfall import (
    __version__,
    routing,  # noqa: F401  (registers the {name:id} path convertor)
)
from footfall.api.posthog.serialize import iso
from footfall.bodies import TooLarge, read_body
from footfall.meta.accounts import ADMIN_EMAIL, check_login
from footfall.meta.models import Dashboard, DashboardTile, Insight, Project, User
from footfall.render import charts
from footfall.ui import session as ui_session

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False)


@functools.cache
def vega_bundle() -> bytes:
    """Vega, Vega-Lite and vega-embed from vl-convert's bundle: the UI draws charts offline."""
    import vl_convert

    return vl_convert.javascript_bundle().encode()


def _projects(request: Request) -> list[dict[str, Any]]:
    with request.app.state.runtime.meta.session() as session:
        rows = session.execute(select(Project.id, Project.name, Project.timezone).order_by(Project.id)).all()
    return [{"id": pid, "name": name, "timezone": tz} for pid, name, tz in rows]


def _login_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target)}", 303)


def page(request: Request, template: str, project_id: int | None = None, **context: Any) -> Response:
    """A signed-in page of a project (the first project when none is named), or the way to sign in."""
    user = ui_session.current(request)
    if user is None:
        return _login_redirect(request)
    projects = _projects(request)
    project = next((p for p in projects if p["id"] == project_id), None)
    if project_id is not None and project is None:
        return templates.TemplateResponse(request, "error.html", {"message": "No such project."}, status_code=404)
    data = {"project": project, "csrf": user.csrf, **context.pop("data", {})}
    return templates.TemplateResponse(
        request,
        template,
        {"projects": projects, "project": project, "data": data, "version": __version__, **context},
    )


@router.get("/")
def home(request: Request) -> Response:
    if ui_session.current(request) is None:
        return _login_redirect(request)
    projects = _projects(request)
    if not projects:
        return page(request, "empty.html")
    return RedirectResponse(f"/project/{projects[0]['id']}/dashboards", 303)


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    with request.app.state.runtime.meta.session() as session:
        has_password = bool(session.scalar(select(User.id).where(User.is_admin.is_(True), User.password_hash != "")))
    context = {"next": _safe_next(next), "email": ADMIN_EMAIL, "has_password": has_password, "error": None}
    return templates.TemplateResponse(request, "login.html", context)


def _safe_next(target: str) -> str:
    """Only paths of this site: `//evil.example` or a full URL would send the user elsewhere."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"


@router.post("/login")
def login(request: Request, email: str = Form(""), password: str = Form(""), next: str = Form("/")) -> Response:
    with request.app.state.runtime.meta.session() as session:
        user = check_login(session, email, password)
        if user is not None:
            response = RedirectResponse(_safe_next(next), 303)
            ui_session.start(request, response, user)
            return response
    context = {"next": _safe_next(next), "email": email, "has_password": True, "error": "Wrong email or password."}
    return templates.TemplateResponse(request, "login.html", context, status_code=401)


@router.post("/logout")
def logout(request: Request) -> Response:
    user = ui_session.current(request)
    if user is not None and not ui_session.csrf_ok(request, user):
        return Response("CSRF token missing or wrong", 403)
    response = RedirectResponse("/login", 303)
    ui_session.end(response)
    return response


@router.get("/project/{project_id:id}/dashboards")
def dashboards(request: Request, project_id: int) -> Response:
    with request.app.state.runtime.meta.session() as session:
        rows = session.scalars(
            select(Dashboard)
            .where(Dashboard.project_id == project_id, Dashboard.creation_mode != "unlisted")
            .order_by(Dashboard.pinned.desc(), Dashboard.name)
        ).all()
        listed = [
            {
                "id": b.id,
                "name": b.name,
                "description": b.description,
                "pinned": b.pinned,
                "deleted": b.deleted,
                "tags": b.tags or [],
                "created_at": b.created_at.strftime("%Y-%m-%d") if b.created_at else "",
            }
            for b in rows
        ]
    return page(
        request,
        "dashboards.html",
        project_id,
        live=[b for b in listed if not b["deleted"]],
        deleted=[b for b in listed if b["deleted"]],
    )


@router.get("/project/{project_id:id}/dashboard/{dashboard_id:id}")
def dashboard(request: Request, project_id: int, dashboard_id: int) -> Response:
    return page(request, "dashboard.html", project_id, data={"dashboard_id": dashboard_id})


# The insight kinds in the builder's tab order, named as PostHog's UI names them.
INSIGHT_KINDS = {
    "TrendsQuery": "Trends",
    "FunnelsQuery": "Funnel",
    "RetentionQuery": "Retention",
    "LifecycleQuery": "Lifecycle",
    "StickinessQuery": "Stickiness",
    "PathsQuery": "Paths",
}
INSIGHT_LIST_LIMIT = 500


@router.get("/project/{project_id:id}/insights")
def insights(request: Request, project_id: int, search: str = "") -> Response:
    """Saved insights, most recently modified first, with the dashboards each is on."""
    query = select(Insight).where(Insight.project_id == project_id, Insight.deleted.is_(False), Insight.saved.is_(True))
    if search.strip():
        pattern = f"%{search.strip()}%"
        query = query.where(
            or_(Insight.name.ilike(pattern), Insight.derived_name.ilike(pattern), Insight.description.ilike(pattern))
        )
    with request.app.state.runtime.meta.session() as session:
        found = session.scalars(
            query.order_by(Insight.last_modified_at.desc(), Insight.id.desc()).limit(INSIGHT_LIST_LIMIT)
        ).all()
        on_boards: dict[int, list[dict[str, Any]]] = {}
        for insight_id, board_id, board_name in session.execute(
            select(DashboardTile.insight_id, Dashboard.id, Dashboard.name)
            .join(Dashboard, Dashboard.id == DashboardTile.dashboard_id)
            .where(
                Dashboard.project_id == project_id,
                DashboardTile.insight_id.in_([i.id for i in found]),
                DashboardTile.deleted.is_(False),
                Dashboard.deleted.is_(False),
            )
            .order_by(Dashboard.name)
        ):
            on_boards.setdefault(insight_id, []).append({"id": board_id, "name": board_name})
        listed = [
            {
                "id": i.id,
                "name": i.name or i.derived_name or "Untitled insight",
                "description": i.description,
                "kind": INSIGHT_KINDS.get(i.kind, i.kind or "Amplitude chart"),
                "modified": iso(i.last_modified_at) or "",
                "dashboards": on_boards.get(i.id, []),
            }
            for i in found
        ]
    context = {"insights": listed, "search": search, "kinds": INSIGHT_KINDS, "limit": INSIGHT_LIST_LIMIT}
    return page(request, "insights.html", project_id, **context)


@router.get("/project/{project_id:id}/insights/new")
def new_insight(request: Request, project_id: int, kind: str = "TrendsQuery") -> Response:
    return _insight_builder(request, project_id, None, kind if kind in INSIGHT_KINDS else "TrendsQuery")


@router.get("/project/{project_id:id}/insight/{insight_id:id}")
def insight(request: Request, project_id: int, insight_id: int) -> Response:
    return _insight_builder(request, project_id, insight_id, None)


def _insight_builder(request: Request, project_id: int, insight_id: int | None, kind: str | None) -> Response:
    """The builder; a saved insight's query is read by the page's script, so view and edit are one page."""
    with request.app.state.runtime.meta.session() as session:
        rows = session.execute(
            select(Dashboard.id, Dashboard.name)
            .where(
                Dashboard.project_id == project_id,
                Dashboard.deleted.is_(False),
                Dashboard.creation_mode != "unlisted",
            )
            .order_by(Dashboard.name)
        ).all()
    return page(
        request,
        "insight.html",
        project_id,
        kinds=INSIGHT_KINDS,
        dashboards=[{"id": board_id, "name": name} for board_id, name in rows],
        data={"insight_id": insight_id, "kind": kind},
    )


@router.get("/project/{project_id:id}/events")
def events(request: Request, project_id: int) -> Response:
    """The events explorer; its empty state shows how to send a first event, so it needs the ingest key."""
    with request.app.state.runtime.meta.session() as session:
        api_key = session.scalar(select(Project.api_key).where(Project.id == project_id))
    host = str(request.base_url).rstrip("/")
    return page(request, "events.html", project_id, data={"api_key": api_key, "host": host})


@router.get("/project/{project_id:id}/persons")
def persons(request: Request, project_id: int) -> Response:
    return page(request, "persons.html", project_id)


@router.get("/project/{project_id:id}/person/{person_id:path}")
def person(request: Request, project_id: int, person_id: str) -> Response:
    """A person by UUID, or by one of their distinct ids (which may hold a '/')."""
    if not person_id:  # e.g. the project switcher keeping the page kind: there is no "current" person
        return RedirectResponse(f"/project/{project_id}/persons", 303)
    return page(request, "person.html", project_id, data={"person_id": person_id})


@router.get("/shared/{token}")
def shared(request: Request, token: str) -> Response:
    """A browser gets the page; API clients (and the page's own script) get the JSON."""
    from footfall.api.posthog import sharing

    if "text/html" not in request.headers.get("accept", ""):
        return sharing.shared(request, token)
    return templates.TemplateResponse(request, "shared.html", {"data": {"token": token}, "version": __version__})


@router.get("/_ui/vega.js")
def vega(request: Request) -> Response:
    return Response(
        vega_bundle(), media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400, immutable"}
    )


@router.post("/_ui/chart")
async def chart(request: Request) -> Response:
    """The Vega-Lite spec of PostHog-shaped results, from the same builders the PNG and PDF exports use.

    Public on purpose: it reads nothing stored (shared pages use it too); the body size is capped."""
    try:
        item = orjson.loads(await read_body(request))
        spec = charts.for_insight(
            str(item["kind"]),
            item.get("results"),
            item.get("title"),
            str(item.get("display") or "ActionsLineGraph"),
            int(item.get("width") or charts.WIDTH),
            int(item.get("height") or charts.HEIGHT),
        )
    except TooLarge:
        return Response(orjson.dumps({"detail": "chart input too large"}), 413, media_type="application/json")
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        detail = f"cannot draw these results: {type(exc).__name__}"
        return Response(orjson.dumps({"detail": detail}), 400, media_type="application/json")
    return Response(orjson.dumps(spec), media_type="application/json")

