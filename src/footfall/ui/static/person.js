// A person: properties and distinct ids (the PostHog persons API), the totals Amplitude's user activity shows
// (`activity_summary`), and their events (the events API by person) grouped by day and session.
"use strict";

(() => {
  const { el, projectApi } = FF;
  const PAGE = 200;
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  const wanted = FF.data.person_id;
  const timeline = document.getElementById("timeline");
  const olderButton = document.getElementById("timeline-older");
  let person = null;
  let events = []; // newest first
  // Days as the project's insights count them.
  const dayOf = new Intl.DateTimeFormat("en-CA", {
    timeZone: FF.project.timezone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
  });
  const clock = (iso) => FF.fmtProjectTime(iso, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const longDay = (iso) => FF.fmtProjectTime(iso, { weekday: "long", year: "numeric", month: "long", day: "numeric" });

  function duration(ms) {
    const minutes = Math.round(ms / 60_000);
    if (minutes < 1) return `${Math.round(ms / 1000)} s`;
    if (minutes < 60) return `${minutes} min`;
    return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
  }

  // By UUID, or else by distinct ID: links may carry either (and posthog-js's anonymous ids are UUIDs too).
  async function findPerson() {
    if (UUID.test(wanted)) {
      try {
        return await projectApi(`/persons/${wanted}/`);
      } catch (error) {
        if (error.status !== 404) throw error;
      }
    }
    const found = await projectApi(`/persons/?distinct_id=${encodeURIComponent(wanted)}`);
    return found.results[0] || null;
  }

  function showPerson() {
    document.title = `${person.name} · footfall`;
    document.getElementById("person-name").textContent = person.name;
    document.getElementById("person-uuid").textContent = person.uuid;
    document.getElementById("person-kind").textContent = person.is_identified ? "Identified" : "Anonymous";
    const explorer = new URLSearchParams({ person_id: person.uuid });
    document.getElementById("person-events").href = `/project/${FF.project.id}/events?${explorer}`;
    document.getElementById("person-distinct-ids").replaceChildren(
      ...person.distinct_ids.map((id) => el("li", {}, el("code", {}, id))),
    );
    showProperties("");
    document.getElementById("person").hidden = false;
  }

  function showProperties(filter) {
    const needle = filter.toLowerCase();
    const entries = Object.entries(person.properties || {})
      .filter(([key, value]) => !needle || `${key} ${JSON.stringify(value)}`.toLowerCase().includes(needle))
      .sort(([a], [b]) => a.localeCompare(b));
    document.getElementById("person-properties").replaceChildren(
      ...entries.map(([key, value]) =>
        el("tr", {}, el("td", {}, key), el("td", {}, typeof value === "string" ? value : JSON.stringify(value))),
      ),
    );
    document.getElementById("no-properties").hidden = Object.keys(person.properties || {}).length > 0;
  }

  function stat(label, value) {
    const shown = value === null || value === undefined || value === "" ? "—" : String(value);
    return el("div", { class: "stat" }, el("div", { class: "label" }, label), el("div", { class: "value" }, shown));
  }

  async function showSummary() {
    const box = document.getElementById("person-summary");
    try {
      const s = await projectApi(`/persons/${encodeURIComponent(person.uuid)}/activity_summary/`);
      const place = [s.latest.city, s.latest.country].filter(Boolean).join(", ");
      box.replaceChildren(
        stat("Events", s.num_events.toLocaleString()),
        stat("Sessions", s.num_sessions.toLocaleString()),
        stat("Usage time", s.num_sessions ? duration(s.usage_time) : null),
        stat("First seen", s.first_used),
        stat("Last seen", s.last_used),
        stat("Platform", s.latest.platform),
        stat("OS", s.latest.os),
        stat("Location", place),
        stat("App version", s.latest.version),
        stat("Devices", s.device_ids.length || null),
        ...(s.purchases ? [stat("Revenue", `${s.revenue.toLocaleString()} (${s.purchases} purchases)`)] : []),
      );
    } catch (error) {
      box.replaceChildren(el("p", { class: "error" }, `Could not load the activity summary: ${error.message}`));
    }
    box.removeAttribute("aria-busy");
  }

  // Newest first, cut into days, and each day into runs of one session.
  function grouped() {
    const days = [];
    for (const event of events) {
      const day = dayOf.format(new Date(event.timestamp));
      const session = event.properties?.$session_id || "";
      let current = days.at(-1);
      if (!current || current.day !== day) {
        current = { day, timestamp: event.timestamp, sessions: [] };
        days.push(current);
      }
      let run = current.sessions.at(-1);
      if (!run || run.id !== session) {
        run = { id: session, events: [] };
        current.sessions.push(run);
      }
      run.events.push(event);
    }
    return days;
  }

  function eventItem(event) {
    const props = event.properties || {};
    const where = props.$current_url || props.$screen_name || props.$pathname || "";
    const item = el(
      "li",
      { tabindex: "0", "aria-expanded": "false" },
      el("time", { datetime: event.timestamp, class: "muted" }, clock(event.timestamp)),
      el("span", {}, el("strong", {}, event.event), " ", el("span", { class: "muted" }, where)),
    );
    const toggle = () => {
      const open = item.getAttribute("aria-expanded") === "true";
      item.setAttribute("aria-expanded", String(!open));
      if (open) item.querySelector("pre").remove();
      else item.append(el("pre", {}, JSON.stringify(props, null, 2)));
    };
    item.addEventListener("click", (e) => {
      if (!e.target.closest("pre")) toggle();
    });
    item.addEventListener("keydown", (e) => {
      if (e.key === "Enter") toggle();
    });
    return item;
  }

  function sessionBlock(run) {
    const first = run.events.at(-1).timestamp;
    const last = run.events[0].timestamp;
    const count = `${run.events.length} event${run.events.length === 1 ? "" : "s"}`;
    const title = run.id
      ? `Session · ${clock(first)} – ${clock(last)} · ${duration(Date.parse(last) - Date.parse(first))}`
      : "Without a session";
    return el(
      "section",
      { class: "session", dataset: { session: run.id } },
      el("header", {}, el("span", {}, title), el("span", { class: "muted" }, count)),
      el("ol", {}, run.events.map(eventItem)),
    );
  }

  function showTimeline() {
    if (!events.length) {
      timeline.replaceChildren(el("p", { class: "muted" }, "No events from this person yet."));
      return;
    }
    timeline.replaceChildren(
      ...grouped().map((day) =>
        el("section", { class: "timeline-day" }, el("h3", {}, longDay(day.timestamp)), day.sessions.map(sessionBlock)),
      ),
    );
  }

  async function loadEvents() {
    const query = new URLSearchParams({ person_id: person.uuid, limit: String(PAGE) });
    if (events.length) query.set("before", events.at(-1).timestamp);
    olderButton.disabled = true;
    try {
      const page = await projectApi(`/events/?${query}`);
      const known = new Set(events.map((e) => e.uuid));
      events.push(...page.results.filter((e) => !known.has(e.uuid)));
      showTimeline();
      olderButton.hidden = !page.next;
    } catch (error) {
      timeline.append(el("p", { class: "error" }, `Could not load events: ${error.message}`));
    }
    olderButton.disabled = false;
    timeline.removeAttribute("aria-busy");
  }

  async function start() {
    try {
      person = await findPerson();
    } catch (error) {
      const box = document.getElementById("person-error");
      box.textContent = `Could not load this person: ${error.message}`;
      box.hidden = false;
      return;
    } finally {
      document.getElementById("person-loading").hidden = true;
    }
    if (!person) {
      document.getElementById("missing-id").textContent = wanted;
      // An event without a profile still names a person UUID (derived from its distinct ID): both filter.
      const explorer = new URLSearchParams({ [UUID.test(wanted) ? "person_id" : "distinct_id"]: wanted });
      document.getElementById("missing-events").href = `/project/${FF.project.id}/events?${explorer}`;
      document.getElementById("no-person").hidden = false;
      return;
    }
    showPerson();
    await Promise.all([showSummary(), loadEvents()]);
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.getElementById("property-filter").addEventListener("input", (e) => showProperties(e.target.value));
    olderButton.addEventListener("click", loadEvents);
    start();
  });
})();
