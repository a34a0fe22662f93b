"""Histograms (Amplitude's segmentation metric `histogram`): how many events, or persons, fall in each bin
of a number, per time bucket and over the whole range.

The number is a property's value on each event (Amplitude's "distribution of property value": event totals
by the value's bin, the low edge inclusive and the high one exclusive), or, without a property, how many
times each person did the event (Amplitude's "frequency": persons by their count in each interval; the
totals bin each person's count over the whole range).

Bins are at most `max_bins`, all as wide as 1, 2 or 5 times a power of ten (at least 1 for counts), at
multiples of that width, so their edges read well and a value's bin is floor(value / width).
"""

from __future__ import annotations

import math

from footfall.engine import Engine
from footfall.query.events import source_sql
from footfall.query.filters import filters_sql, selector_sql, value_sql
from footfall.query.spec import HistogramQuery, HistogramResult, QueryError
from footfall.query.sql import Params, and_all
from footfall.query.timerange import bucket_sql, buckets, parse_bucket, window_sql

MANTISSAS = (1, 2, 5)


def bin_width(low: float, high: float, max_bins: int, whole: bool) -> tuple[int, int]:
    """(mantissa, exponent) of the narrowest width m × 10^e putting [low, high] in at most `max_bins` bins;
    whole numbers get bins at least 1 wide."""
    if max_bins < 1:
        raise QueryError("a histogram has at least one bin")
    exponent = math.floor(math.log10((high - low) / max_bins)) if high > low else 0
    if whole:
        exponent = max(exponent, 0)
    while True:
        for mantissa in MANTISSAS:
            if _bin(high, mantissa, exponent) - _bin(low, mantissa, exponent) + 1 <= max_bins:
                return mantissa, exponent
        exponent += 1


def _bin(value: float, mantissa: int, exponent: int) -> int:
    """A value's bin, as the SQL below computes it: v / 10^e rounded (0.3 / 0.1 is 3, not 2.9999…), / m."""
    return math.floor(round(value / 10.0**exponent, 6) / mantissa)


def run_histogram(engine: Engine, query: HistogramQuery) -> HistogramResult:
    scope = query.scope
    x = buckets(scope.date_range, scope.interval, scope.week_start)
    p = Params()
    tz = p(scope.date_range.timezone)
    where = and_all([window_sql(scope, p), selector_sql(query.selector, p), filters_sql(scope.filters, p)])
    source = source_sql(p, scope.project_id, where)
    bucket = f"toString({bucket_sql(scope.interval, tz, scope.week_start)})"
    if query.prop is None:  # (b, total, v): a person's count in bucket b, and (total = 1) over the range
        values = f"""SELECT b, grouping(b) AS total, toFloat64(count()) AS v
            FROM (SELECT pid, {bucket} AS b FROM {source}) GROUP BY GROUPING SETS ((pid, b), (pid))"""
        total, groups = "total", "b, total, bin"
    else:  # (b, v): each event's value; the totals are a grouping set
        number = f"toFloat64OrNull({value_sql(query.prop, p)})"
        values = f"SELECT {bucket} AS b, {number} AS v FROM {source} WHERE v IS NOT NULL"
        total, groups = "grouping(b)", "GROUPING SETS ((b, bin), (bin))"
    found = engine.query(f"SELECT count(), min(v), max(v) FROM ({values})", p.values)
    if not found or not found[0][0]:
        return HistogramResult(x, [], [], [])
    low, high = float(found[0][1]), float(found[0][2])
    mantissa, exponent = bin_width(low, high, query.max_bins, whole=query.prop is None)
    unit = p(10.0**exponent, "Float64")  # the bin as `_bin` computes it
    rows = engine.query(
        f"""SELECT b, {total} AS is_total, toInt64(floor(round(v / {unit}, 6) / {mantissa})) AS bin, count()
        FROM ({values}) GROUP BY {groups}""",
        p.values,
    )
    first, last = min(row[2] for row in rows), max(row[2] for row in rows)
    width = mantissa * 10.0**exponent
    position = {bucket: i for i, bucket in enumerate(x)}
    result = HistogramResult(
        x,
        [(_edge(i * width), _edge((i + 1) * width)) for i in range(first, last + 1)],
        [[0] * len(x) for _ in range(first, last + 1)],
        [0] * (last - first + 1),
    )
    for b, is_total, index, n in rows:
        if is_total:
            result.totals[index - first] = int(n)
        elif (slot := position.get(parse_bucket(b))) is not None:
            result.counts[index - first][slot] = int(n)
    return result


def _edge(value: float) -> float:
    return round(value, 9)  # 3 × 0.1 is 0.3, not 0.30000000000000004
