"""Funnels: how many persons reach each step within the conversion window, and how long each step takes.

One pass per person over their events sorted by time (ties by step, events of no step last); counts and
conversion times come from the same path.
- Ordered: from every step-1 event in the range, each later step takes the first event after the previous
  one; the path reaching the most steps within the window wins, the earliest start on ties (Amplitude's
  "earliest, longest path"). Computed with a few vectorised array passes (`_greedy_sql`).
- Strict (Amplitude's sequential): folded with `arrayFold`, keeping for each step the latest chain that
  reaches it within the window; an event resets every chain it does not extend, except that another event
  at the same moment as a step event breaks nothing (as in Amplitude's exact order).
- Unordered: for the best anchor event, the distinct steps within its window.
"""

from __future__ import annotations

from footfall.engine import Engine
from footfall.query.events import source_sql
from footfall.query.filters import filters_sql, selector_sql, value_sql
from footfall.query.spec import EventSelector, FunnelGroup, FunnelOrder, FunnelQuery, FunnelResult, QueryError
from footfall.query.sql import Params, and_all
from footfall.query.timerange import bucket_sql, buckets, parse_bucket

MAX_STEPS = 64


class FunnelError(QueryError):
    pass


def _fold_sql(steps: int, order: FunnelOrder) -> str:
    """The fold over `evs` (Array(Tuple(ms, mask, in_range))): slots 1..N hold each step's latest chain,
    slot N+1 the longest chain seen before the current event (strict order may reset the others)."""
    # Strict: an event resets every chain it does not extend, except that an event of no step keeps the
    # chains that end at its own moment (it sorts after simultaneous step events, as Amplitude lets it).
    strict_keep = "if(ev.2 = 0 AND length(st[k]) > 0 AND st[k][-1] = ev.1, st[k], [])"
    keep = strict_keep if order is FunnelOrder.STRICT else "st[k]"
    extend = (
        "if(bitTest(ev.2, k - 1) AND if(k = 1, ev.3 = 1, "
        "length(st[k - 1]) > 0 AND ev.1 - st[k - 1][1] <= {window:Int64}), "
        f"if(k = 1, [ev.1], arrayPushBack(st[k - 1], ev.1)), {keep})"
    )
    longest = f"arrayFold((b, c) -> if(length(c) > length(b), c, b), arraySlice(st, 1, {steps}), st[{steps + 1}])"
    return (
        f"arrayFold((st, ev) -> arrayMap(k -> if(k <= {steps}, {extend}, {longest}), range(1, {steps + 2})), "
        f"evs, arrayResize([[]]::Array(Array(Int64)), {steps + 1}))"
    )


def _best_sql(steps: int) -> str:
    """The longest chain of a final fold state `st`."""
    return f"arrayFold((b, c) -> if(length(c) > length(b), c, b), arraySlice(st, 1, {steps}), st[{steps + 1}])"


def _greedy_sql(steps: int, people: str) -> str:
    """Ordered funnels without a fold: per person, `n_k[i]` is the position of the first step-k event after
    position i (built backwards with arrayReverseFill; 0 when none, and indexing an array at 0 gives 0). From
    each in-range step-1 event the earliest-next chain is followed; the best chain reaches the most steps
    within the window, the earliest start winning ties (Amplitude's "earliest, longest path"). For ordered
    funnels following the earliest next step is never worse, so levels equal windowFunnel's; times come from
    that chain. No per-event fold: a few vectorised array passes per person."""
    nexts = "".join(
        f", arrayPushBack(arrayPopFront(arrayReverseFill(x -> x > 0, arrayMap(i -> if(bitTest(ms[i], {k - 1}), i, 0), "
        f"idx))), 0) AS n{k}"
        for k in range(2, steps + 1)
    )
    positions = ["s"]
    for k in range(2, steps + 1):
        positions.append(f"n{k}[{positions[-1]}]")
    level = " + ".join(["1", *(f"({pos} > 0 AND ts[{pos}] - ts[s] <= {{window:Int64}})" for pos in positions[1:])])
    chain = ", ".join(f"ts[{pos.replace('[s]', '[-best.2]') if pos != 's' else '-best.2'}]" for pos in positions)
    return f"""
        SELECT bd, arraySlice([{chain}], 1, best.1) AS chain FROM (
            SELECT bd, ts, best{"".join(f", n{k}" for k in range(2, steps + 1))} FROM (
                SELECT bd, ts{"".join(f", n{k}" for k in range(2, steps + 1))},
                       arrayReduce('max', arrayMap(s -> tuple({level}, -s), starts)) AS best
                FROM (
                    SELECT bd, arrayMap(e -> e.1, evs) AS ts, arrayMap(e -> e.2, evs) AS ms, arrayEnumerate(evs) AS idx,
                           arrayFilter(i -> bitTest(ms[i], 0) AND evs[i].3 = 1, idx) AS starts {nexts}
                    FROM ({people})
                )
            )
        )"""


def _unordered_sql(steps: int) -> str:
    """The best anchor's chain: its steps' first times within the window, in time order."""
    firsts = (
        "arrayFilter(t -> t > 0, arrayMap(k -> arrayMin(arrayMap(e -> if(bitTest(e.2, k - 1) AND e.1 >= a.1 "
        f"AND e.1 - a.1 <= {{window:Int64}}, e.1, 9223372036854775807), evs)), range(1, {steps} + 1)))"
    )
    chains = (
        f"arrayMap(a -> arraySort(arrayFilter(t -> t < 9223372036854775807, {firsts})), arrayFilter(e -> e.3 = 1, evs))"
    )
    return f"arrayFold((b, c) -> if(length(c) > length(b), c, b), {chains}, []::Array(Int64))"


def run_funnel(engine: Engine, query: FunnelQuery) -> FunnelResult:
    n = len(query.steps)
    if not 1 <= n <= MAX_STEPS:
        raise FunnelError(f"a funnel has 1 to {MAX_STEPS} steps")
    if query.window_ms <= 0:
        raise FunnelError("the conversion window must be positive")
    scope, rng = query.scope, query.scope.date_range
    p = Params(window=query.window_ms)
    tz = p(rng.timezone)
    start = f"toDateTime64({p(rng.start.strftime('%Y-%m-%d %H:%M:%S'))}, 3, {tz})"
    end = f"toDateTime64({p(rng.end.strftime('%Y-%m-%d %H:%M:%S'))}, 3, {tz})"
    last = f"{end} + toIntervalMillisecond({{window:Int64}})" if query.convert_past_range else end
    step_conds = [selector_sql(s, p) for s in query.steps]
    mask = " + ".join(f"bitShiftLeft(toUInt64({c}), {i})" for i, c in enumerate(step_conds))
    conditions = [f"timestamp >= {start}", f"timestamp < {last}", filters_sql(scope.filters, p)]
    if query.order is FunnelOrder.STRICT:  # strict order reads every event: any other one breaks a chain
        conditions.append(selector_sql(EventSelector(None), p))
    else:
        conditions.append(" OR ".join(f"({c})" for c in step_conds))
    breakdown = value_sql(query.breakdown, p) if query.breakdown else "''"
    people = f"""
        SELECT pid,
               arraySort(e -> (e.1, e.2 = 0, e.2), groupArray((toUnixTimestamp64Milli(timestamp), mask,
                   toUInt8(timestamp >= {start} AND timestamp < {end})))) AS evs,
               argMinIf({breakdown}, timestamp, bitTest(mask, 0) AND timestamp < {end}) AS bd
        FROM (SELECT *, {mask} AS mask FROM {source_sql(p, scope.project_id, and_all(conditions))})
        GROUP BY pid"""
    if query.order is FunnelOrder.ORDERED:
        chains = _greedy_sql(n, people)
    elif query.order is FunnelOrder.UNORDERED:
        chains = f"SELECT bd, {_unordered_sql(n)} AS chain FROM ({people})"
    else:
        chains = (
            f"SELECT bd, {_best_sql(n)} AS chain FROM (SELECT bd, {_fold_sql(n, query.order)} AS st FROM ({people}))"
        )
    times = ", ".join(
        f"avgIf(chain[{k}] - chain[{k - 1}], length(chain) >= {k}), "
        f"quantileExactInclusiveIf(0.5)(chain[{k}] - chain[{k - 1}], length(chain) >= {k})"
        for k in range(2, n + 1)
    )
    counts = ", ".join(f"countIf(length(chain) >= {k})" for k in range(1, n + 1))
    sql = f"""
    SELECT bd, toString(entry) AS entry_bucket, grouping(entry) AS is_total, [{counts}] AS counts
           {", " + times if times else ""}
    FROM (
        SELECT bd, chain,
               {bucket_sql(scope.interval, tz, scope.week_start, "fromUnixTimestamp64Milli(chain[1], 'UTC')")} AS entry
        FROM ({chains})
        WHERE length(chain) > 0
    )
    GROUP BY GROUPING SETS ((bd), (bd, entry))"""
    rows = engine.query(sql, p.values)
    x = buckets(rng, scope.interval, scope.week_start)
    groups: dict[str, FunnelGroup] = {}
    for row in rows:
        bd, bucket, is_total, counts_row = row[0], row[1], row[2], [int(c) for c in row[3]]
        group = groups.setdefault(bd, FunnelGroup(bd if query.breakdown else None, [0] * n, [None] * n, [None] * n))
        avg = [None] + [float(row[4 + 2 * k]) if counts_row[k + 1] else None for k in range(n - 1)]
        median = [None] + [float(row[5 + 2 * k]) if counts_row[k + 1] else None for k in range(n - 1)]
        if is_total:
            group.counts, group.avg_ms, group.median_ms = counts_row, avg, median
        else:
            moment = parse_bucket(bucket)
            group.by_bucket[moment] = counts_row
            group.by_bucket_avg_ms[moment] = avg
            group.by_bucket_median_ms[moment] = median
    ranked = sorted(groups.values(), key=lambda g: (-g.counts[0], g.breakdown or ""))
    if not ranked:
        ranked = [FunnelGroup(None, [0] * n, [None] * n, [None] * n)]
    return FunnelResult(x, ranked[: query.breakdown_limit])
