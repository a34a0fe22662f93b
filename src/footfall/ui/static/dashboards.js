// The dashboards list: create (blank or from the template), rename, pin, delete and restore.
"use strict";

(() => {
  const { projectApi, toast } = FF;
  const patch = (id, body) => projectApi(`/dashboards/${id}/`, { method: "PATCH", body });

  async function act(button) {
    const row = button.closest("tr");
    const id = Number(row.dataset.id);
    const action = button.dataset.action;
    if (action === "pin") {
      await patch(id, { pinned: button.dataset.pinned !== "true" });
    } else if (action === "rename") {
      const current = row.querySelector("a")?.textContent || "";
      const name = prompt("Dashboard name", current);
      if (name === null || !name.trim()) return;
      await patch(id, { name: name.trim() });
    } else if (action === "delete") {
      if (!confirm("Delete this dashboard? You can restore it from the deleted list.")) return;
      await patch(id, { deleted: true });
    } else if (action === "restore") {
      await patch(id, { deleted: false });
    }
    location.reload();
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.addEventListener("click", (e) => {
      const button = e.target.closest("button[data-action]");
      if (button) act(button).catch((error) => toast(error.message));
    });
    document.getElementById("new-dashboard").addEventListener("submit", async (e) => {
      e.preventDefault();
      const form = new FormData(e.target);
      const body = { name: form.get("name") };
      if (form.get("template")) body.use_template = form.get("template");
      const created = await projectApi("/dashboards/", { method: "POST", body });
      location.href = `/project/${FF.project.id}/dashboard/${created.id}`;
    });
  });
})();
