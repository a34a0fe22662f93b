// The public page of a shared dashboard or insight: a password gate when one is required, then the charts.
"use strict";

(() => {
  const { api, el } = FF;
  const token = FF.data.token;
  const $ = (id) => document.getElementById(id);

  async function show() {
    const response = await api(`/shared/${token}`, { raw: true });
    if (response.status === 401) {
      $("password-gate").hidden = false;
      $("gate-password").focus();
      return;
    }
    const body = await response.json();
    if (!response.ok) {
      $("shared-content").hidden = false;
      $("shared-title").textContent = body.detail || "This link does not work.";
      return;
    }
    $("password-gate").hidden = true;
    $("shared-content").hidden = false;
    const grid = $("tiles");
    // A dashboard has tiles; a shared insight is drawn as a single tile.
    const tiles = body.tiles ? FF.sortedTiles(body.tiles) : [{ id: 0, insight: body, layouts: { sm: { w: 12 } } }];
    $("shared-title").textContent = body.tiles ? body.name : FF.insightName(body);
    document.title = `${$("shared-title").textContent} · footfall`;
    $("shared-description").textContent = body.description || "";
    for (const tile of tiles) {
      const wide = (tile.layouts?.sm?.w || 6) >= 12;
      const chart = el("div", { class: "tile-body" });
      const title = tile.insight ? FF.insightName(tile.insight) : "";
      grid.append(el("section", { class: `tile ${wide ? "w12" : "w6"}` }, el("header", {}, el("h3", {}, title)), chart));
      await FF.renderTile(chart, tile);
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("password-gate").addEventListener("submit", async (e) => {
      e.preventDefault();
      const response = await api(`/shared/${token}`, {
        method: "POST",
        body: { password: $("gate-password").value },
        raw: true,
      });
      if (!response.ok) {
        $("gate-error").hidden = false;
        return;
      }
      await show();
    });
    show();
  });
})();
