// Project settings: name and time zone, the project's keys (a new Amplitude secret is shown once), SDK
// snippets, personal API keys (each shown once), the admin password, and new projects.
"use strict";

(() => {
  const { api, projectApi, toast, el, fmtTime } = FF;
  const $ = (selector) => document.querySelector(selector);
  const KEYS = "/api/personal_api_keys/";

  function fillZones(select, selected) {
    const zones = FF.data.timezones.includes(selected) ? FF.data.timezones : [selected, ...FF.data.timezones];
    select.replaceChildren(...zones.map((zone) => el("option", { value: zone, selected: zone === selected }, zone)));
  }

  async function copy(text) {
    // The async clipboard exists only on https and localhost; elsewhere the older copy command still works.
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
    } else {
      const area = el("textarea", { class: "offscreen" }, text);
      document.body.append(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    toast("Copied", "ok");
  }

  // A form's submit runs `handler`; the button is disabled meanwhile and failures become toasts.
  function onSubmit(form, handler) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        await handler(new FormData(form));
      } catch (error) {
        toast(error.message);
      } finally {
        button.disabled = false;
      }
    });
  }

  function onClick(button, handler) {
    button.addEventListener("click", () => handler().catch((error) => toast(error.message)));
  }

  function renderSnippets(key) {
    const origin = location.origin;
    const snippets = [
      [
        "posthog-js, script tag",
        `<script src="https://cdn.jsdelivr.net/npm/posthog-js/dist/array.full.js"></script>\n` +
          `<script>\n  posthog.init('${key}', { api_host: '${origin}' })\n</script>`,
      ],
      ["posthog-js, npm", `import posthog from 'posthog-js'\n\nposthog.init('${key}', { api_host: '${origin}' })`],
      [
        "Amplitude browser SDK (@amplitude/analytics-browser)",
        `import * as amplitude from '@amplitude/analytics-browser'\n\n` +
          `amplitude.init('${key}', { serverUrl: '${origin}/2/httpapi' })`,
      ],
      ["Python: posthog", `from posthog import Posthog\n\nposthog = Posthog('${key}', host='${origin}')`],
      [
        "Python: amplitude-analytics",
        `from amplitude import Amplitude, Config\n\nclient = Amplitude('${key}', Config(server_url='${origin}/2/httpapi'))`,
      ],
    ];
    $("#snippets").replaceChildren(
      ...snippets.map(([title, code]) =>
        el(
          "div",
          { class: "snippet" },
          el("div", { class: "snippet-head" }, el("h3", {}, title), el("button", { type: "button", onclick: () => copy(code) }, "Copy")),
          el("pre", {}, el("code", {}, code)),
        ),
      ),
    );
  }

  function showProject(project) {
    $("#project-name").value = project.name;
    fillZones($("#project-timezone"), project.timezone);
    $("#api-key").value = project.api_token;
    renderSnippets(project.api_token);
  }

  const projectName = (id) => document.querySelector(`#project-switcher option[value="${id}"]`)?.textContent || `project ${id}`;

  async function loadKeys() {
    const keys = await api(KEYS);
    const rows = keys.map((key) =>
      el(
        "tr",
        { dataset: { id: key.id } },
        el("td", {}, key.label || "(no label)"),
        el("td", {}, el("code", {}, key.mask_value)),
        el(
          "td",
          {},
          key.scopes.join(", "),
          key.scoped_teams.length ? el("div", { class: "muted small" }, `only ${key.scoped_teams.map(projectName).join(", ")}`) : null,
        ),
        el("td", { class: "muted" }, fmtTime(key.created_at)),
        el("td", { class: "muted" }, key.last_used_at ? fmtTime(key.last_used_at) : "never"),
        el("td", { class: "actions" }, el("button", { class: "danger", dataset: { action: "delete-key" } }, "Delete")),
      ),
    );
    $("#key-list tbody").replaceChildren(...rows);
    $("#key-list").hidden = !keys.length;
    $("#no-keys").hidden = Boolean(keys.length);
  }

  function scopeBoxes() {
    const grid = $("#scope-grid");
    grid.replaceChildren(
      ...FF.data.scopes.map((scope) =>
        el("label", { class: "check" }, el("input", { type: "checkbox", name: "scope", value: scope }), el("code", {}, scope)),
      ),
    );
    // `*` covers every scope: the single ones are moot while it is ticked.
    $("#scope-all").addEventListener("change", (event) => {
      for (const box of grid.querySelectorAll("input")) box.disabled = event.target.checked;
    });
  }

  function wireKeys() {
    onSubmit($("#key-form"), async (form) => {
      const all = form.getAll("scope");
      const scopes = all.includes("*") ? ["*"] : all;
      if (!scopes.length) throw new Error("Pick at least one scope.");
      const body = { label: form.get("label"), scopes, scoped_teams: form.get("only_project") ? [FF.project.id] : [] };
      const created = await api(KEYS, { method: "POST", body });
      $("#key-value").value = created.value;
      $("#key-shown").hidden = false;
      $("#key-form").reset();
      for (const box of $("#scope-grid").querySelectorAll("input")) box.disabled = false;
      await loadKeys();
    });
    $("#key-list").addEventListener("click", (event) => {
      const button = event.target.closest("button[data-action=delete-key]");
      if (!button || !confirm("Delete this key? Programs using it are refused from now on.")) return;
      const id = button.closest("tr").dataset.id;
      api(`${KEYS}${id}/`, { method: "DELETE" })
        .then(loadKeys)
        .catch((error) => toast(error.message));
    });
  }

  function wireProject() {
    onSubmit($("#project-form"), async (form) => {
      const project = await projectApi("/", { method: "PATCH", body: { name: form.get("name"), timezone: form.get("timezone") } });
      showProject(project);
      const option = document.querySelector(`#project-switcher option[value="${project.id}"]`);
      if (option) option.textContent = project.name;
      toast("Saved", "ok");
    });
    onClick($("#reset-token"), async () => {
      const question =
        "Reset the API key? Every SDK and app still sending the current key is refused until it gets the new one.";
      if (!confirm(question)) return;
      showProject(await projectApi("/reset_token/", { method: "POST" }));
      toast("The API key was reset: give the new one to your apps.", "ok");
    });
    onClick($("#reset-secret"), async () => {
      const question = "Make a new Amplitude secret key? The current secret stops working at once.";
      if (!confirm(question)) return;
      const project = await projectApi("/reset_secret_key/", { method: "POST" });
      $("#secret-value").value = project.secret_key;
      $("#secret-shown").hidden = false;
    });
  }

  function wirePassword() {
    onSubmit($("#password-form"), async (form) => {
      const body = { current_password: form.get("current_password"), password: form.get("password") };
      await api("/_ui/password", { method: "POST", body });
      // The new session comes with a new CSRF token; later requests of this page need it.
      const cookie = document.cookie.split("; ").find((c) => c.startsWith("footfall_csrf="));
      FF.data.csrf = cookie.slice("footfall_csrf=".length);
      $("#password-form").reset();
      toast("Password changed.", "ok");
    });
  }

  function wireNewProject() {
    const dialog = $("#new-project");
    const form = $("#new-project-form");
    const open = () => {
      const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
      fillZones(form.elements.timezone, FF.data.timezones.includes(browserZone) ? browserZone : "UTC");
      form.hidden = false;
      $("#new-project-keys").hidden = true;
      dialog.showModal();
    };
    $("#new-project-open").addEventListener("click", open);
    form.querySelector("[data-close]").addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => {
      if (location.hash === "#new-project") history.replaceState(null, "", location.pathname);
    });
    onSubmit(form, async (data) => {
      const created = await api("/api/projects/", { method: "POST", body: { name: data.get("name"), timezone: data.get("timezone") } });
      form.reset();
      form.hidden = true;
      $("#new-project-name").textContent = created.name;
      $("#new-api-key").value = created.api_token;
      $("#new-secret-key").value = created.secret_key;
      $("#new-project-go").href = `/project/${created.id}/settings`;
      $("#new-project-keys").hidden = false;
    });
    // The project switcher's "New project…" comes here with #new-project.
    const fromSwitcher = () => location.hash === "#new-project" && !dialog.open && open();
    window.addEventListener("hashchange", fromSwitcher);
    fromSwitcher();
  }

  document.addEventListener("DOMContentLoaded", async () => {
    document.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-copy]");
      if (button) copy($(button.dataset.copy).value).catch((error) => toast(error.message));
    });
    scopeBoxes();
    wireProject();
    wireKeys();
    wirePassword();
    wireNewProject();
    showProject(await projectApi("/"));
    await loadKeys();
  });
})();
