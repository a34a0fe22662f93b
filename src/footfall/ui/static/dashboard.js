// A dashboard: tiles streamed as they are computed, rearranged by dragging (saved as layouts), a date range
// for every tile, refresh, exports and sharing; all through the PostHog API.
"use strict";

(() => {
  const { el, projectApi, toast } = FF;
  const id = FF.data.dashboard_id;
  const grid = document.getElementById("tiles");
  let board = null;
  let tiles = [];

  const width = (tile) => (tile.layouts?.sm?.w >= 12 ? 12 : 6);

  function tileNode(tile) {
    const title = tile.insight ? FF.insightName(tile.insight) : "";
    const body = el("div", { class: "tile-body", "aria-busy": "true" }, el("p", { class: "muted" }, "Loading…"));
    const link = tile.insight ? el("a", { href: `/project/${FF.project.id}/insight/${tile.insight.id}` }, title) : "";
    const node = el(
      "section",
      { class: `tile w${width(tile)}`, draggable: "true", dataset: { tileId: tile.id } },
      el(
        "header",
        {},
        el("h3", {}, link),
        el(
          "span",
          { class: "tile-actions" },
          el("button", { title: "Wider or narrower", onclick: () => resize(tile) }, "⇔"),
          el("button", { title: "Move to another dashboard", onclick: () => moveElsewhere(tile) }, "Move"),
          el("button", { title: "Remove from dashboard", onclick: () => removeTile(tile) }, "✕"),
        ),
      ),
      body,
    );
    node.addEventListener("dragstart", (e) => {
      e.dataTransfer.setData("text/plain", String(tile.id));
      node.classList.add("dragging");
    });
    node.addEventListener("dragend", () => node.classList.remove("dragging"));
    node.addEventListener("dragover", (e) => e.preventDefault());
    node.addEventListener("drop", (e) => {
      e.preventDefault();
      reorder(Number(e.dataTransfer.getData("text/plain")), tile.id);
    });
    return node;
  }

  async function drawTile(tile) {
    const node = grid.querySelector(`[data-tile-id="${tile.id}"]`);
    const body = node?.querySelector(".tile-body");
    if (!body) return;
    try {
      await FF.renderTile(body, tile);
    } catch (error) {
      body.replaceChildren(el("p", { class: "error" }, `Could not draw this tile: ${error.message}`));
    }
    body.removeAttribute("aria-busy");
  }

  function layout() {
    grid.replaceChildren(...tiles.map(tileNode));
    document.getElementById("no-tiles").hidden = tiles.length > 0;
    grid.hidden = tiles.length === 0;
  }

  // Tiles flow left to right, two half-width tiles a row; the order is saved as PostHog layouts.
  function flowLayouts() {
    let x = 0;
    let y = 0;
    return tiles.map((tile) => {
      const w = width(tile);
      const h = tile.layouts?.sm?.h || 5;
      if (x + w > 12) {
        x = 0;
        y += h;
      }
      const layouts = { ...(tile.layouts || {}), sm: { x, y, w, h } };
      x += w;
      tile.layouts = layouts;
      return { id: tile.id, layouts };
    });
  }

  async function saveLayouts() {
    await projectApi(`/dashboards/${id}/`, { method: "PATCH", body: { tiles: flowLayouts() } });
  }

  async function reorder(draggedId, targetId) {
    if (draggedId === targetId) return;
    const from = tiles.findIndex((t) => t.id === draggedId);
    const to = tiles.findIndex((t) => t.id === targetId);
    if (from < 0 || to < 0) return;
    const [moved] = tiles.splice(from, 1);
    tiles.splice(to, 0, moved);
    const nodes = new Map([...grid.children].map((n) => [Number(n.dataset.tileId), n]));
    grid.replaceChildren(...tiles.map((t) => nodes.get(t.id)));
    await saveLayouts();
    toast("Layout saved", "ok");
  }

  async function resize(tile) {
    tile.layouts = { ...(tile.layouts || {}), sm: { ...(tile.layouts?.sm || {}), w: width(tile) === 12 ? 6 : 12 } };
    const node = grid.querySelector(`[data-tile-id="${tile.id}"]`);
    node.classList.toggle("w12", width(tile) === 12);
    node.classList.toggle("w6", width(tile) === 6);
    await saveLayouts();
    await drawTile(tile);
  }

  async function removeTile(tile) {
    if (!confirm("Remove this tile from the dashboard?")) return;
    await projectApi(`/dashboards/${id}/`, { method: "PATCH", body: { tiles: [{ id: tile.id, deleted: true }] } });
    tiles = tiles.filter((t) => t.id !== tile.id);
    layout();
    tiles.forEach(drawTile);
  }

  async function moveElsewhere(tile) {
    const others = (await projectApi("/dashboards/?limit=200")).results.filter((d) => d.id !== id);
    if (!others.length) return toast("There is no other dashboard to move this tile to.");
    const names = others.map((d, i) => `${i + 1}. ${d.name}`).join("\n");
    const choice = Number(prompt(`Move to which dashboard?\n${names}`, "1"));
    const target = others[choice - 1];
    if (!target) return;
    await projectApi(`/dashboards/${id}/move_tile/`, { method: "PATCH", body: { tile: { id: tile.id }, toDashboard: target.id } });
    tiles = tiles.filter((t) => t.id !== tile.id);
    layout();
    tiles.forEach(drawTile);
    toast(`Moved to ${target.name}`, "ok");
  }

  function showHeader(dashboard) {
    board = dashboard;
    document.title = `${dashboard.name || "Dashboard"} · footfall`;
    document.getElementById("dashboard-name").textContent = dashboard.name || "Untitled";
    document.getElementById("dashboard-description").textContent = dashboard.description || "";
    document.getElementById("date-range").value = dashboard.filters?.date_from || "";
  }

  // Server-Sent Events: the dashboard first, then each tile as soon as its insight is computed.
  function load(refresh = "blocking") {
    grid.setAttribute("aria-busy", "true");
    return new Promise((resolve, reject) => {
      const source = new EventSource(`/api/projects/${FF.project.id}/dashboards/${id}/stream_tiles/?refresh=${refresh}`);
      const pending = [];
      source.addEventListener("metadata", (e) => {
        const message = JSON.parse(e.data);
        showHeader(message.dashboard);
        tiles = [];
      });
      source.addEventListener("tile", (e) => {
        const { tile } = JSON.parse(e.data);
        if (tile.deleted || (tile.insight === null && tile.text === null)) return;
        tiles.push(tile);
        tiles = FF.sortedTiles(tiles);
        const node = tileNode(tile);
        const after = tiles[tiles.indexOf(tile) + 1];
        const next = after && grid.querySelector(`[data-tile-id="${after.id}"]`);
        grid.insertBefore(node, next || null);
        pending.push(drawTile(tile));
      });
      source.addEventListener("complete", async () => {
        source.close();
        document.getElementById("no-tiles").hidden = tiles.length > 0;
        await Promise.all(pending);
        grid.removeAttribute("aria-busy");
        document.getElementById("last-refresh").textContent = `Computed ${new Date().toLocaleString()}`;
        resolve();
      });
      source.onerror = () => {
        source.close();
        FF.projectApi(`/dashboards/${id}/`).catch((error) => {
          toast(`Could not load the dashboard: ${error.message}`);
          reject(error);
        });
      };
    });
  }

  function reload(refresh) {
    grid.replaceChildren();
    return load(refresh);
  }

  async function rename() {
    const name = prompt("Dashboard name", board?.name || "");
    if (name === null || !name.trim()) return;
    showHeader(await projectApi(`/dashboards/${id}/`, { method: "PATCH", body: { name: name.trim() } }));
  }

  async function setDateRange(value) {
    await projectApi(`/dashboards/${id}/`, {
      method: "PATCH",
      body: { filters: { ...(board?.filters || {}), date_from: value || null, date_to: null } },
    });
    await reload("blocking");
  }

  async function exportAs(format, button) {
    button.disabled = true;
    const label = button.textContent;
    button.textContent = "…";
    try {
      let asset = await projectApi("/exports/", { method: "POST", body: { export_format: format, dashboard: id } });
      for (let i = 0; i < 240 && !asset.has_content; i++) {
        await new Promise((r) => setTimeout(r, 500));
        asset = await projectApi(`/exports/${asset.id}/`);
      }
      if (!asset.has_content) throw new Error("the export is still being made; try again shortly");
      const link = el("a", { href: `/api/projects/${FF.project.id}/exports/${asset.id}/content?download=true`, download: asset.filename });
      document.body.append(link);
      link.click();
      link.remove();
    } finally {
      button.disabled = false;
      button.textContent = label;
    }
  }

  // -- sharing ---------------------------------------------------------------------------------------
  const dialog = document.getElementById("share-dialog");
  const $ = (name) => document.getElementById(name);

  function showSharing(config) {
    $("share-enabled").checked = config.enabled;
    $("share-details").hidden = !config.enabled;
    $("share-link").value = `${location.origin}/shared/${config.access_token}`;
    $("share-password-required").checked = config.password_required;
    $("share-passwords").hidden = !config.password_required;
    $("share-password-list").replaceChildren(
      ...config.share_passwords
        .filter((p) => p.is_active)
        .map((p) =>
          el(
            "li",
            {},
            `Password ${p.note ? `“${p.note}” ` : ""}added ${FF.fmtTime(p.created_at)} `,
            el("button", { type: "button", onclick: () => removePassword(p.id) }, "Remove"),
          ),
        ),
    );
  }

  const sharingApi = (path = "", options) => projectApi(`/dashboards/${id}/sharing/${path}`, options);

  async function removePassword(passwordId) {
    await sharingApi(`passwords/${passwordId}/`, { method: "DELETE", raw: true });
    showSharing(await sharingApi());
  }

  function sharingControls() {
    $("share").addEventListener("click", async () => {
      $("share-password-shown").hidden = true;
      showSharing(await sharingApi());
      dialog.showModal();
    });
    $("share-enabled").addEventListener("change", async (e) => {
      showSharing(await sharingApi("", { method: "PATCH", body: { enabled: e.target.checked } }));
    });
    $("share-password-required").addEventListener("change", async (e) => {
      showSharing(await sharingApi("", { method: "PATCH", body: { password_required: e.target.checked } }));
    });
    $("share-rotate").addEventListener("click", async () => {
      showSharing(await sharingApi("refresh/", { method: "POST" }));
      toast("New link made; the old one no longer works.", "ok");
    });
    $("share-add-password").addEventListener("click", async () => {
      const typed = $("share-new-password").value;
      const created = await sharingApi("passwords/", { method: "POST", body: typed ? { raw_password: typed } : {} });
      $("share-new-password").value = "";
      const shown = $("share-password-shown");
      shown.textContent = `Password: ${created.password} (shown only now: copy it)`;
      shown.hidden = false;
      showSharing(await sharingApi());
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("dashboard-name").addEventListener("click", rename);
    $("dashboard-name").addEventListener("keydown", (e) => e.key === "Enter" && rename());
    $("date-range").addEventListener("change", (e) => setDateRange(e.target.value));
    $("refresh").addEventListener("click", () => reload("force_blocking"));
    for (const button of document.querySelectorAll("[data-export]")) {
      button.addEventListener("click", () => exportAs(button.dataset.export, button));
    }
    sharingControls();
    load();
  });
})();
