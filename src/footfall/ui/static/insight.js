// The insight builder. Its controls edit one PostHog query (TrendsQuery, FunnelsQuery, …) in place;
// Calculate runs it through /query/ and draws the server's chart spec, with the numbers in a table under
// trends, funnels and retention; Save creates or updates the insight, optionally on a dashboard.
"use strict";

(() => {
  const { el, projectApi } = FF;
  const $ = (id) => document.getElementById(id);
  const ALL_EVENTS = "All events"; // what the event inputs show for PostHog's `event: null`

  const MATHS = [
    ["total", "Total count"],
    ["dau", "Unique users"],
    ["weekly_active", "Weekly active users"],
    ["monthly_active", "Monthly active users"],
    ["unique_session", "Unique sessions"],
    ["avg_count_per_actor", "Average count per user"],
    ["sum", "Property sum"],
    ["avg", "Property average"],
    ["min", "Property minimum"],
    ["max", "Property maximum"],
    ["median", "Property median"],
    ["p90", "Property 90th percentile"],
    ["p95", "Property 95th percentile"],
    ["p99", "Property 99th percentile"],
  ];
  const PROPERTY_MATHS = new Set(["sum", "avg", "min", "max", "median", "p90", "p95", "p99"]);
  const OPERATORS = [
    ["exact", "equals"],
    ["is_not", "does not equal"],
    ["icontains", "contains"],
    ["not_icontains", "does not contain"],
    ["regex", "matches regex"],
    ["not_regex", "does not match regex"],
    ["gt", "greater than"],
    ["gte", "at least"],
    ["lt", "less than"],
    ["lte", "at most"],
    ["is_set", "is set"],
    ["is_not_set", "is not set"],
    ["is_date_before", "is before date"],
    ["is_date_after", "is after date"],
  ];
  const NO_VALUE = new Set(["is_set", "is_not_set"]);
  const LIST_VALUE = new Set(["exact", "is_not"]);
  const NUMBER_VALUE = new Set(["gt", "gte", "lt", "lte"]);
  const PROPERTY_KINDS = [
    ["event", "Event"],
    ["person", "Person"],
  ];
  const DATE_RANGES = [
    ["-24h", "Last 24 hours"],
    ["-7d", "Last 7 days"],
    ["-14d", "Last 14 days"],
    ["-30d", "Last 30 days"],
    ["-90d", "Last 90 days"],
    ["-180d", "Last 180 days"],
    ["mStart", "This month"],
    ["yStart", "Year to date"],
    ["all", "All time"],
  ];
  const INTERVALS = [
    ["hour", "Hour"],
    ["day", "Day"],
    ["week", "Week"],
    ["month", "Month"],
  ];
  const DISPLAYS = [
    ["ActionsLineGraph", "Line over time"],
    ["ActionsBar", "Bars over time"],
    ["ActionsBarValue", "Total value per series"],
  ];
  const WINDOW_UNITS = [
    ["minute", "minutes"],
    ["hour", "hours"],
    ["day", "days"],
    ["week", "weeks"],
    ["month", "months"],
  ];
  const FUNNEL_ORDERS = [
    ["ordered", "In order (other events may come between)"],
    ["strict", "In order, nothing between"],
    ["unordered", "In any order"],
  ];
  const FUNNEL_VIEWS = [
    ["steps", "Conversion steps"],
    ["time_to_convert", "Time to convert"],
    ["trends", "Conversion rate over time"],
  ];
  const RETENTION_TYPES = [
    ["retention_first_time", "for the first time"],
    ["retention_recurring", "at any time (recurring)"],
  ];
  const PERIODS = [
    ["Hour", "Hour"],
    ["Day", "Day"],
    ["Week", "Week"],
    ["Month", "Month"],
  ];
  const PATH_TYPES = [
    ["$pageview", "Page views (by URL)"],
    ["$screen", "Screen views (by screen name)"],
    ["custom_event", "Other events (by name)"],
  ];

  let query = null; // the source query being edited: PostHog's JSON, e.g. {kind: "TrendsQuery", series: [...]}
  let insight = null; // the saved insight, once there is one
  let runs = 0; // numbers calculations, so that an older answer arriving late is dropped

  // An unchosen event is "" (the query cannot run until it is chosen); null is PostHog's "All events".
  const eventNode = (event, math) => ({ kind: "EventsNode", event, name: event, ...(math ? { math } : {}) });
  const entity = (event) => ({ id: event, name: event, type: "events" });

  // New insights start like PostHog's. Loaded queries are kept as they are; where they leave a field out,
  // the controls show the server's default for it (translate.py), so nothing changes meaning by being shown.
  const DEFAULTS = {
    TrendsQuery: () => ({
      series: [eventNode("$pageview", "total")],
      interval: "day",
      dateRange: { date_from: "-7d" },
      trendsFilter: { display: "ActionsLineGraph" },
    }),
    FunnelsQuery: () => ({
      series: [eventNode(""), eventNode("")],
      dateRange: { date_from: "-7d" },
      funnelsFilter: {
        funnelWindowInterval: 14,
        funnelWindowIntervalUnit: "day",
        funnelOrderType: "ordered",
        funnelVizType: "steps",
      },
    }),
    RetentionQuery: () => ({
      retentionFilter: {
        targetEntity: entity("$pageview"),
        returningEntity: entity("$pageview"),
        period: "Day",
        totalIntervals: 8,
        retentionType: "retention_first_time",
      },
    }),
    LifecycleQuery: () => ({ series: [eventNode("$pageview")], interval: "day", dateRange: { date_from: "-7d" } }),
    StickinessQuery: () => ({ series: [eventNode("$pageview")], interval: "day", dateRange: { date_from: "-7d" } }),
    PathsQuery: () => ({ dateRange: { date_from: "-7d" }, pathsFilter: { includeEventTypes: ["$pageview"] } }),
  };

  // -- small controls -------------------------------------------------------------------------------------
  function choice(options, value, onChange, attrs = {}) {
    const items = options.map(([v, label]) => el("option", { value: v, selected: v === String(value) }, label));
    const select = el("select", attrs, ...items);
    select.addEventListener("change", () => onChange(select.value));
    return select;
  }

  function text(value, onInput, attrs = {}) {
    const input = el("input", { value: value ?? "", ...attrs });
    input.addEventListener("input", () => onInput(input.value));
    return input;
  }

  function number(value, onInput, attrs = {}) {
    return text(value, (v) => onInput(Number(v) || undefined), { type: "number", ...attrs });
  }

  function checkbox(label, checked, onChange) {
    const box = el("input", { type: "checkbox", checked });
    box.addEventListener("change", () => onChange(box.checked));
    return el("label", { class: "check" }, box, label);
  }

  const field = (label, ...controls) => el("label", {}, label, ...controls);
  const section = (legend, ...children) => el("fieldset", {}, el("legend", {}, legend), ...children);
  const iconButton = (label, onclick) =>
    el("button", { type: "button", class: "icon", title: label, "aria-label": label, onclick }, "✕");
  const options = (key) => (query[key] ??= {});

  // -- the query's parts ------------------------------------------------------------------------------------
  function eventInput(node, key, label) {
    const shown = node[key] === null || node[key] === undefined ? ALL_EVENTS : node[key];
    return text(
      shown,
      (value) => {
        node[key] = value.trim() === ALL_EVENTS ? null : value.trim();
        node.name = node[key];
        changed();
      },
      { list: "ff-events", placeholder: "Choose an event", "aria-label": label, class: "event" },
    );
  }

  function mathControls(node) {
    const row = el(
      "div",
      { class: "row" },
      choice(
        MATHS,
        node.math || "total",
        (math) => {
          node.math = math;
          if (!PROPERTY_MATHS.has(math)) delete node.math_property;
          rerender();
        },
        { "aria-label": "Math" },
      ),
    );
    if (PROPERTY_MATHS.has(node.math)) {
      const setProperty = (v) => {
        node.math_property = v.trim() || undefined;
        changed();
      };
      const attrs = { list: "ff-event-properties", placeholder: "numeric property", "aria-label": "Math property" };
      row.append(text(node.math_property, setProperty, attrs));
    }
    return row;
  }

  const letter = (i) => String.fromCharCode(65 + i);

  // Series of trends and stickiness, funnel steps, the lifecycle event: each an event with its own filters.
  function seriesEditor({ letters = false, math = false, min = 1, max = 20, noun }) {
    const nodes = (query.series ??= []);
    const rows = nodes.map((node, i) =>
      el(
        "li",
        { class: "series-row" },
        el(
          "div",
          { class: "row" },
          el("span", { class: "badge" }, letters ? letter(i) : String(i + 1)),
          eventInput(node, "event", `${noun} ${letters ? letter(i) : i + 1}`),
          nodes.length > min
            ? iconButton(`Remove ${noun} ${i + 1}`, () => {
                nodes.splice(i, 1);
                rerender();
              })
            : null,
        ),
        math ? mathControls(node) : null,
        filterEditor(node),
      ),
    );
    const add =
      nodes.length < max
        ? el(
            "button",
            {
              type: "button",
              class: "add",
              onclick: () => {
                nodes.push(eventNode("", math ? "total" : undefined));
                rerender();
              },
            },
            `+ Add ${noun}`,
          )
        : null;
    return [el("ol", { class: "series" }, rows), add];
  }

  // What a filter's value input means for PostHog: a list for equals, a number for comparisons.
  function filterValue(operator, typed) {
    if (NO_VALUE.has(operator)) return operator;
    if (LIST_VALUE.has(operator)) return typed.split(",").map((v) => v.trim()).filter(Boolean);
    if (NUMBER_VALUE.has(operator) && typed.trim() !== "" && Number.isFinite(Number(typed))) return Number(typed);
    return typed;
  }

  const valueText = (value) => (Array.isArray(value) ? value.join(", ") : value ?? "");

  function filterRow(filters, filter, i) {
    const kind = filter.type || "event";
    const value = text(
      NO_VALUE.has(filter.operator) ? "" : valueText(filter.value),
      (typed) => {
        filter.value = filterValue(filter.operator || "exact", typed);
        changed();
      },
      {
        placeholder: LIST_VALUE.has(filter.operator || "exact") ? "value (several: a, b)" : "value",
        "aria-label": "Filter value",
        hidden: NO_VALUE.has(filter.operator),
      },
    );
    return el(
      "div",
      { class: "row filter" },
      choice(
        PROPERTY_KINDS,
        kind,
        (v) => {
          filter.type = v;
          rerender();
        },
        { "aria-label": "Property kind" },
      ),
      text(
        filter.key,
        (v) => {
          filter.key = v.trim();
          changed();
        },
        { list: `ff-${kind}-properties`, placeholder: "property", "aria-label": "Filter property" },
      ),
      choice(
        OPERATORS,
        filter.operator || "exact",
        (operator) => {
          filter.value = filterValue(operator, NO_VALUE.has(filter.operator) ? "" : String(valueText(filter.value)));
          filter.operator = operator;
          rerender();
        },
        { "aria-label": "Operator" },
      ),
      value,
      iconButton("Remove filter", () => {
        filters.splice(i, 1);
        rerender();
      }),
    );
  }

  function filterEditor(owner) {
    if (owner.properties && !Array.isArray(owner.properties)) {
      return el("p", { class: "muted small" }, "Grouped filters (AND/OR), kept as saved; edit them through the API.");
    }
    const filters = (owner.properties ??= []);
    const add = el(
      "button",
      {
        type: "button",
        class: "link add",
        onclick: () => {
          filters.push({ key: "", type: "event", operator: "exact", value: [] });
          rerender();
        },
      },
      "+ Filter",
    );
    return el("div", { class: "filters" }, filters.map((f, i) => filterRow(filters, f, i)), add);
  }

  function breakdownEditor() {
    const several = query.breakdownFilter?.breakdowns;
    if (several?.length) {
      const names = several.map((b) => b.property).join(", ");
      const note = `${names} (kept as saved; edit them through the API)`;
      return section("Breakdown by", el("p", { class: "muted small" }, note));
    }
    const breakdown = (query.breakdownFilter ??= { breakdown_type: "event", breakdown: "" });
    const kind = breakdown.breakdown_type || "event";
    return section(
      "Breakdown by",
      el(
        "div",
        { class: "row" },
        choice(
          PROPERTY_KINDS,
          kind,
          (v) => {
            breakdown.breakdown_type = v;
            rerender();
          },
          { "aria-label": "Breakdown property kind" },
        ),
        text(
          valueText(breakdown.breakdown),
          (v) => {
            breakdown.breakdown = v.trim();
            changed();
          },
          { list: `ff-${kind}-properties`, placeholder: "no breakdown", "aria-label": "Breakdown property" },
        ),
      ),
    );
  }

  const localDay = (daysAgo) => {
    const day = new Date(Date.now() - daysAgo * 86400000);
    const two = (n) => String(n).padStart(2, "0");
    return `${day.getFullYear()}-${two(day.getMonth() + 1)}-${two(day.getDate())}`;
  };

  function dateRangeEditor() {
    const range = (query.dateRange ??= { date_from: "-7d" });
    const from = range.date_from || "-7d";
    const custom = Boolean(range.date_to) || /^\d{4}-/.test(from);
    const presets = DATE_RANGES.some(([v]) => v === from) || custom ? DATE_RANGES : [...DATE_RANGES, [from, from]];
    const picker = choice(
      [...presets, ["custom", "Custom dates…"]],
      custom ? "custom" : from,
      (v) => {
        query.dateRange = v === "custom" ? { date_from: localDay(7), date_to: localDay(0) } : { date_from: v };
        rerender();
      },
      { "aria-label": "Date range" },
    );
    const day = (key, label) =>
      text(String(range[key] || "").slice(0, 10), (v) => {
        range[key] = v;
        changed();
      }, { type: "date", "aria-label": label });
    const days = custom ? el("div", { class: "row" }, day("date_from", "From"), "to", day("date_to", "To")) : null;
    return field("Date range", picker, days);
  }

  const intervalChoice = () =>
    choice(INTERVALS, query.interval || "day", (v) => {
      query.interval = v;
      changed();
    }, { "aria-label": "Interval" });

  // -- the controls of each kind ------------------------------------------------------------------------------
  const EDITORS = {
    TrendsQuery() {
      const trends = options("trendsFilter");
      return [
        section("Series", ...seriesEditor({ letters: true, math: true, noun: "series" })),
        section("Filters", filterEditor(query)),
        breakdownEditor(),
        section(
          "Options",
          field("Interval", intervalChoice()),
          dateRangeEditor(),
          field("Chart", choice(DISPLAYS, trends.display || "ActionsLineGraph", (v) => {
            trends.display = v;
            changed();
          })),
          field(
            "Formula",
            text(trends.formula ?? trends.formulas?.[0], (v) => {
              trends.formula = v.trim() || undefined;
              delete trends.formulas;
              changed();
            }, { placeholder: "e.g. A / B * 100 (series letters)", "aria-label": "Formula" }),
          ),
          checkbox("Compare to the previous period", Boolean(query.compareFilter?.compare), (on) => {
            query.compareFilter = on ? { compare: true } : undefined;
            changed();
          }),
        ),
      ];
    },

    FunnelsQuery() {
      const funnel = options("funnelsFilter");
      const view = funnel.funnelVizType || "steps";
      const set = (key, rerenders = false) => (v) => {
        funnel[key] = v;
        rerenders ? rerender() : changed();
      };
      // Time to convert and conversion over time measure between two steps (the first and last by default).
      const steps = query.series.length;
      if (funnel.funnelToStep >= steps) delete funnel.funnelToStep;
      if (funnel.funnelFromStep >= (funnel.funnelToStep ?? steps - 1)) delete funnel.funnelFromStep;
      const stepChoice = (key, fallback, label, from, to) =>
        choice(
          query.series.slice(from, to).map((_, i) => [String(i + from), `step ${i + from + 1}`]),
          funnel[key] ?? fallback,
          (v) => set(key)(Number(v)),
          { "aria-label": label },
        );
      const between = field(
        "Between",
        el(
          "div",
          { class: "row" },
          stepChoice("funnelFromStep", 0, "From step", 0, steps - 1),
          "and",
          stepChoice("funnelToStep", steps - 1, "To step", 1, steps),
        ),
      );
      return [
        section("Steps", ...seriesEditor({ min: 2, noun: "step" })),
        section("Filters", filterEditor(query)),
        breakdownEditor(),
        section(
          "Options",
          field(
            "Conversion window",
            el(
              "div",
              { class: "row" },
              number(funnel.funnelWindowInterval ?? 14, set("funnelWindowInterval"), {
                min: 1,
                "aria-label": "Conversion window",
              }),
              choice(WINDOW_UNITS, funnel.funnelWindowIntervalUnit || "day", set("funnelWindowIntervalUnit"), {
                "aria-label": "Conversion window unit",
              }),
            ),
          ),
          field("Step order", choice(FUNNEL_ORDERS, funnel.funnelOrderType || "ordered", set("funnelOrderType"))),
          field("Show", choice(FUNNEL_VIEWS, view, set("funnelVizType", true), { "aria-label": "Funnel view" })),
          view !== "steps" ? between : null,
          view === "trends" ? field("Interval", intervalChoice()) : null,
          dateRangeEditor(),
        ),
      ];
    },

    RetentionQuery() {
      const retention = options("retentionFilter");
      retention.targetEntity ??= entity("$pageview");
      retention.returningEntity ??= structuredClone(retention.targetEntity); // the server's rule when left out
      const set = (key) => (v) => {
        retention[key] = v;
        changed();
      };
      return [
        section(
          "Cohort",
          field(
            "Persons who did",
            eventInput(retention.targetEntity, "id", "Cohort event"),
            choice(RETENTION_TYPES, retention.retentionType || "retention_recurring", set("retentionType"), {
              "aria-label": "Retention type",
            }),
          ),
          field("and came back to do", eventInput(retention.returningEntity, "id", "Returning event")),
        ),
        section(
          "Options",
          field("Period", choice(PERIODS, retention.period || "Day", set("period"), { "aria-label": "Period" })),
          field("Periods", number(retention.totalIntervals ?? 8, set("totalIntervals"), { min: 1, max: 100 })),
          checkbox("Cumulative (came back in that period or later)", Boolean(retention.cumulative), (on) => {
            retention.cumulative = on || undefined;
            changed();
          }),
        ),
        section("Filters", filterEditor(query)),
      ];
    },

    LifecycleQuery() {
      return [
        section("Event", ...seriesEditor({ max: 1, noun: "event" })),
        section("Filters", filterEditor(query)),
        section("Options", field("Interval", intervalChoice()), dateRangeEditor()),
        el(
          "p",
          { class: "muted small" },
          "Each period splits the persons who did the event into new, returning and resurrecting, " +
            "and counts those who stopped as dormant.",
        ),
      ];
    },

    StickinessQuery() {
      return [
        section("Series", ...seriesEditor({ noun: "event" })),
        section("Filters", filterEditor(query)),
        section("Options", field("Interval", intervalChoice()), dateRangeEditor()),
        el("p", { class: "muted small" }, "How many persons did the event on 1, 2, 3, … of the range's intervals."),
      ];
    },

    PathsQuery() {
      const paths = options("pathsFilter");
      const types = (paths.includeEventTypes ??= ["$pageview"]);
      const point = (key, label) =>
        field(label, text(paths[key], (v) => {
          paths[key] = v.trim() || undefined;
          changed();
        }, { list: "ff-events", placeholder: "anywhere (a URL, screen or event name)", "aria-label": label }));
      return [
        section(
          "Path items",
          ...PATH_TYPES.map(([type, label]) =>
            checkbox(label, types.includes(type), (on) => {
              paths.includeEventTypes = on ? [...types, type] : types.filter((t) => t !== type);
              rerender();
            }),
          ),
        ),
        section(
          "Boundaries",
          point("startPoint", "Starting at"),
          point("endPoint", "Ending at"),
          field("Steps", number(paths.stepLimit ?? 5, (v) => {
            paths.stepLimit = v;
            changed();
          }, { min: 2, max: 20, "aria-label": "Steps" })),
        ),
        section("Filters", filterEditor(query)),
        section("Options", dateRangeEditor()),
      ];
    },
  };

  function renderControls() {
    const form = $("controls");
    form.replaceChildren(...EDITORS[query.kind]().flat().filter(Boolean));
    form.removeAttribute("aria-busy");
    for (const tab of document.querySelectorAll("[role=tab][data-kind]")) {
      tab.setAttribute("aria-selected", String(tab.dataset.kind === query.kind));
    }
  }

  function changed() {
    if ($("chart").childElementCount) $("result-status").textContent = "Changed: press Calculate to update.";
  }

  function rerender() {
    renderControls();
    changed();
  }

  // -- switching kind keeps what carries over: the events, filters and date range ---------------------------
  function eventsOf(q) {
    if (q.kind === "RetentionQuery") {
      const r = q.retentionFilter || {};
      return [r.targetEntity?.id, (r.returningEntity || r.targetEntity)?.id];
    }
    return (q.series || []).map((node) => node.event);
  }

  function switchKind(kind) {
    if (kind === query.kind) return;
    const events = eventsOf(query).filter((e) => e !== "" && e !== undefined);
    const next = { kind, ...DEFAULTS[kind]() };
    if (Array.isArray(query.properties) && query.properties.length) next.properties = query.properties;
    if (query.dateRange && next.dateRange) next.dateRange = query.dateRange;
    if (events.length && kind === "RetentionQuery") {
      Object.assign(next.retentionFilter, { targetEntity: entity(events[0]), returningEntity: entity(events.at(-1)) });
    } else if (events.length && next.series) {
      let picked = kind === "LifecycleQuery" ? events.slice(0, 1) : events;
      if (kind === "FunnelsQuery" && picked.length < 2) picked = [...picked, ""];
      next.series = picked.map((e) => eventNode(e, kind === "TrendsQuery" ? "total" : undefined));
    }
    query = next;
    if (!insight) history.replaceState(null, "", `?kind=${kind}`);
    clearResults();
    renderControls();
    calculate();
  }

  // -- running the query -------------------------------------------------------------------------------------
  function incomplete() {
    const events = eventsOf(query);
    if (events.some((e) => e === "")) {
      return query.kind === "FunnelsQuery"
        ? "Choose the event of each step (a funnel needs at least two), then press Calculate."
        : "Choose an event for every series, then press Calculate.";
    }
    if (query.kind === "PathsQuery" && !query.pathsFilter?.includeEventTypes?.length) {
      return "Choose at least one kind of path item, then press Calculate.";
    }
    return null;
  }

  // The query as PostHog's API takes it: without the half-filled rows the controls keep while editing.
  function runnable() {
    const out = structuredClone(query);
    const prune = (owner) => {
      if (!owner || !Array.isArray(owner.properties)) return;
      owner.properties = owner.properties.filter((f) => f.key);
      if (!owner.properties.length) delete owner.properties;
    };
    const retention = out.retentionFilter || {};
    [out, ...(out.series || []), retention.targetEntity, retention.returningEntity].forEach(prune);
    if (!out.breakdownFilter?.breakdown && !out.breakdownFilter?.breakdowns?.length) delete out.breakdownFilter;
    return out;
  }

  function clearResults() {
    $("query-error").hidden = true;
    $("chart").replaceChildren();
    $("result-table").replaceChildren();
    $("result-status").textContent = "";
  }

  function showPrompt(message) {
    clearResults();
    $("calculate").disabled = false; // a calculation this one replaced may have left it disabled
    $("chart").removeAttribute("aria-busy");
    $("chart").append(el("div", { class: "empty" }, el("h2", {}, "Almost there"), el("p", {}, message)));
  }

  function showError(error) {
    clearResults();
    const box = $("query-error");
    box.replaceChildren(el("strong", {}, "The query failed: "), error.message);
    box.hidden = false;
  }

  async function calculate() {
    const run = ++runs;
    const problem = incomplete();
    if (problem) return showPrompt(problem);
    const source = runnable();
    const chart = $("chart");
    $("calculate").disabled = true;
    chart.setAttribute("aria-busy", "true");
    $("query-error").hidden = true;
    $("result-status").textContent = "Calculating…";
    try {
      const response = await projectApi("/query/", { method: "POST", body: { query: source, refresh: "blocking" } });
      if (run !== runs) return;
      await draw(source, response.results);
      const cached = response.is_cached ? " (from cache)" : "";
      $("result-status").textContent = `Calculated ${FF.fmtTime(response.last_refresh)}${cached}`;
    } catch (error) {
      if (run === runs) showError(error);
    } finally {
      if (run === runs) {
        $("calculate").disabled = false;
        chart.removeAttribute("aria-busy");
      }
    }
  }

  function noData(source, results) {
    if (results?.bins) return !results.bins.some(([, persons]) => persons);
    if (!Array.isArray(results) || !results.length) return true;
    if (source.kind === "FunnelsQuery" && results[0].data === undefined) {
      return (Array.isArray(results[0]) ? results : [results]).every((steps) => !steps[0]?.count);
    }
    if (source.kind === "RetentionQuery") return results.every((row) => !row.values[0]?.count);
    if (source.kind === "PathsQuery") return false;
    return results.every((r) => !(r.aggregated_value ?? r.count) && !(r.data || []).some(Boolean));
  }

  async function draw(source, results) {
    const chart = $("chart");
    $("result-table").replaceChildren();
    if (noData(source, results)) {
      chart.replaceChildren(
        el(
          "div",
          { class: "empty" },
          el("h2", {}, "No matching events"),
          el("p", {}, "Nothing matched in this date range. Try a longer range, other events, or fewer filters."),
        ),
      );
      return;
    }
    const numbers = TABLES[source.kind]?.(results, source);
    if (numbers) $("result-table").append(numbers);
    try {
      await FF.chart(chart, source.kind, results, { display: source.trendsFilter?.display, height: 320 });
    } catch (error) {
      chart.replaceChildren(el("p", { class: "error" }, `Could not draw the chart: ${error.message}`));
    }
  }

  // -- tables of the numbers under the chart -----------------------------------------------------------------
  function table(head, rows, attrs = {}) {
    return el(
      "table",
      { class: "list numbers", ...attrs },
      el("thead", {}, el("tr", {}, head.map((h) => el("th", {}, h)))),
      el("tbody", {}, rows.map((cells) => el("tr", {}, cells.map((c) => el("td", {}, c))))),
    );
  }

  const percent = (part, whole) => (whole ? `${((100 * part) / whole).toFixed(1)}%` : "–");
  const count = (n) => Number(n).toLocaleString();

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    const s = Math.round(seconds);
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
    if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
    return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
  }

  // PostHog's stand-ins for a missing breakdown value and for the values past the breakdown limit.
  const BREAKDOWN_NAMES = {
    "": "(none)",
    "$$_posthog_breakdown_null_$$": "(none)",
    "$$_posthog_breakdown_other_$$": "Other",
  };
  const breakdownText = (value) =>
    [value].flat().map((v) => BREAKDOWN_NAMES[v ?? ""] ?? String(v)).join(", ");

  function trendsTable(results) {
    const broken = results.some((r) => r.breakdown_value !== undefined);
    const rows = results.map((r) => [
      (r.action ? r.action.custom_name || r.action.name : r.label) +
        (r.compare_label === "previous" ? " (previous period)" : ""),
      ...(broken ? [breakdownText(r.breakdown_value)] : []),
      count(r.aggregated_value ?? r.count),
    ]);
    return table(["Series", ...(broken ? ["Breakdown"] : []), "Total"], rows, { id: "trends-table" });
  }

  // funnelVizType=time_to_convert: how many converted persons took how long, in PostHog's bins.
  function timeToConvertTable(results) {
    const total = results.bins.reduce((sum, [, persons]) => sum + persons, 0);
    const rows = results.bins.map(([start, persons], i) => {
      const end = results.bins[i + 1]?.[0];
      const span = end === undefined ? `${duration(start)} or more` : `${duration(start)} to ${duration(end)}`;
      return [span, count(persons), percent(persons, total)];
    });
    return el(
      "div",
      {},
      el("p", {}, `Average time to convert: ${duration(results.average_conversion_time)}`),
      table(["Time to convert", "Persons", "Share"], rows, { id: "time-to-convert" }),
    );
  }

  const TABLES = {
    TrendsQuery: trendsTable,

    FunnelsQuery(results, source) {
      if (results.bins) return timeToConvertTable(results);
      if (source.funnelsFilter?.funnelVizType === "trends") return null;
      const grouped = Array.isArray(results[0]);
      const rows = (grouped ? results : [results]).flatMap((steps) =>
        steps.map((step, i) => [
          ...(grouped ? [breakdownText(step.breakdown_value)] : []),
          `${i + 1}. ${step.custom_name || step.name}`,
          count(step.count),
          percent(step.count, steps[0].count),
          i ? percent(step.count, steps[i - 1].count) : "",
          i ? duration(step.average_conversion_time) : "",
          i ? duration(step.median_conversion_time) : "",
        ]),
      );
      const head = ["Step", "Persons", "Conversion", "From previous step"];
      head.push("Average time to convert", "Median time to convert");
      return table(grouped ? ["Breakdown", ...head] : head, rows, { id: "funnel-steps" });
    },

    RetentionQuery(results) {
      const longest = results.reduce((a, b) => (b.values.length > a.values.length ? b : a));
      const rows = results.map((row) => {
        const size = row.values[0]?.count || 0;
        return [
          row.date.slice(0, 10),
          count(size),
          ...row.values.map((v) => el("span", {}, percent(v.count, size), el("small", {}, count(v.count)))),
        ];
      });
      return table(["Cohort", "Persons", ...longest.values.map((v) => v.label)], rows, { id: "retention-table" });
    },
  };

  // -- saving ------------------------------------------------------------------------------------------------
  function dashboardName(id) {
    const option = [...$("save-dashboard").options].find((o) => Number(o.value) === id);
    return option ? option.textContent : `Dashboard ${id}`;
  }

  function dashboardLinks() {
    const links = insight.dashboards.flatMap((id, i) => [
      i ? ", " : "",
      el("a", { href: `/project/${FF.project.id}/dashboard/${id}`, class: "dashboard-link" }, dashboardName(id)),
    ]);
    return links.length ? [`On dashboard${insight.dashboards.length > 1 ? "s" : ""} `, ...links] : [];
  }

  function showInsight() {
    const name = FF.insightName(insight);
    $("insight-title").textContent = name;
    document.title = `${name} · footfall`;
  }

  async function save(event) {
    event.preventDefault();
    const status = $("save-status");
    const problem = incomplete();
    if (problem) {
      status.className = "error";
      status.textContent = problem.replace(", then press Calculate", " before saving");
      return;
    }
    const dashboard = Number($("save-dashboard").value) || null;
    const body = { name: $("insight-name").value.trim(), query: { kind: "InsightVizNode", source: runnable() } };
    $("save").disabled = true;
    status.className = "muted";
    status.textContent = "Saving…";
    try {
      if (insight) {
        if (dashboard && !insight.dashboards.includes(dashboard)) body.dashboards = [...insight.dashboards, dashboard];
        insight = await projectApi(`/insights/${insight.id}/`, { method: "PATCH", body });
      } else {
        insight = await projectApi("/insights/", {
          method: "POST",
          body: { ...body, saved: true, ...(dashboard ? { dashboards: [dashboard] } : {}) },
        });
        history.replaceState(null, "", `/project/${FF.project.id}/insight/${insight.id}`);
      }
      showInsight();
      status.className = "saved";
      const link = el("a", { href: `/project/${FF.project.id}/insight/${insight.id}` }, "Open the insight");
      const boards = dashboardLinks();
      const saved = `Saved “${FF.insightName(insight)}”. `;
      status.replaceChildren(saved, link, ...(boards.length ? [" · ", ...boards] : []));
    } catch (error) {
      status.className = "error";
      status.textContent = `Could not save: ${error.message}`;
    } finally {
      $("save").disabled = false;
    }
  }

  // -- start ---------------------------------------------------------------------------------------------------
  // Event names and property keys for the inputs' suggestions. A list that cannot be had leaves its input
  // without suggestions: typing a name works the same.
  async function suggestions() {
    const lists = {
      "ff-events": "/event_definitions/?limit=500",
      "ff-event-properties": "/property_definitions/?type=event&limit=500",
      "ff-person-properties": "/property_definitions/?type=person&limit=500",
    };
    await Promise.all(
      Object.entries(lists).map(async ([id, path]) => {
        try {
          const found = await projectApi(path);
          $(id).append(...found.results.map((d) => el("option", { value: d.name })));
        } catch {
          // no suggestions (see above)
        }
      }),
    );
  }

  async function load() {
    const id = FF.data.insight_id;
    if (!id) {
      query = { kind: FF.data.kind, ...DEFAULTS[FF.data.kind]() };
      return true;
    }
    try {
      insight = await projectApi(`/insights/${id}/?refresh=force_cache`);
    } catch (error) {
      showError(new Error(`Could not open insight ${id}: ${error.message}`));
      return false;
    }
    const source = FF.querySource(insight.query);
    if (!DEFAULTS[source.kind]) {
      showError(new Error("This insight has no PostHog query to edit (it was saved through Amplitude's API)."));
      return false;
    }
    query = structuredClone(source);
    showInsight();
    $("insight-name").value = insight.name || "";
    $("save-status").replaceChildren(...dashboardLinks());
    return true;
  }

  document.addEventListener("DOMContentLoaded", async () => {
    suggestions();
    $("controls").addEventListener("submit", (e) => {
      e.preventDefault();
      calculate();
    });
    $("save-form").addEventListener("submit", save);
    if (!(await load())) {
      $("controls").replaceChildren();
      $("controls").removeAttribute("aria-busy");
      $("calculate").disabled = $("save").disabled = true;
      return;
    }
    for (const tab of document.querySelectorAll("[role=tab][data-kind]")) {
      tab.addEventListener("click", () => switchKind(tab.dataset.kind));
    }
    renderControls();
    calculate();
  });
})();
