// People: the PostHog persons list, searched by distinct id or property (email, name…), a page at a time.
"use strict";

(() => {
  const { el, projectApi } = FF;
  const PAGE = 50;
  const form = document.getElementById("person-search");
  const table = document.getElementById("persons-table");
  const body = document.getElementById("persons-body");
  const loading = document.getElementById("persons-loading");
  const errorBox = document.getElementById("persons-error");
  const prev = document.getElementById("persons-prev");
  const next = document.getElementById("persons-next");
  let generation = 0;

  function state() {
    const query = new URLSearchParams(location.search);
    return { search: query.get("search") || "", offset: Math.max(0, Number(query.get("offset")) || 0) };
  }

  function go(search, offset) {
    const query = new URLSearchParams();
    if (search) query.set("search", search);
    if (offset) query.set("offset", String(offset));
    history.pushState(null, "", `?${query}`);
    load();
  }

  function personRow(person) {
    const href = `/project/${FF.project.id}/person/${encodeURIComponent(person.uuid)}`;
    const ids = person.distinct_ids;
    const more = ids.length > 1 ? el("span", { class: "muted" }, ` +${ids.length - 1} more`) : null;
    return el(
      "tr",
      { dataset: { uuid: person.uuid } },
      el("td", {}, el("a", { href }, person.name)),
      el("td", {}, el("code", {}, ids[0] || ""), more),
      el("td", {}, person.is_identified ? "Yes" : el("span", { class: "muted" }, "Anonymous")),
      el("td", { class: "muted" }, FF.fmtProjectTime(person.created_at)),
    );
  }

  async function load() {
    const mine = ++generation;
    const { search, offset } = state();
    form.elements.search.value = search;
    table.setAttribute("aria-busy", "true");
    loading.hidden = false;
    errorBox.hidden = true;
    prev.disabled = next.disabled = true;
    const query = new URLSearchParams({ limit: String(PAGE), offset: String(offset) });
    if (search) query.set("search", search);
    try {
      const page = await projectApi(`/persons/?${query}`);
      if (mine !== generation) return;
      body.replaceChildren(...page.results.map(personRow));
      const empty = page.results.length === 0;
      table.hidden = empty;
      document.getElementById("no-persons").hidden = !(empty && !search && offset === 0);
      document.getElementById("no-person-matches").hidden = !(empty && (search || offset > 0));
      const last = offset + page.results.length;
      document.getElementById("persons-count").textContent = empty
        ? ""
        : `${offset + 1}–${last} of ${page.count.toLocaleString()}`;
      prev.disabled = offset === 0;
      next.disabled = !page.next;
    } catch (error) {
      if (mine !== generation) return;
      errorBox.textContent = `Could not load people: ${error.message}`;
      errorBox.hidden = false;
    } finally {
      if (mine === generation) {
        table.removeAttribute("aria-busy");
        loading.hidden = true;
      }
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      go(form.elements.search.value.trim(), 0);
    });
    prev.addEventListener("click", () => go(state().search, Math.max(0, state().offset - PAGE)));
    next.addEventListener("click", () => go(state().search, state().offset + PAGE));
    window.addEventListener("popstate", load);
    load();
  });
})();
