"""The Vega-Lite specs the web UI and the PNG/PDF exports share (footfall.render.charts)."""

from __future__ import annotations

import vl_convert

from footfall.render import charts


def test_time_to_convert_draws_posthogs_bins_as_a_histogram() -> None:
    results = {"bins": [[30, 3], [3630, 5], [7230, 0]], "average_conversion_time": 2000.0}
    spec = charts.for_insight("FunnelsQuery", results)
    rows = [(r["from"], r["to"], r["persons"]) for r in spec["data"]["values"]]
    assert rows == [(30, 3630, 3), (3630, 7230, 5), (7230, 10830, 0)]  # the last bin is as wide as the others
    assert "Time to convert" in vl_convert.vegalite_to_svg(spec)
    empty = charts.for_insight("FunnelsQuery", {"bins": [], "average_conversion_time": None})
    assert vl_convert.vegalite_to_svg(empty).startswith("<svg")
