// footfall's UI helpers: the PostHog REST API with the session cookie, toasts, charts and tiles.
"use strict";

const FF = (() => {
  const data = JSON.parse(document.getElementById("page-data")?.textContent || "{}");
  const project = data.project || null;

  function toast(message, kind = "error") {
    const box = document.getElementById("toasts");
    if (!box) return;
    const item = document.createElement("div");
    item.className = `toast ${kind}`;
    item.textContent = message;
    item.addEventListener("click", () => item.remove());
    box.append(item);
    setTimeout(() => item.remove(), kind === "error" ? 12000 : 4000);
  }

  // Errors are shown, never swallowed: anything a page's script failed to handle ends up as a toast.
  window.addEventListener("error", (e) => toast(`Error: ${e.message}`));
  window.addEventListener("unhandledrejection", (e) => toast(`Error: ${e.reason?.message || e.reason}`));

  class ApiError extends Error {
    constructor(status, body) {
      super((body && (body.detail || body.error)) || `HTTP ${status}`);
      this.status = status;
      this.body = body;
    }
  }

  async function api(path, { method = "GET", body, raw = false } = {}) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (data.csrf && method !== "GET") headers["X-CSRFToken"] = data.csrf;
    const response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (raw) return response;
    const text = await response.text();
    let parsed = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = { detail: text.slice(0, 200) };
    }
    if (!response.ok) throw new ApiError(response.status, parsed);
    return parsed;
  }

  // The current project's PostHog API: FF.projectApi("/dashboards/") → /api/projects/<id>/dashboards/
  const projectApi = (path, options) => api(`/api/projects/${project.id}${path}`, options);

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    node.append(...children.flat().filter((c) => c !== null && c !== undefined));
    return node;
  }

  const querySource = (query) => (query && query.kind === "InsightVizNode" ? query.source : query) || {};

  // A chart from PostHog-shaped results: the server builds the Vega-Lite spec (the exports use the same one).
  async function chart(target, kind, results, { title = null, display, height = 260 } = {}) {
    const width = Math.max(240, Math.floor(target.clientWidth || 560) - 40);
    const spec = await api("/_ui/chart", { method: "POST", body: { kind, results, title, display, width, height } });
    // On screen the whole chart, axes and legend included, fits its tile (exports keep the spec's own size).
    spec.autosize = { type: "fit", contains: "padding" };
    target.replaceChildren();
    await vegaEmbed(target, spec, { actions: false, renderer: "svg" });
  }

  function insightName(insight) {
    return insight.name || insight.derived_name || "Untitled insight";
  }

  // A dashboard tile: a chart of its insight's results, a text tile, or the error its query gave.
  async function renderTile(body, tile) {
    body.replaceChildren();
    body.classList.remove("error");
    if (tile.text) {
      body.append(el("div", { class: "text-tile" }, tile.text.body || ""));
      return;
    }
    const insight = tile.insight;
    if (!insight) return;
    if (insight.query_status && insight.query_status.error) {
      body.classList.add("error");
      body.append(el("p", { class: "error" }, insight.query_status.error_message));
      return;
    }
    const source = querySource(insight.query);
    if (insight.result === null || insight.result === undefined) {
      body.append(el("p", { class: "muted" }, "No results yet: refresh to compute them."));
      return;
    }
    await chart(body, source.kind, insight.result, { display: source.trendsFilter?.display });
  }

  function sortedTiles(tiles) {
    const place = (t) => (t.layouts && t.layouts.sm) || {};
    return [...tiles].sort((a, b) => (place(a).y ?? 1e9) - (place(b).y ?? 1e9) || (place(a).x ?? 0) - (place(b).x ?? 0));
  }

  function switcher() {
    const select = document.getElementById("project-switcher");
    if (!select || !project) return;
    select.addEventListener("change", () => {
      if (select.value === "new") {
        select.value = String(project.id); // the settings page's dialog creates it; stay on this one till then
        location.href = `/project/${project.id}/settings#new-project`;
        return;
      }
      // A dashboard or insight of this project is not in the other: open that project's list of them.
      const section = location.pathname.split("/")[3] || "dashboards";
      const rest = { dashboard: "dashboards", insight: "insights" }[section] || section;
      location.href = `/project/${select.value}/${rest}`;
    });
  }

  function logoutForms() {
    for (const form of document.querySelectorAll("form[data-csrf-form]")) {
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        await api(form.action, { method: "POST", raw: true });
        location.href = "/login";
      });
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    switcher();
    logoutForms();
  });

  const fmtTime = (iso) => (iso ? new Date(iso).toLocaleString() : "");
  // In the project's time zone, the one its insights bucket days in.
  const fmtProjectTime = (iso, options = {}) =>
    iso ? new Date(iso).toLocaleString(undefined, { timeZone: project?.timezone, ...options }) : "";

  return { data, project, api, projectApi, toast, el, chart, renderTile, sortedTiles, insightName, querySource, fmtTime, fmtProjectTime, ApiError };
})();
