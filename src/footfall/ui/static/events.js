// The events explorer: newest events first from the PostHog events API, filtered by event, one property and a
// distinct id (or a person), with a live tail that polls for what arrived since, and rows that open to show
// the whole event.
"use strict";

(() => {
  const { el, projectApi, toast } = FF;
  const POLL_MS = 2000;
  const PAGE = 100;
  const MAX_ROWS = 1000; // a tail left open keeps the newest this many
  const MAX_PAGES_PER_POLL = 10;
  // An event is stored a moment after its timestamp, and SDKs send in batches, so it can land after newer
  // ones were shown: each poll looks back this far and skips the events already on screen.
  const LOOKBACK_MS = 30_000;
  const NO_VALUE = new Set(["is_set", "is_not_set"]);

  const form = document.getElementById("event-filters");
  const table = document.getElementById("events-table");
  const rows = document.getElementById("events-body");
  const status = document.getElementById("live-status");
  const pauseButton = document.getElementById("pause");
  const olderButton = document.getElementById("load-older");
  const errorBox = document.getElementById("events-error");

  const shown = new Set(); // uuids of the events on screen
  let newest = null; // the newest and oldest timestamps on screen (ISO strings)
  let oldest = null;
  let filters = {};
  let paused = false;
  let timer = null;
  let generation = 0; // bumped on every reload, so answers for old filters are dropped

  const FIELDS = ["event", "key", "operator", "value", "distinct_id", "person_id"];

  function readForm() {
    const data = new FormData(form);
    const out = {};
    for (const name of FIELDS) {
      const value = String(data.get(name) || "").trim();
      if (value) out[name] = value;
    }
    if (!out.key) {
      delete out.operator;
      delete out.value;
    }
    return out;
  }

  function fillForm(values) {
    for (const name of FIELDS) {
      const field = form.elements[name];
      field.value = values[name] || (name === "operator" ? "exact" : "");
    }
    syncForm();
  }

  function syncForm() {
    form.elements.value.disabled = NO_VALUE.has(form.elements.operator.value);
    const chip = document.getElementById("person-chip");
    chip.hidden = !form.elements.person_id.value;
    chip.querySelector("span").textContent = form.elements.person_id.value;
  }

  function eventsPath(extra = {}) {
    const query = new URLSearchParams({ limit: String(PAGE), ...extra });
    for (const name of ["event", "distinct_id", "person_id"]) if (filters[name]) query.set(name, filters[name]);
    if (filters.key) {
      const operator = filters.operator || "exact";
      const filter = { key: filters.key, operator, type: "event" };
      if (!NO_VALUE.has(operator)) filter.value = filters.value || "";
      query.set("properties", JSON.stringify([filter]));
    }
    return `/events/?${query}`;
  }

  const personName = (event) => {
    const props = event.person?.properties || {};
    return props.email || props.name || event.distinct_id;
  };
  const personHref = (event) =>
    `/project/${FF.project.id}/person/${encodeURIComponent(event.person?.id || event.distinct_id)}`;

  function eventRow(event) {
    const props = event.properties || {};
    const where = props.$current_url || props.$screen_name || props.$pathname || "";
    const row = el(
      "tr",
      { class: "event-row", tabindex: "0", "aria-expanded": "false", dataset: { uuid: event.uuid } },
      el("td", { class: "event-name" }, event.event),
      el("td", {}, el("a", { href: personHref(event), onclick: (e) => e.stopPropagation() }, personName(event))),
      el("td", { class: "ellipsis", title: where }, where),
      el("td", { class: "muted" }, props.$lib || ""),
      el("td", { class: "muted nowrap" }, el("time", { datetime: event.timestamp }, FF.fmtProjectTime(event.timestamp))),
    );
    const toggle = () => toggleDetail(row, event);
    row.addEventListener("click", toggle);
    row.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        toggle();
      }
    });
    return row;
  }

  function toggleDetail(row, event) {
    const open = row.getAttribute("aria-expanded") === "true";
    row.setAttribute("aria-expanded", String(!open));
    if (open) {
      row.nextElementSibling?.remove();
      return;
    }
    const detail = el(
      "tr",
      { class: "event-detail" },
      el(
        "td",
        { colspan: "5" },
        el(
          "div",
          { class: "inline small" },
          el("a", { href: personHref(event) }, `Person: ${personName(event)}`),
          el("span", { class: "muted" }, `distinct_id ${event.distinct_id}`),
          el("span", { class: "muted" }, `uuid ${event.uuid}`),
          el("span", { class: "muted" }, event.timestamp),
        ),
        el("pre", {}, JSON.stringify(event.properties || {}, null, 2)),
      ),
    );
    row.after(detail);
  }

  // Rows carry their detail row along: removing a row removes its open detail too.
  function removeRow(row) {
    if (row.getAttribute("aria-expanded") === "true") row.nextElementSibling?.remove();
    shown.delete(row.dataset.uuid);
    row.remove();
  }

  function trackBounds(event) {
    if (!newest || event.timestamp > newest) newest = event.timestamp;
    if (!oldest || event.timestamp < oldest) oldest = event.timestamp;
  }

  function appendOlder(events) {
    for (const event of events) {
      if (shown.has(event.uuid)) continue;
      shown.add(event.uuid);
      trackBounds(event);
      rows.append(eventRow(event));
    }
  }

  // New events go on top in the order they arrived, as a tail does, highlighted for a moment.
  function prependNew(eventsOldestFirst) {
    let added = 0;
    for (const event of eventsOldestFirst) {
      if (shown.has(event.uuid)) continue;
      shown.add(event.uuid);
      trackBounds(event);
      const row = eventRow(event);
      row.classList.add("fresh");
      rows.prepend(row);
      added += 1;
    }
    const all = rows.querySelectorAll("tr.event-row");
    if (all.length > MAX_ROWS) {
      [...all].slice(MAX_ROWS).forEach(removeRow);
      oldest = all[MAX_ROWS - 1].querySelector("time").getAttribute("datetime");
      olderButton.hidden = false;
    }
    return added;
  }

  function showEmptyStates() {
    const empty = shown.size === 0;
    const filtered = Object.keys(filters).length > 0;
    table.hidden = empty;
    document.getElementById("no-events").hidden = !(empty && !filtered);
    document.getElementById("no-matches").hidden = !(empty && filtered);
  }

  function setStatus(text, kind) {
    status.textContent = text;
    status.className = `live ${kind}`;
  }

  function showError(message) {
    errorBox.hidden = !message;
    errorBox.textContent = message || "";
  }

  async function reload() {
    const mine = ++generation;
    clearTimeout(timer);
    rows.replaceChildren();
    shown.clear();
    newest = oldest = null;
    table.setAttribute("aria-busy", "true");
    document.getElementById("events-loading").hidden = false;
    olderButton.hidden = true;
    showError("");
    try {
      const page = await projectApi(eventsPath());
      if (mine !== generation) return;
      appendOlder(page.results);
      olderButton.hidden = !page.next;
    } catch (error) {
      if (mine !== generation) return;
      setStatus("Reconnecting…", "trouble");
      showError(`Could not load events (retrying): ${error.message}`);
    }
    table.removeAttribute("aria-busy");
    document.getElementById("events-loading").hidden = true;
    showEmptyStates();
    schedule();
  }

  async function loadOlder() {
    const mine = generation;
    olderButton.disabled = true;
    olderButton.textContent = "Loading…";
    try {
      const page = await projectApi(eventsPath(oldest ? { before: oldest } : {}));
      if (mine !== generation) return;
      appendOlder(page.results);
      olderButton.hidden = !page.next;
    } catch (error) {
      toast(`Could not load older events: ${error.message}`);
    } finally {
      olderButton.disabled = false;
      olderButton.textContent = "Load older events";
    }
  }

  // `next` is an absolute URL as the server saw it, which behind a proxy may not be the browser's origin.
  function sameOriginPath(url) {
    const parsed = new URL(url, location.href);
    return parsed.pathname + parsed.search;
  }

  // Everything after the newest event shown (less the look-back), oldest first, following `next` pages.
  async function fetchNew() {
    if (!newest) return (await projectApi(eventsPath())).results.reverse();
    const after = new Date(Date.parse(newest) - LOOKBACK_MS).toISOString();
    const found = [];
    let path = `/api/projects/${FF.project.id}${eventsPath({ after, orderBy: '["timestamp"]' })}`;
    for (let pages = 0; path && pages < MAX_PAGES_PER_POLL; pages += 1) {
      const page = await FF.api(path);
      found.push(...page.results);
      path = page.next ? sameOriginPath(page.next) : null;
    }
    return found;
  }

  async function poll() {
    const mine = generation;
    try {
      const fresh = await fetchNew();
      if (mine !== generation || paused) return;
      if (prependNew(fresh)) showEmptyStates();
      setStatus("Live", "on");
      showError("");
    } catch (error) {
      if (mine !== generation) return;
      setStatus("Reconnecting…", "trouble");
      showError(`The live tail could not refresh (retrying every ${POLL_MS / 1000} s): ${error.message}`);
    }
    schedule();
  }

  function schedule() {
    clearTimeout(timer);
    if (paused) {
      setStatus("Paused", "");
      return;
    }
    if (!status.classList.contains("trouble")) setStatus("Live", "on");
    timer = setTimeout(poll, POLL_MS);
  }

  function togglePause() {
    paused = !paused;
    pauseButton.textContent = paused ? "Resume" : "Pause";
    pauseButton.setAttribute("aria-pressed", String(paused));
    if (paused) {
      schedule();
    } else {
      setStatus("Live", "on");
      poll();
    }
  }

  function apply(values) {
    filters = values;
    const query = new URLSearchParams(values).toString();
    history.replaceState(null, "", query ? `?${query}` : location.pathname);
    reload();
  }

  document.addEventListener("DOMContentLoaded", () => {
    fillForm(Object.fromEntries(new URLSearchParams(location.search)));
    filters = readForm();
    form.elements.operator.addEventListener("change", syncForm);
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      apply(readForm());
    });
    const clear = () => {
      fillForm({});
      apply({});
    };
    document.getElementById("clear-filters").addEventListener("click", clear);
    document.querySelector("[data-clear]").addEventListener("click", clear);
    document.querySelector("#person-chip button").addEventListener("click", () => {
      form.elements.person_id.value = "";
      syncForm();
      apply(readForm());
    });
    pauseButton.addEventListener("click", togglePause);
    olderButton.addEventListener("click", loadOlder);
    reload();
  });
})();
