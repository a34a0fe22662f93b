"""`GET /api/2/export`: Amplitude's Export API over HTTP (the semantics are in `footfall.export.amplitude`).

Everything that can fail is checked before the first byte: auth (401), the range (400), the limits
(429), no data (404, which clients treat as an empty range) and the size (400, which Airbyte answers by
halving the window). Then the zip streams, hour by hour, holding a concurrency slot until it ends.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse

from footfall.api.amplitude.errors import amplitude_error
from footfall.api.auth import amplitude_project
from footfall.api.limits import LeasedStream, LimitExceeded, limiter
from footfall.export.amplitude import ExportSettings, RangeError, export_zip, parse_range, plan_export
from footfall.meta.accounts import ProjectInfo

router = APIRouter(tags=["Amplitude Export API"])

TOO_LARGE = (
    "The file size of the exported data is too large. Shorten the time ranges and try again. The limit size is {}."
)


def _size(limit: int) -> str:
    return f"{limit / (1 << 30):g}GB" if limit >= 1 << 30 else f"{limit} bytes"


@router.get("/api/2/export", response_class=StreamingResponse)
def export(
    request: Request,
    start: str | None = None,
    end: str | None = None,
    project: ProjectInfo = Depends(amplitude_project),
) -> Response:
    """Raw events uploaded from `start` to `end` (YYYYMMDDTHH, hours included, UTC) as a zip of gzipped JSON lines."""
    try:
        hours = parse_range(start, end)
    except RangeError as exc:
        return amplitude_error(400, str(exc))
    settings = ExportSettings.of(project.settings)
    try:
        # Cost: the hours scanned, so a year-long export spends what 8,760 one-hour exports would.
        lease = limiter(request).acquire(project.id, project.settings, cost=hours.hours)
    except LimitExceeded as exc:
        return exc.response()
    try:
        engine = request.app.state.runtime.engine
        plan = plan_export(engine, project.id, hours)
        if not plan.events:
            lease.release()
            return amplitude_error(404, "No data available for the time range requested.")
        if plan.estimated_bytes > settings.max_bytes:
            lease.release()
            return amplitude_error(400, TOO_LARGE.format(_size(settings.max_bytes)))
        body = export_zip(engine, plan, settings)
    except BaseException:
        lease.release()
        raise
    filename = f"{project.id}_{start}_{end}.zip"
    return LeasedStream(
        body,
        lease,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
