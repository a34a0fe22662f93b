// The saved insights list: times in the viewer's time zone, and delete (PostHog's soft delete).
"use strict";

(() => {
  async function remove(button) {
    const row = button.closest("tr");
    const name = row.querySelector("a")?.textContent || "this insight";
    if (!confirm(`Delete “${name}”? It is also removed from its dashboards.`)) return;
    await FF.projectApi(`/insights/${row.dataset.id}/`, { method: "PATCH", body: { deleted: true } });
    row.remove();
    FF.toast(`Deleted “${name}”`, "ok");
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const time of document.querySelectorAll("#insight-list time[datetime]")) {
      time.textContent = FF.fmtTime(time.dateTime);
    }
    document.getElementById("insight-list")?.addEventListener("click", (e) => {
      const button = e.target.closest("button[data-action=delete]");
      if (button) remove(button).catch((error) => FF.toast(error.message));
    });
  });
})();
