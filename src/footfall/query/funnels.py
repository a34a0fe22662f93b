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

Exclusions (PostHog): a path is disqualified when an excluded event happens strictly after its step
`from_step` and strictly before its step `to_step` (before its window ends when that step is never reached).
A person counts by their best clean path; a person with no clean path is left out of every step, as PostHog
leaves them out. (PostHog's aggregate_funnel UDF also drops a person whose excluded path got further than
every clean one; here a clean path always counts, as in PostHog's SQL funnels before the UDF.) Only paths
are enumerated when exclusions are present, so funnels without them pay nothing.
"""

from __future__ import annotations

from functools import reduce

from footfall.engine import Engine
from footfall.query.events import new_persons_sql, source_sql
from footfall.query.filters import filters_sql, selector_sql, value_sql
from footfall.query.spec import (
    OTHER,
    ConversionTimes,
    EventSelector,
    FunnelCell,
    FunnelGroup,
    FunnelOrder,
    FunnelQuery,
    FunnelResult,
    QueryError,
)
from footfall.query.sql import Params, and_all
from footfall.query.timerange import align, bucket_sql, buckets, parse_bucket

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


def _longest_sql(chains: str) -> str:
    """The longest of an array of chains, the first one on ties (chains come in time order of their start)."""
    return f"arrayFold((b, c) -> if(length(c) > length(b), c, b), {chains}, []::Array(Int64))"


def _greedy_sql(steps: int, people: str, clean: str | None) -> str:
    """Ordered funnels without a fold: per person, `n_k[i]` is the position of the first step-k event after
    position i (built backwards with arrayReverseFill; 0 when none, and indexing an array at 0 gives 0). From
    each in-range step-1 event the earliest-next chain is followed; the best chain reaches the most steps
    within the window, the earliest start winning ties (Amplitude's "earliest, longest path"). For ordered
    funnels following the earliest next step is never worse, so levels equal windowFunnel's; times come from
    that chain. No per-event fold: a few vectorised array passes per person. With exclusions (`clean`, a
    condition on a chain `c`), every start's chain is built and the longest clean one wins. Per-event lambdas
    take the arrays they read as arguments: indexing a captured array copies it for every element."""
    nexts = "".join(
        f", arrayPushBack(arrayPopFront(arrayReverseFill(x -> x > 0, arrayMap((m, i) -> if(bitTest(m, {k - 1}), i, 0), "
        f"ms, idx))), 0) AS n{k}"
        for k in range(2, steps + 1)
    )
    positions = ["s"]
    for k in range(2, steps + 1):
        positions.append(f"n{k}[{positions[-1]}]")
    level = " + ".join(["1", *(f"({pos} > 0 AND ts[{pos}] - ts[s] <= {{window:Int64}})" for pos in positions[1:])])
    columns = "".join(f", n{k}" for k in range(2, steps + 1))
    inner = f"""
                    SELECT pid, bd, arrayMap(e -> e.1, evs) AS ts, arrayMap(e -> e.2, evs) AS ms,
                           arrayEnumerate(evs) AS idx,
                           arrayFilter((i, m, e) -> bitTest(m, 0) AND e.3 = 1, idx, ms, evs) AS starts {nexts}
                           {", xs" if clean else ""}
                    FROM ({people})"""
    if clean:
        attempts = f"arrayMap(s -> arraySlice([{', '.join(f'ts[{pos}]' for pos in positions)}], 1, {level}), starts)"
        return f"SELECT pid, bd, {_longest_sql(f'arrayFilter(c -> {clean}, {attempts})')} AS chain FROM ({inner})"
    chain = ", ".join(f"ts[{pos.replace('[s]', '[-best.2]') if pos != 's' else '-best.2'}]" for pos in positions)
    return f"""
        SELECT pid, bd, arraySlice([{chain}], 1, best.1) AS chain FROM (
            SELECT pid, bd, ts, best{columns} FROM (
                SELECT pid, bd, ts{columns}, arrayReduce('max', arrayMap(s -> tuple({level}, -s), starts)) AS best
                FROM ({inner})
            )
        )"""


def _unordered_sql(steps: int, clean: str | None) -> str:
    """The best anchor's chain: its steps' first times within the window, in time order (the best clean one
    with exclusions)."""
    firsts = (
        "arrayFilter(t -> t > 0, arrayMap(k -> arrayMin(arrayMap(e -> if(bitTest(e.2, k - 1) AND e.1 >= a.1 "
        f"AND e.1 - a.1 <= {{window:Int64}}, e.1, 9223372036854775807), evs)), range(1, {steps} + 1)))"
    )
    chains = (
        f"arrayMap(a -> arraySort(arrayFilter(t -> t < 9223372036854775807, {firsts})), arrayFilter(e -> e.3 = 1, evs))"
    )
    return _longest_sql(f"arrayFilter(c -> {clean}, {chains})" if clean else chains)


def _exclusion_sql(query: FunnelQuery, p: Params) -> tuple[str, str, str]:
    """(the condition selecting excluded events, `xmask`: bit k set when an event is excluded between steps k
    and k + 1, the condition on a chain `c` that no excluded event of the person's `xs` falls inside it)."""
    n, conditions, masks = len(query.steps), [], []
    for ex in query.exclusions:
        if not 0 <= ex.from_step < ex.to_step:
            raise FunnelError("Exclusion event range is invalid. End of range should be greater than start.")
        if ex.from_step >= n - 1:
            raise FunnelError("Exclusion event range is invalid. Start of range is greater than number of steps.")
        if ex.to_step > n - 1:
            raise FunnelError("Exclusion event range is invalid. End of range is greater than number of steps.")
        if query.order is FunnelOrder.UNORDERED and (ex.from_step, ex.to_step) != (0, n - 1):
            raise FunnelError("Partial Exclusions not allowed in unordered funnels")
        if any(_covers(step, ex.selector) for step in query.steps[ex.from_step : ex.to_step + 1]):
            raise FunnelError("Exclusion steps cannot contain an event that's part of funnel steps.")
        conditions.append(selector_sql(ex.selector, p))
        masks.append(sum(1 << k for k in range(ex.from_step, ex.to_step)))
    xmask = reduce(
        lambda a, b: f"bitOr({a}, {b})", (f"if({c}, toUInt64({m}), 0)" for c, m in zip(conditions, masks, strict=True))
    )
    gaps = sorted({k for ex in query.exclusions for k in range(ex.from_step, ex.to_step)})
    inside = " OR ".join(
        f"(length(c) > {k} AND arrayExists(x -> bitTest(x.2, {k}) AND x.1 > c[{k + 1}] AND "
        f"x.1 < if(length(c) > {k + 1}, c[{k + 2}], c[1] + {{window:Int64}} + 1), xs))"
        for k in gaps
    )
    return " OR ".join(f"({c})" for c in conditions), xmask, f"NOT ({inside})"


def _covers(step: EventSelector, excluded: EventSelector) -> bool:
    """Every excluded event would also be this step (PostHog refuses such an exclusion)."""
    return step.event in (None, excluded.event) and set(step.filters) <= set(excluded.filters)


def _chains_sql(query: FunnelQuery, p: Params) -> str:
    """Rows of (`pid`, breakdown value `bd`, `chain`: the times of the steps the person's best path reached)."""
    n = len(query.steps)
    if not 1 <= n <= MAX_STEPS:
        raise FunnelError(f"a funnel has 1 to {MAX_STEPS} steps")
    if query.window_ms <= 0:
        raise FunnelError("the conversion window must be positive")
    scope, rng = query.scope, query.scope.date_range
    p.values["window"] = query.window_ms  # the chain SQL reads it as {window:Int64}
    tz = p(rng.timezone)
    start = f"toDateTime64({p(rng.start.strftime('%Y-%m-%d %H:%M:%S'))}, 3, {tz})"
    end = f"toDateTime64({p(rng.end.strftime('%Y-%m-%d %H:%M:%S'))}, 3, {tz})"
    last = f"{end} + toIntervalMillisecond({{window:Int64}})" if query.convert_past_range else end
    step_conds = [selector_sql(s, p) for s in query.steps]
    mask = " + ".join(f"bitShiftLeft(toUInt64({c}), {i})" for i, c in enumerate(step_conds))
    conditions = [f"timestamp >= {start}", f"timestamp < {last}", filters_sql(scope.filters, p)]
    wanted = " OR ".join(f"({c})" for c in step_conds)
    entry = f", {bucket_sql(scope.interval, tz, scope.week_start)}" if query.per_entry else ""
    event = f"(toUnixTimestamp64Milli(timestamp), mask, toUInt8(timestamp >= {start} AND timestamp < {end}){entry})"
    columns, collected, clean, excluded_events = f"{mask} AS mask", f"groupArray({event})", None, ""
    if query.exclusions:
        if query.order is FunnelOrder.STRICT:
            raise FunnelError("funnel exclusions are not supported with strict order")
        excluded, xmask, clean = _exclusion_sql(query, p)
        wanted = f"{wanted} OR {excluded}"
        columns += f", {xmask} AS xmask"
        collected = f"groupArrayIf({event}, mask > 0)"  # paths read step events; excluded ones go to `xs`
        excluded_events = ", arraySort(groupArrayIf((toUnixTimestamp64Milli(timestamp), xmask), xmask > 0)) AS xs"
    if query.order is FunnelOrder.STRICT:  # strict order reads every event: any other one breaks a chain
        conditions.append(selector_sql(EventSelector(None), p))
    else:
        conditions.append(wanted)
    breakdown = value_sql(query.breakdown, p) if query.breakdown else "''"
    people = f"""
        SELECT pid, arraySort(e -> (e.1, e.2 = 0, e.2), {collected}) AS evs,
               argMinIf({breakdown}, timestamp, bitTest(mask, 0) AND timestamp < {end}) AS bd {excluded_events}
        FROM (SELECT *, {columns} FROM {source_sql(p, scope.project_id, and_all(conditions))})
        {f"WHERE pid IN ({new_persons_sql(p, scope)})" if query.new_users else ""}
        GROUP BY pid"""
    if query.per_entry:  # one row per bucket the person entered in, where only that bucket's events may start
        starter = "e.2 != 0" if query.order is FunnelOrder.UNORDERED else "bitTest(e.2, 0)"
        people = f"""
        SELECT pid, bd, arrayMap(e -> (e.1, e.2, toUInt8(e.3 = 1 AND e.4 = entry)), entries) AS evs
               {", xs" if clean else ""}
        FROM (SELECT *, evs AS entries FROM ({people}))
        ARRAY JOIN arrayDistinct(arrayMap(e -> e.4, arrayFilter(e -> e.3 = 1 AND {starter}, entries))) AS entry"""
    if query.order is FunnelOrder.ORDERED:
        return _greedy_sql(n, people, clean)
    if query.order is FunnelOrder.UNORDERED:
        return f"SELECT pid, bd, {_unordered_sql(n, clean)} AS chain FROM ({people})"
    return (
        f"SELECT pid, bd, {_best_sql(n)} AS chain "
        f"FROM (SELECT pid, bd, {_fold_sql(n, query.order)} AS st FROM ({people}))"
    )


def _entry_sql(query: FunnelQuery, tz: str) -> str:
    """The local bucket in which a chain entered the funnel (its first step)."""
    scope = query.scope
    return bucket_sql(scope.interval, tz, scope.week_start, "fromUnixTimestamp64Milli(chain[1], 'UTC')")


def run_funnel(engine: Engine, query: FunnelQuery) -> FunnelResult:
    n, scope = len(query.steps), query.scope
    ranked = sorted(_groups(engine, query).values(), key=lambda g: (-g.counts[0], g.breakdown or ""))
    if not ranked:
        ranked = [FunnelGroup(None, [0] * n, [None] * n, [None] * n)]
    kept = ranked[: query.breakdown_limit]
    if query.fold_other and len(ranked) > len(kept):  # measured again: the rest's times are not sums of theirs
        kept += _groups(engine, query, [g.breakdown or "" for g in kept]).values()
    return FunnelResult(buckets(scope.date_range, scope.interval, scope.week_start), kept)


def _groups(engine: Engine, query: FunnelQuery, rest_of: list[str] | None = None) -> dict[str, FunnelGroup]:
    """Counts and times per breakdown value; with `rest_of`, one OTHER group of the persons outside those values."""
    n, rng = len(query.steps), query.scope.date_range
    p = Params()
    chains = _chains_sql(query, p)
    key, rest = "bd", ""
    if rest_of is not None:
        key, rest = p(OTHER), f"AND NOT has({p(rest_of, 'Array(String)')}, bd)"
    times = ", ".join(
        f"avgIf(chain[{k}] - chain[{k - 1}], length(chain) >= {k}), "
        f"quantileExactInclusiveIf(0.5)(chain[{k}] - chain[{k - 1}], length(chain) >= {k})"
        for k in range(2, n + 1)
    )
    counts = ", ".join(f"countIf(length(chain) >= {k})" for k in range(1, n + 1))
    sql = f"""
    SELECT grp, toString(entry) AS entry_bucket, grouping(entry) AS is_total, [{counts}] AS counts
           {", " + times if times else ""}
    FROM (
        SELECT {key} AS grp, chain, {_entry_sql(query, p(rng.timezone))} AS entry
        FROM ({chains})
        WHERE length(chain) > 0 {rest}
    )
    GROUP BY GROUPING SETS ((grp), (grp, entry))"""
    rows = engine.query(sql, p.values)
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
    return groups


def run_conversion_times(
    engine: Engine, query: FunnelQuery, from_step: int, to_step: int, bin_count: int | None = None
) -> ConversionTimes:
    """Time from step `from_step` to `to_step` (0-based) of the persons whose best path reached `to_step`, in
    `bin_count` bins (by default the cube root of the conversions, 1 to 60) from the fastest conversion, each
    as wide as an equal split of the range (whole seconds; 60 s when all are equal). The slowest lands in an
    extra last bin, as in PostHog's time to convert."""
    n = len(query.steps)
    if not 0 <= from_step < to_step < n:
        raise FunnelError(f"time to convert runs from one step to a later one, among steps 0 to {n - 1}")
    p = Params()
    count = f"{min(max(bin_count, 1), 90)}" if bin_count is not None else "least(60, greatest(1, ceil(cbrt(n))))"
    sql = f"""
    SELECT arrayMap(i -> toInt64(round(low + i * width)), range(0, bin_count + 1)) AS bins,
           arrayMap(i -> countEqual(slots, i), range(0, bin_count + 1)) AS counts, avg_s
    FROM (
        SELECT *, arrayMap(t -> toInt64(floor((t - low) / width)), seconds) AS slots
        FROM (
            SELECT groupArray((chain[{to_step + 1}] - chain[{from_step + 1}]) / 1000) AS seconds,
                   length(seconds) AS n, toInt64({count}) AS bin_count, floor(arrayMin(seconds)) AS low,
                   ceil((ceil(arrayMax(seconds)) - low) / bin_count) AS raw_width,
                   if(raw_width > 0, raw_width, 60) AS width, arrayAvg(seconds) AS avg_s
            FROM ({_chains_sql(query, p)})
            WHERE length(chain) > {to_step}
        )
    )"""
    [(bins, counts, average)] = engine.query(sql, p.values)
    if not counts or not sum(counts):
        return ConversionTimes([], None)
    return ConversionTimes([(int(b), int(c)) for b, c in zip(bins, counts, strict=True)], float(average))


def funnel_actors_sql(cell: FunnelCell, p: Params) -> str:
    """The persons behind one funnel count (`run_funnel`'s paths, filtered): rows of `pid`."""
    query = cell.query
    n = len(query.steps)
    if not 1 <= cell.reached <= n or (cell.missed is not None and not cell.reached < cell.missed <= n):
        raise FunnelError(f"steps are numbered 1 to {n}")
    conditions = [f"length(chain) >= {cell.reached}"]
    if cell.missed is not None:
        conditions.append(f"length(chain) < {cell.missed}")
    if cell.breakdown is not None:
        conditions.append(f"bd = {p(cell.breakdown)}")
    chains = _chains_sql(query, p)
    if cell.entered is not None:
        scope = query.scope
        entered = p(align(cell.entered, scope.interval, scope.week_start).strftime("%Y-%m-%d %H:%M:%S"))
        conditions.append(f"toString({_entry_sql(query, p(scope.date_range.timezone))}) = {entered}")
    # DISTINCT: funnel trends count a person once per bucket they entered in
    return f"SELECT DISTINCT pid FROM ({chains}) WHERE {and_all(conditions)}"
