// Outpost admin console: a small static app over the admin API (/v1/admin/*). No build step, no dependencies.
// An operator signs in with their own credential (an API token, or an access token from the identity provider); it
// lives in this tab's sessionStorage only and goes out as a bearer credential. The service knows who it belongs to
// (GET /v1/admin/whoami) and names them in the audit trail; the console only shows it.

const main = document.getElementById("main");
const session = {
  get token() { return sessionStorage.getItem("outpost.token"); },
  get who() { return JSON.parse(sessionStorage.getItem("outpost.who") || "null"); },
  save(token) { sessionStorage.setItem("outpost.token", token); },
  identify(who) { sessionStorage.setItem("outpost.who", JSON.stringify(who)); },
  clear() { sessionStorage.removeItem("outpost.token"); sessionStorage.removeItem("outpost.who"); },
};
let refreshTimer = null;

/** An element: h("td", {class: "num"}, "12", child...). Text is always text, never parsed as HTML. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "disabled" || k === "hidden") el[k] = Boolean(v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || "HTTP " + status);
    this.status = status;
    this.code = problem.code;
  }
}

async function api(method, path, body) {
  const headers = { Authorization: "Bearer " + session.token, Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  const json = text ? JSON.parse(text) : null;
  if (!res.ok) throw new ApiError(res.status, json || {});
  return json;
}

function bytes(n) {
  if (n === null || n === undefined) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (Math.abs(n) >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return (i === 0 ? n : n.toFixed(n >= 100 ? 0 : 1)) + " " + units[i];
}

function ago(iso) {
  if (!iso) return h("span", { class: "muted" }, "never");
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  const text = s < 60 ? Math.round(s) + " s ago" : s < 3600 ? Math.round(s / 60) + " min ago"
    : s < 86400 ? Math.round(s / 3600) + " h ago" : Math.round(s / 86400) + " d ago";
  return h("time", { datetime: iso, title: new Date(iso).toLocaleString() }, text);
}

function badge(text, kind) { return h("span", { class: "badge " + (kind || text) }, text); }

function errorBox(e) { return h("p", { class: "error", role: "alert" }, e.message + (e.code ? " (" + e.code + ")" : "")); }

/** Asks before doing something that cannot be taken back; resolves true on "ok". */
function confirmAction(title, text, okLabel) {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm-ok").textContent = okLabel;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true }));
}

// ---- pages ----------------------------------------------------------------------------------------------------------

function login(message) {
  const token = h("input", { type: "password", name: "token", autocomplete: "off", required: true });
  const status = h("div");
  const form = h("form", { class: "stack", onsubmit: async (ev) => {
    ev.preventDefault();
    session.save(token.value.trim());
    try {
      session.identify(await api("GET", "/v1/admin/whoami"));
      location.hash = "#/fleet";
      route();
    } catch (e) {
      session.clear();
      status.replaceChildren(errorBox(e));
    }
  } },
    h("label", {}, "Your operator token (an API token, or an access token from your identity provider)", token),
    h("div", {}, h("button", { type: "submit" }, "Sign in")),
    status);
  main.replaceChildren(h("h1", {}, "Sign in"), message ? h("p", { class: "notice" }, message) : "", form);
  token.focus();
}

async function fleetPage() {
  const search = h("input", { type: "search", placeholder: "Device id contains…", "aria-label": "Search devices" });
  const body = h("div");
  let next = null;
  const rows = h("tbody");
  const more = h("button", { class: "quiet", hidden: true, onclick: () => load(false) }, "More devices");
  let generation = 0;
  async function load(fresh) {
    const q = encodeURIComponent(search.value.trim());
    const after = fresh ? "" : encodeURIComponent(next || "");
    const mine = fresh ? ++generation : generation;
    const page = await api("GET", `/v1/admin/fleet?limit=100&q=${q}&after=${after}`);
    // Answers can arrive out of order (the first page while a search is typed): only the newest request's counts.
    if (mine !== generation) return;
    if (fresh) {
      rows.replaceChildren();
      const s = page.summary;
      body.replaceChildren(h("div", { class: "cards" },
        card(s.devices, "devices", "fleet-devices"), card(s.syncedLastDay, "synced in the last 24 h"),
        card(s.neverSynced, "never synced"), card(s.openConflicts, "open conflicts", "fleet-conflicts"),
        card(s.failingModels, "failing model installs")));
    }
    for (const d of page.devices) rows.append(deviceRow(d, page.lagCountMax));
    next = page.next;
    more.hidden = !next;
  }
  function card(n, label, id) { return h("div", { class: "card", id }, h("div", { class: "n" }, n), h("div", { class: "l" }, label)); }
  search.addEventListener("input", () => load(true).catch((e) => body.replaceChildren(errorBox(e))));
  main.replaceChildren(h("h1", {}, "Fleet"), body, h("div", { class: "toolbar" }, search),
    h("table", { id: "fleet" },
      h("thead", {}, h("tr", {}, h("th", {}, "Device"), h("th", {}, "Scopes"), h("th", {}, "Last sync"),
        h("th", { class: "num" }, "Sync lag"), h("th", { class: "num" }, "Open conflicts"), h("th", {}, "Models"))),
      rows),
    h("div", { class: "toolbar" }, more));
  await load(true);
}

function deviceRow(d, lagMax) {
  const lag = d.lastSyncAt === null ? h("span", { class: "muted" }, "—")
    : d.syncLagChanges === 0 ? badge("up to date", "ok")
    : (d.syncLagChanges >= lagMax ? "≥ " : "") + d.syncLagChanges + (d.syncLagChanges === 1 ? " change" : " changes");
  const models = d.models.length === 0 ? h("span", { class: "muted" }, "none reported")
    : d.models.map((m) => h("div", {}, m.artifact + " v" + (m.activeVersion ?? "—") + " ", badge(m.health),
      m.errorCode ? h("span", { class: "muted" }, " " + m.errorCode) : ""));
  return h("tr", { "data-device": d.deviceId },
    h("td", {}, d.deviceId, d.revokedAt ? [" ", badge("revoked")] : ""),
    h("td", {}, d.scopes.join(", ")),
    h("td", {}, ago(d.lastSyncAt)),
    h("td", { class: "num" }, lag),
    h("td", { class: "num" }, d.openConflicts > 0
      ? d.scopes.map((s, i) => [i ? " " : "", h("a", { href: "#/conflicts?scope=" + encodeURIComponent(s), title: "open conflicts in " + s }, d.scopes.length > 1 ? s : d.openConflicts)])
      : "0"),
    h("td", {}, models));
}

async function conflictsPage() {
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  const show = params.get("status") || "open";
  const scope = params.get("scope") || "";
  const list = await api("GET", `/v1/admin/conflicts?status=${show}&limit=100&scope=${encodeURIComponent(scope)}`);
  const link = (s) => "#/conflicts?status=" + s + (scope ? "&scope=" + encodeURIComponent(scope) : "");
  const tabs = h("div", { class: "toolbar" },
    ...["open", "resolved"].map((s) => s === show ? h("strong", {}, s) : h("a", { href: link(s) }, s)),
    scope ? h("span", { class: "muted" }, "in scope " + scope + " · ", h("a", { href: "#/conflicts?status=" + show }, "all scopes")) : "");
  const items = list.length === 0
    ? [h("p", { class: "muted", id: "no-conflicts" }, show === "open" ? "No open conflicts: nothing needs a person." : "None yet.")]
    : list.map(conflictCard);
  main.replaceChildren(h("h1", {}, "Conflicts"), tabs, ...items);
}

function conflictCard(c) {
  const status = h("div");
  const resolve = async (body, what) => {
    try {
      await api("POST", `/v1/admin/conflicts/${c.id}/resolve`, body);
      status.replaceChildren(h("p", { class: "notice" }, "Resolved: " + what + ". The resolution syncs to every device."));
      card.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    } catch (e) {
      if (e.status === 401 || e.status === 403) return guarded(() => { throw e; });
      status.replaceChildren(errorBox(e));
    }
  };
  const open = c.status === "open";
  const sides = c.candidates.map((cand, i) => {
    const [ms, , device] = String(cand.clock || "").split(":");
    const value = cand.delete ? "(deleted)" : JSON.stringify(cand.value, null, 2);
    return h("div", { class: "side", "data-candidate": i },
      h("div", { class: "muted" }, i === 0 ? "Shown now" : "Kept aside"),
      h("pre", { class: "value" }, value),
      h("div", { class: "muted" }, "by ", h("strong", {}, device || "?"), ms ? [" at ", new Date(Number(ms)).toLocaleString()] : ""),
      open && c.kind !== "delete-vs-update"
        ? h("div", {}, h("button", { onclick: () => resolve({ value: cand.value }, "kept " + value) }, "Keep this value"))
        : "");
  });
  const deleteActions = open && c.kind === "delete-vs-update"
    ? h("div", { class: "toolbar" },
      h("button", { class: "danger", onclick: () => resolve({ action: "keep-deleted" }, "kept deleted") }, "Keep deleted"),
      h("button", { onclick: () => resolve({ action: "restore" }, "restored") }, "Restore the row"))
    : "";
  const card = h("section", { class: "conflict", "data-conflict": c.id },
    h("div", {}, h("strong", {}, `${c.table} / ${c.rowId}`), c.field ? " · " + c.field : "", " ", badge(c.kind, "warn"),
      " ", h("span", { class: "muted" }, "scope " + c.scope + " · opened "), ago(c.openedAt),
      c.resolvedBy ? h("span", { class: "muted" }, " · resolved by " + c.resolvedBy) : ""),
    h("div", { class: "sides" }, sides), deleteActions, status);
  return card;
}

async function rolloutsPage() {
  const [rollouts, artifacts] = await Promise.all([api("GET", "/v1/admin/rollouts"), api("GET", "/v1/admin/artifacts")]);
  const names = [...new Set(artifacts.versions.map((v) => v.artifact))];
  const artifact = h("select", { name: "artifact", required: true }, names.map((n) => h("option", { value: n }, n)));
  const version = h("input", { name: "version", type: "number", min: 1, required: true });
  const previous = h("input", { name: "previousVersion", type: "number", min: 1, placeholder: "the desired version" });
  const scopes = h("input", { name: "scopes", required: true, placeholder: "nakuru, eldoret" });
  const waves = h("input", { name: "waves", value: "1, 10, 50, 100" });
  const soak = h("input", { name: "soak", type: "number", min: 0, placeholder: "off: you promote" });
  const status = h("div");
  const form = h("form", { class: "grid", id: "new-rollout", onsubmit: async (ev) => {
    ev.preventDefault();
    const body = {
      artifact: artifact.value, version: Number(version.value),
      scopes: scopes.value.split(",").map((s) => s.trim()).filter(Boolean),
      waves: waves.value.split(",").map((s) => Number(s.trim())),
      autoPromoteAfter: soak.value === "" ? null : "PT" + Number(soak.value) + "M",
    };
    if (previous.value) body.previousVersion = Number(previous.value);
    try {
      const created = await api("POST", "/v1/admin/rollouts", body);
      location.hash = "#/rollouts/" + created.id;
    } catch (e) { status.replaceChildren(errorBox(e)); }
  } },
    h("label", {}, "Artifact", artifact), h("label", {}, "Version", version),
    h("label", {}, "Back to on rollback", previous), h("label", {}, "Scopes (comma-separated)", scopes),
    h("label", {}, "Waves (cumulative %)", waves), h("label", {}, "Promote by itself after (minutes healthy)", soak),
    h("div", {}, h("button", { type: "submit" }, "Create draft")));
  const rows = rollouts.map((r) => h("tr", { "data-rollout": r.id },
    h("td", {}, h("a", { href: "#/rollouts/" + r.id }, "#" + r.id)),
    h("td", {}, r.artifact + " v" + r.previousVersion + " → v" + r.version),
    h("td", {}, r.scopes.join(", ")),
    h("td", {}, badge(r.status)),
    h("td", { class: "num" }, r.openWaves),
    h("td", {}, r.reason),
    h("td", {}, ago(r.updatedAt))));
  main.replaceChildren(h("h1", {}, "Rollouts"),
    rows.length ? h("table", { id: "rollouts" }, h("thead", {}, h("tr", {}, h("th", {}, "Rollout"), h("th", {}, "Version"),
      h("th", {}, "Scopes"), h("th", {}, "Status"), h("th", { class: "num" }, "Open waves"), h("th", {}, "Why"),
      h("th", {}, "Changed"))), h("tbody", {}, rows)) : h("p", { class: "muted" }, "No rollouts yet."),
    h("h2", {}, "New rollout"), form, status);
}

async function rolloutPage(id) {
  const r = await api("GET", "/v1/admin/rollouts/" + id);
  const status = h("div", { id: "action-status" });
  const act = async (action) => {
    if (action === "rollback") {
      const touched = r.waves.filter((w) => w.open).reduce((n, w) => n + w.devices, 0);
      const ok = await confirmAction("Roll back rollout #" + r.id + "?",
        `Every device the rollout reached (${touched} in ${r.openWaves} open wave${r.openWaves === 1 ? "" : "s"}) goes back to ` +
        `${r.artifact} version ${r.previousVersion}, switching to the kept slot without downloading. A rollback is final.`,
        "Roll back to v" + r.previousVersion);
      if (!ok) return;
    }
    try {
      await api("POST", `/v1/admin/rollouts/${r.id}/${action}`);
      await rolloutPage(id);
    } catch (e) { status.replaceChildren(errorBox(e)); }
  };
  const s = r.status;
  const allOpen = r.openWaves >= r.waves.length;
  const buttons = [
    ["start", "Start", s === "draft"],
    ["promote", allOpen ? "Promote (every wave is open)" : "Promote: open wave " + (r.openWaves + 1),
      (s === "running" || s === "paused") && !allOpen],
    ["pause", "Pause", s === "running"],
    ["resume", "Resume", s === "paused"],
    ["rollback", "Roll back…", s === "running" || s === "paused" || s === "completed"],
  ].map(([action, label, enabled]) => h("button", {
    class: action === "rollback" ? "danger" : action === "pause" ? "quiet" : "",
    "data-action": action, disabled: !enabled, onclick: () => act(action),
  }, label));
  const waves = r.waves.map((w) => {
    const pct = (n) => (w.devices ? (100 * n / w.devices) : 0) + "%";
    return h("div", { class: "wave", "data-wave": w.wave },
      h("div", {}, "Wave " + w.wave, h("div", { class: "muted" }, "up to " + w.percent + "%")),
      h("div", { class: "bar" + (w.open ? "" : " closed"), title: w.open ? "open" : "not open yet" },
        h("span", { class: "healthy", style: "width:" + pct(w.healthy) }), h("span", { class: "failed", style: "width:" + pct(w.failed) })),
      h("div", { class: "counts" }, `${w.healthy} healthy · ${w.failed} failed · ${w.pending} pending of ${w.devices}`));
  });
  const p = r.policy;
  main.replaceChildren(
    h("p", {}, h("a", { href: "#/rollouts" }, "← Rollouts")),
    h("h1", {}, `Rollout #${r.id}: ${r.artifact} v${r.previousVersion} → v${r.version} `, h("span", { id: "rollout-status" }, badge(s))),
    r.reason ? h("p", { class: s === "paused" ? "error" : "notice", id: "rollout-reason" }, r.reason) : "",
    h("p", { class: "muted" }, `Scopes ${r.scopes.join(", ")} · a wave is healthy at ${p.successHealthyShare * 100}% healthy reports` +
      ` · pauses itself above ${p.errorFailureShare * 100}% failures (after ${p.errorMinReports} reports) · ` +
      (p.autoPromoteAfter ? "promotes itself after a healthy soak of " + p.autoPromoteAfter.replace("PT", "").toLowerCase() : "operators promote")),
    h("div", { class: "toolbar" }, buttons), status,
    h("h2", {}, "Waves"), h("div", { id: "waves" }, waves),
    h("h2", {}, "Audit trail"),
    h("table", { id: "events" }, h("thead", {}, h("tr", {}, h("th", {}, "When"), h("th", {}, "Who"), h("th", {}, "What"),
      h("th", {}, "Then"), h("th", {}, "Detail"))),
    h("tbody", {}, r.events.map((e) => h("tr", {}, h("td", {}, new Date(e.at).toLocaleString()), h("td", {}, e.actor),
      h("td", {}, e.action), h("td", {}, e.status + " · " + e.openWaves + " open"), h("td", {}, e.detail))))));
  // Watch the waves fill while the rollout moves.
  if (s === "running" || s === "paused") refreshTimer = setTimeout(() => guarded(() => rolloutPage(id)), 3000);
}

async function artifactsPage() {
  const { versions, desired } = await api("GET", "/v1/admin/artifacts");
  const byName = new Map();
  for (const v of versions) {
    if (!byName.has(v.artifact)) byName.set(v.artifact, []);
    byName.get(v.artifact).push(v);
  }
  const sections = [...byName.entries()].map(([name, vs]) => {
    const want = desired.find((d) => d.artifact === name);
    const stored = vs.reduce((n, v) => n + v.newStoredBytes, 0);
    const logical = vs.reduce((n, v) => n + v.storedBytes, 0);
    return h("section", { "data-artifact": name },
      h("h2", {}, name),
      h("p", { class: "muted" }, `${vs.length} version${vs.length === 1 ? "" : "s"} · ${bytes(stored)} stored for ` +
        `${bytes(logical)} of compressed chunks (${logical ? Math.round(100 * (1 - stored / logical)) : 0}% saved by dedup)` +
        (want ? ` · desired v${want.version}${want.rollback ? " (rollback)" : ""}` : "")),
      h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Version"), h("th", { class: "num" }, "Size"),
        h("th", { class: "num" }, "Chunks"), h("th", { class: "num" }, "Compressed"), h("th", { class: "num" }, "New bytes stored"),
        h("th", { class: "num" }, "Dedup saved"), h("th", {}, "Published"))),
      h("tbody", {}, vs.sort((a, b) => b.version - a.version).map((v) => h("tr", { "data-version": v.version },
        h("td", {}, "v" + v.version, want && want.version === v.version ? [" ", badge("desired", "ok")] : ""),
        h("td", { class: "num" }, bytes(v.sizeBytes)), h("td", { class: "num" }, v.chunks),
        h("td", { class: "num" }, bytes(v.storedBytes)), h("td", { class: "num" }, bytes(v.newStoredBytes)),
        h("td", { class: "num" }, bytes(v.dedupSavedBytes) + (v.storedBytes ? ` (${Math.round(100 * v.dedupSavedBytes / v.storedBytes)}%)` : "")),
        h("td", {}, ago(v.createdAt), " by " + v.createdBy))))));
  });
  main.replaceChildren(h("h1", {}, "Artifacts"),
    ...(sections.length ? sections : [h("p", { class: "muted" }, "No artifact uploaded yet.")]));
}

// ---- routing --------------------------------------------------------------------------------------------------------

async function guarded(render) {
  try { await render(); } catch (e) {
    if (e instanceof ApiError && (e.status === 401 || e.status === 403)) {
      session.clear();
      route();
      document.querySelector("main form")?.before(h("p", { class: "error", role: "alert" }, "Signed out: " + e.message));
      return;
    }
    main.replaceChildren(errorBox(e));
  }
}

// ---- data: the field's rows, read and corrected at the office -------------------------------------------------------

function cellText(v) {
  if (v === null || v === undefined) return "";
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}

async function dataPage() {
  const info = await api("GET", "/v1/admin/data");
  const tables = Object.keys(info.schema.tables);
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  const table = tables.includes(params.get("table")) ? params.get("table") : tables[0];
  const scopeColumn = info.schema.scope;
  const fields = [scopeColumn, ...Object.keys(info.schema.tables[table].columns)];
  const filters = [...params.entries()].filter(([k]) => k !== "table" && k !== "after");
  const query = new URLSearchParams(filters);
  query.set("limit", "100");
  if (params.get("after")) query.set("after", params.get("after"));
  const rows = await api("GET", `/v1/admin/data/${table}?${query}`);

  const pick = h("select", { "aria-label": "Table", onchange: () => { location.hash = "#/data?table=" + pick.value; } },
    ...tables.map((t) => h("option", { value: t, selected: t === table }, t)));
  const field = h("select", { "aria-label": "Filter field" }, ...fields.map((f) => h("option", { value: f }, f)));
  const value = h("input", { type: "text", "aria-label": "Filter value", placeholder: "value" });
  const go = (extra) => {
    const q = new URLSearchParams(filters);
    for (const [k, v] of extra) q.set(k, v);
    location.hash = "#/data?table=" + table + (q.toString() ? "&" + q : "");
  };
  const filterForm = h("form", { class: "toolbar", onsubmit: (ev) => { ev.preventDefault(); if (value.value) go([[field.value, value.value]]); } },
    pick, field, value, h("button", { type: "submit" }, "Filter"),
    filters.length ? h("a", { href: "#/data?table=" + table }, "clear filters (" + filters.map(([k, v]) => k + "=" + v).join(", ") + ")") : "",
    h("button", { type: "button", class: "quiet", id: "export-csv", onclick: async () => {
      const res = await fetch(`/v1/admin/data/${table}?${query}`, { headers: { Authorization: "Bearer " + session.token, Accept: "text/csv" } });
      if (!res.ok) throw new ApiError(res.status, await res.json());
      const link = h("a", { href: URL.createObjectURL(await res.blob()), download: table + ".csv" });
      document.body.append(link);
      link.click();
      link.remove();
    } }, "Export CSV"));
  const columns = ["id", ...fields, "_conflicts"];
  const body = h("tbody", {}, ...rows.map((r) => h("tr", { "data-id": r.id },
    ...columns.map((c) => h("td", c === "_conflicts" && r[c] > 0 ? { class: "warn" } : {},
      c === "id" ? h("a", { href: `#/data/${table}/${encodeURIComponent(r.id)}` }, r.id) : cellText(r[c]))))));
  const more = rows.length === 100
    ? h("a", { href: "#/data?" + new URLSearchParams([["table", table], ...filters, ["after", rows[rows.length - 1].id]]) }, "next page")
    : "";
  main.replaceChildren(h("h1", {}, "Data"), filterForm,
    rows.length ? h("table", { id: "data", "data-table": table }, h("thead", {}, h("tr", {}, ...columns.map((c) => h("th", {}, c)))), body)
      : h("p", { class: "muted", id: "no-rows", "data-table": table }, "No rows."),
    more);
}

async function dataRowPage(table, id) {
  const row = await api("GET", `/v1/admin/data/${table}/${encodeURIComponent(id)}`);
  const status = h("div");
  const fieldRows = Object.entries(row.fields).map(([name, f]) => {
    const input = h("input", { type: "text", "aria-label": "New value of " + name, placeholder: "JSON value, e.g. \"text\" or 12" });
    const save = h("button", { type: "button", class: "quiet", onclick: async () => {
      let parsed;
      try { parsed = JSON.parse(input.value); } catch { parsed = input.value; }
      try {
        await api("PATCH", `/v1/admin/data/${table}/${encodeURIComponent(id)}`, { [name]: parsed });
        await dataRowPage(table, id);
      } catch (e) { status.replaceChildren(errorBox(e)); }
    } }, "Save");
    return h("tr", { "data-field": name },
      h("th", {}, name),
      h("td", { class: "value" }, cellText(f.value)),
      h("td", { class: "device" }, f.device || ""),
      h("td", { class: "muted" }, f.clock || ""),
      h("td", {}, input, " ", save));
  });
  const conflicts = row.conflicts.length
    ? h("section", { id: "row-conflicts" }, h("h2", {}, "Open conflicts"),
        ...row.conflicts.map((c) => h("p", {}, badge(c.kind, "warn"), " ", c.field || "row", ": ",
          c.candidates.map((k) => cellText(k.value) + " (" + String(k.clock || "").split(":").pop() + ")").join(" vs "), " · ",
          h("a", { href: "#/conflicts?scope=" + encodeURIComponent(row[Object.keys(row)[2]]) }, "settle"))))
    : "";
  main.replaceChildren(
    h("h1", {}, table + " / " + id),
    h("p", { class: "muted" }, h("a", { href: "#/data?table=" + table }, "← " + table), " · scope ", row[Object.keys(row)[2]]),
    h("table", { id: "row" }, h("thead", {}, h("tr", {}, ...["field", "value", "device", "clock", "edit (syncs to the devices)"].map((c) => h("th", {}, c)))),
      h("tbody", {}, ...fieldRows)),
    status, conflicts);
}

async function auditPage() {
  const events = await api("GET", "/v1/admin/audit?limit=200");
  main.replaceChildren(
    h("h1", {}, "Audit trail"),
    h("p", { class: "muted" }, "Every change made through the admin API, by the operator whose credential made it."),
    h("table", { id: "audit" },
      h("thead", {}, h("tr", {}, h("th", {}, "When"), h("th", {}, "Who"), h("th", {}, "Signed in with"),
        h("th", {}, "What"), h("th", {}, "Answer"))),
      h("tbody", {}, events.map((e) => h("tr", { "data-actor": e.actor },
        h("td", {}, new Date(e.at).toLocaleString()), h("td", {}, e.actor), h("td", {}, e.via),
        h("td", {}, e.method + " " + e.path), h("td", { class: "num" }, e.status))))));
}

function route() {
  clearTimeout(refreshTimer);
  const signedIn = Boolean(session.token);
  document.getElementById("nav").hidden = !signedIn;
  document.getElementById("logout").hidden = !signedIn;
  const who = session.who;
  document.getElementById("who").textContent = signedIn && who
    ? `signed in as ${who.name} (${who.role}${who.scopes.length ? " of " + who.scopes.join(", ") : ""})` : "";
  if (!signedIn) return login();
  const [page, arg] = location.hash.replace(/^#\//, "").split("?")[0].split("/");
  document.querySelectorAll("#nav a").forEach((a) => a.classList.toggle("active", a.dataset.page === (page || "fleet")));
  const rest = location.hash.replace(/^#\//, "").split("?")[0].split("/");
  const pages = { fleet: fleetPage, conflicts: conflictsPage, rollouts: arg ? () => rolloutPage(arg) : rolloutsPage, artifacts: artifactsPage,
    data: arg ? () => dataRowPage(arg, decodeURIComponent(rest[2] || "")) : dataPage, audit: auditPage };
  guarded(pages[page] || fleetPage);
}

document.getElementById("logout").addEventListener("click", () => { session.clear(); location.hash = ""; route(); });
window.addEventListener("hashchange", route);
route();
