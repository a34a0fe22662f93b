"""Exports: a PNG of the chart's size, a PDF that opens, a CSV whose numbers equal the API's; 409 until ready."""

from __future__ import annotations

import csv
import io
import re
import time
from typing import Any

import pytest
import vl_convert
from fastapi.testclient import TestClient

from footfall.api.posthog.runner import unwrap
from footfall.meta.accounts import create_personal_key
from footfall.render import charts
from footfall.runtime import Runtime
from tests.conftest import flush, new_project
from tests.test_posthog_dashboards import TRENDS, url

FUNNEL = {
    "kind": "InsightVizNode",
    "source": {
        "kind": "FunnelsQuery",
        "dateRange": TRENDS["source"]["dateRange"],
        "series": [{"kind": "EventsNode", "event": "$pageview"}, {"kind": "EventsNode", "event": "buy"}],
    },
}


@pytest.fixture(scope="module")
def board(client: TestClient, runtime: Runtime) -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
    project = new_project(runtime)
    with runtime.meta.session() as session, session.begin():
        auth = {"Authorization": f"Bearer {create_personal_key(session, ['*'])['key']}"}
    batch = [{"event": "$pageview", "distinct_id": f"u{i}", "timestamp": "2020-01-01T10:00:00Z"} for i in range(3)]
    batch.append({"event": "buy", "distinct_id": "u1", "timestamp": "2020-01-01T11:00:00Z"})
    assert client.post("/batch/", json={"api_key": project["api_key"], "batch": batch}).status_code == 200
    flush(runtime)
    dashboard = client.post(url(project, "dashboards/"), json={"name": "Sales"}, headers=auth).json()
    trends = client.post(
        url(project, "insights/"),
        json={"name": "Views", "query": TRENDS, "dashboards": [dashboard["id"]]},
        headers=auth,
    ).json()
    client.post(
        url(project, "insights/"),
        json={"name": "Buy funnel", "query": FUNNEL, "dashboards": [dashboard["id"]]},
        headers=auth,
    )
    return project, auth, {"dashboard": dashboard["id"], "insight": trends["id"]}


def export(client: TestClient, project: dict[str, Any], auth: dict[str, str], **body: Any) -> tuple[dict, bytes]:
    created = client.post(url(project, "exports/"), json=body, headers=auth)
    assert created.status_code == 201, created.text
    asset = created.json()
    content = url(project, f"exports/{asset['id']}/content/")
    for _ in range(100):
        r = client.get(content, headers=auth)
        if r.status_code != 409:
            break
        assert r.headers["retry-after"] == "5"
        time.sleep(0.1)
    assert r.status_code == 200, r.text
    return asset, r.content


def test_png_has_the_charts_size(client: TestClient, board: tuple[dict[str, Any], dict[str, str], dict]) -> None:
    project, auth, ids = board
    asset, png = export(client, project, auth, export_format="image/png", insight=ids["insight"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and asset["filename"].startswith("export-views-")
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    result = client.post(url(project, "query/"), json={"query": TRENDS}, headers=auth).json()["results"]
    svg = vl_convert.vegalite_to_svg(charts.for_insight("TrendsQuery", result, "Views"))
    svg_width, svg_height = (float(v) for v in re.search(r'width="([\d.]+)" height="([\d.]+)"', svg).groups())
    assert (width, height) == (round(svg_width * 2), round(svg_height * 2))


def test_dashboard_pdf_opens(client: TestClient, board: tuple[dict[str, Any], dict[str, str], dict]) -> None:
    project, auth, ids = board
    _, pdf = export(client, project, auth, export_format="application/pdf", dashboard=ids["dashboard"])
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) >= 1


def test_csv_numbers_equal_the_api(client: TestClient, board: tuple[dict[str, Any], dict[str, str], dict]) -> None:
    project, auth, ids = board
    _, data = export(client, project, auth, export_format="text/csv", insight=ids["insight"])
    table = list(csv.reader(io.StringIO(data.decode())))
    api = client.post(url(project, "query/"), json={"query": TRENDS}, headers=auth).json()["results"]
    assert table[0] == ["Series", *api[0]["days"]]
    assert [float(v) for v in table[1][1:]] == [float(v) for v in api[0]["data"]]
    _, whole = export(client, project, auth, export_format="text/csv", dashboard=ids["dashboard"])
    text = whole.decode()
    assert "Views" in text and "Buy funnel" in text and "$pageview,3," in text


def test_bad_exports(client: TestClient, runtime: Runtime, board: tuple[dict[str, Any], dict[str, str], dict]) -> None:
    project, auth, ids = board
    assert (
        client.post(
            url(project, "exports/"), json={"export_format": "video/mp4", "insight": ids["insight"]}, headers=auth
        ).status_code
        == 400
    )
    assert client.post(url(project, "exports/"), json={"export_format": "image/png"}, headers=auth).status_code == 400
    other = new_project(runtime)
    assert (
        client.post(
            url(other, "exports/"), json={"export_format": "image/png", "insight": ids["insight"]}, headers=auth
        ).status_code
        == 400
    )
    assert client.get(url(other, "exports/1/"), headers=auth).status_code == 404
    assert unwrap(TRENDS)["kind"] == "TrendsQuery"


def test_content_whose_file_is_gone_is_404(
    client: TestClient, runtime: Runtime, board: tuple[dict[str, Any], dict[str, str], dict]
) -> None:
    project, auth, ids = board
    asset, _ = export(client, project, auth, export_format="text/csv", insight=ids["insight"])
    for path in (runtime.settings.data_dir / "exports").glob(f"{asset['id']}.*"):
        path.unlink()
    r = client.get(url(project, f"exports/{asset['id']}/content/"), headers=auth)
    assert r.status_code == 404 and r.json()["code"] == "not_found"
