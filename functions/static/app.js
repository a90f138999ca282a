// The agents dashboard: signs in with an API key or JWT and calls the API's own routes with it, so
// it shows exactly what that credential may see. The credential lives in this module's variable
// only (never in storage or a cookie). Values go through textContent only: the page's CSP enforces
// Trusted Types. The current view refreshes itself every two seconds.

import { bars, lines } from "./charts.js";

const BASE = new URL("../", location.href); // the API's root: this page is served at <root>/ui/
let credential = null; // the only copy; gone with the tab
let refresh = null;
let busy = false;
const view = { agent: null, tab: "tasks", task: null, minutes: 60, cursors: { agents: [null], tasks: [null], deliveries: [null] }, pages: { agents: 0, tasks: 0, deliveries: 0 } };

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

async function api(path) {
  const response = await fetch(new URL(path, BASE), {
    headers: { authorization: `Bearer ${credential}` }, cache: "no-store", credentials: "omit", redirect: "error",
  });
  const data = await response.json().catch(() => null);
  if (response.status === 401) { signOut((data && data.error && data.error.message) || "signed out"); throw new Error("signed out"); }
  if (!response.ok) throw new Error((data && data.error && data.error.message) || `HTTP ${response.status}`);
  return data;
}

const main = () => document.getElementById("main");
const mount = (...nodes) => main().replaceChildren(...nodes);
const table = (heads, rows) => h("table", {}, h("thead", {}, h("tr", {}, heads.map((x) => h("th", {}, x)))), h("tbody", {}, rows));
const time = (iso) => (iso ? new Date(iso).toLocaleString() : "–");
const ms = (v) => (v === null || v === undefined ? "–" : v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${Number(v).toFixed(1)} ms`);
const pct = (v) => (v === null || v === undefined ? "–" : `${(v * 100).toFixed(1)} %`);
const status = (s) => h("span", { class: s }, s);
const json = (v) => (typeof v === "string" ? v : JSON.stringify(v, null, 2));
const enc = encodeURIComponent;

function pager(kind, cursor, go) {
  return h("div", { class: "row" }, h("span", { class: "muted" }, `page ${view.pages[kind] + 1}`),
    h("button", { disabled: view.pages[kind] === 0, onclick: () => { view.pages[kind] -= 1; go(); } }, "Newer"),
    h("button", { disabled: !cursor, onclick: () => { view.cursors[kind][view.pages[kind] + 1] = cursor; view.pages[kind] += 1; go(); } }, "Older"));
}
const page = (kind) => view.cursors[kind][view.pages[kind]];
const withCursor = (path, kind) => (page(kind) ? `${path}&cursor=${enc(page(kind))}` : path);

// ---- views -------------------------------------------------------------------------------

async function agents() {
  const data = await api(withCursor("agents?limit=20", "agents"));
  const rows = data.items.map((a) => h("tr", { class: "clickable", "data-agent": a.agent_id, onclick: () => { location.hash = `#agents/${a.agent_id}`; } },
    h("td", {}, a.name), h("td", { class: "mono" }, a.agent_id), h("td", {}, a.model.backend === "openai" ? a.model.name : a.model.backend),
    h("td", {}, (a.tools || []).join(", ") || "–"), h("td", {}, time(a.created_at))));
  mount(h("h2", {}, "Agents"), h("div", { class: "panel" }, rows.length ? table(["name", "id", "model", "tools", "created"], rows) : h("p", { class: "muted" }, "No agents in this tenant."),
    pager("agents", data.next_cursor, tick)));
}

async function agent() {
  const a = await api(`agents/${enc(view.agent)}`);
  const tabs = h("div", { class: "row tabs" }, ["tasks", "webhooks", "metrics"].map((t) => h("button", { class: view.tab === t ? "active" : "", "data-tab": t, onclick: () => { location.hash = `#agents/${view.agent}/${t}`; } }, t)));
  const body = view.task ? await taskView() : await { tasks: tasksTab, webhooks: webhooksTab, metrics: metricsTab }[view.tab]();
  mount(h("p", {}, h("a", { href: "#agents" }, "Agents"), " / ", a.name), h("h2", {}, a.name, " ", h("span", { class: "muted mono" }, a.agent_id)),
    h("p", { class: "muted" }, a.description || ""), tabs, body);
}

async function tasksTab() {
  const data = await api(withCursor(`agents/${enc(view.agent)}/tasks?limit=20`, "tasks"));
  const rows = data.items.map((t) => h("tr", { class: "clickable", "data-task": t.task_id, "data-status": t.status, onclick: () => { location.hash = `#agents/${view.agent}/tasks/${t.task_id}`; } },
    h("td", { class: "mono" }, t.task_id), h("td", {}, status(t.status)), h("td", {}, t.input.slice(0, 80)), h("td", {}, t.step_count),
    h("td", {}, t.attempts), h("td", {}, time(t.created_at)), h("td", {}, time(t.finished_at))));
  return h("div", { class: "panel" }, rows.length ? table(["task", "status", "input", "steps", "attempts", "created", "finished"], rows) : h("p", { class: "muted" }, "No tasks yet."),
    pager("tasks", data.next_cursor, tick));
}

async function taskView() {
  const t = await api(`agents/${enc(view.agent)}/tasks/${enc(view.task)}`);
  const steps = t.steps.map((s) => h("tr", { "data-step": s.n, "data-type": s.type },
    h("td", {}, s.n), h("td", {}, s.type === "model" ? "model call" : `tool call: ${s.tool}`), h("td", {}, time(s.at)), h("td", {}, ms(s.duration_ms)),
    h("td", {}, s.type === "model"
      ? [s.content ? h("pre", {}, s.content) : null, (s.tool_calls || []).length ? h("div", { class: "muted" }, `asks for: ${s.tool_calls.map((c) => `${c.name}(${JSON.stringify(c.arguments)})`).join(", ")}`) : null]
      : [h("div", { class: "mono" }, JSON.stringify(s.arguments)), h("pre", { class: s.error ? "error" : "" }, json(s.error !== undefined ? s.error : s.result))])));
  return h("div", { class: "panel", id: "task" },
    h("p", {}, h("a", { href: `#agents/${view.agent}/tasks` }, "← tasks")),
    h("h3", {}, "Task ", h("span", { class: "mono" }, t.task_id), " ", status(t.status)),
    h("div", { class: "cards" }, card("attempts", t.attempts), card("steps", t.step_count), card("created", time(t.created_at)), card("finished", time(t.finished_at))),
    h("h3", {}, "Input"), h("pre", {}, t.input),
    t.output !== null ? [h("h3", {}, "Output"), h("pre", { id: "task-output" }, t.output)] : null,
    t.error ? [h("h3", {}, "Error"), h("pre", { class: "error" }, json(t.error))] : null,
    h("h3", {}, `Steps (${t.steps.length})`),
    steps.length ? table(["#", "step", "at", "took", "detail"], steps) : h("p", { class: "muted" }, "No steps yet."));
}

function card(label, value) { return h("div", { class: "card" }, h("span", { class: "muted" }, label), h("b", {}, value)); }

async function webhooksTab() {
  const [hooks, deliveries] = await Promise.all([api(`agents/${enc(view.agent)}/webhooks?limit=100`), api(withCursor(`agents/${enc(view.agent)}/deliveries?limit=20`, "deliveries"))]);
  return h("div", {},
    h("div", { class: "panel" }, h("h3", {}, "Webhooks"), hooks.items.length ? table(["id", "url", "events", "created"], hooks.items.map((w) => h("tr", {},
      h("td", { class: "mono" }, w.webhook_id), h("td", { class: "mono" }, w.url), h("td", {}, (w.events || ["*"]).join(", ")), h("td", {}, time(w.created_at))))) : h("p", { class: "muted" }, "No webhooks.")),
    h("div", { class: "panel", id: "deliveries" }, h("h3", {}, "Deliveries"), deliveries.items.length ? table(["at", "event", "webhook", "attempt", "result", "took"], deliveries.items.map((d) => h("tr", { "data-ok": String(d.ok) },
      h("td", {}, time(d.at)), h("td", {}, d.event_type, h("div", { class: "muted mono" }, d.event_id)), h("td", { class: "mono" }, d.webhook_id), h("td", {}, d.attempt),
      h("td", { class: d.ok ? "ok" : "error" }, d.ok ? `${d.status}` : d.error || `${d.status}`), h("td", {}, ms(d.duration_ms))))) : h("p", { class: "muted" }, "No deliveries yet."),
    pager("deliveries", deliveries.next_cursor, tick)));
}

async function metricsTab() {
  const m = await api(`agents/${enc(view.agent)}/metrics?minutes=${view.minutes}`);
  const pick = h("select", { id: "window", "aria-label": "window", onchange: (e) => { view.minutes = Number(e.target.value); tick(); } },
    [15, 60, 180, 1440].map((n) => h("option", { value: n, selected: n === view.minutes }, n < 60 ? `last ${n} minutes` : `last ${n / 60} hours`)));
  const t = m.totals;
  const failed = (p, k) => (k === "failed" ? p.failed + p.timed_out : p[k]);
  return h("div", { id: "metrics" },
    h("div", { class: "row" }, pick, m.truncated ? h("span", { class: "muted" }, "(the newest tasks are left out: too many)") : null),
    h("div", { class: "cards" }, card("tasks", t.tasks), card("tasks / minute", t.tasks_per_minute), card("p50 run time", ms(t.p50_ms)), card("p95 run time", ms(t.p95_ms)), card("failure rate", pct(t.failure_rate))),
    h("div", { class: "grid" },
      h("div", { class: "panel" }, h("h3", {}, "Tasks per minute"), bars("tasks per minute", m.series, ["succeeded", "failed", "unfinished"], failed),
        h("div", { class: "legend" }, h("span", { class: "k-succeeded" }, "succeeded"), h("span", { class: "k-failed" }, "failed or timed out"), h("span", { class: "k-unfinished" }, "unfinished"))),
      h("div", { class: "panel" }, h("h3", {}, "Run time p50 / p95"), lines("run time", m.series, ["p50_ms", "p95_ms"], ms),
        h("div", { class: "legend" }, h("span", { class: "k-p50" }, "p50"), h("span", { class: "k-p95" }, "p95"))),
      h("div", { class: "panel" }, h("h3", {}, "Failure rate"), lines("failure rate", m.series.map((p) => ({ ...p, failure: p.failure_rate })), ["failure"], pct, 1),
        h("div", { class: "legend" }, h("span", { class: "k-failure" }, "failed or timed out, of finished")))));
}

// ---- routing, refresh, sign-in -----------------------------------------------------------

function route() {
  const [name, id, tab, taskId] = (location.hash || "#agents").slice(1).split("/");
  if (name === "agents" && id) {
    if (view.agent !== id) { view.cursors.tasks = [null]; view.cursors.deliveries = [null]; view.pages.tasks = 0; view.pages.deliveries = 0; }
    view.agent = id; view.tab = tab || "tasks"; view.task = tab === "tasks" && taskId ? taskId : null;
    refresh = agent;
  } else {
    view.agent = null; view.task = null; refresh = agents;
  }
  tick();
}

async function tick() {
  if (busy || !credential || !refresh) return;
  busy = true;
  try {
    await refresh();
  } catch (err) { // the API's own answer, e.g. a permission this credential lacks
    if (credential) mount(h("h2", {}, "Cannot show this"), h("p", { class: "error", id: "view-error" }, err.message), h("p", {}, h("a", { href: "#agents" }, "Back to agents")));
  } finally { busy = false; }
}

function signOut(message) {
  credential = null;
  document.getElementById("nav").hidden = true;
  document.getElementById("sign-out").hidden = true;
  document.getElementById("who").textContent = "";
  location.reload(); // nothing of the session survives a reload
  if (message) console.info(message);
}

async function signIn(event) {
  event.preventDefault();
  const form = event.target;
  const box = form.elements.credential;
  credential = box.value.trim();
  box.value = "";
  try {
    const me = await fetch(new URL("me", BASE), { headers: { authorization: `Bearer ${credential}` }, credentials: "omit", cache: "no-store" });
    const data = await me.json();
    if (!me.ok) throw new Error(data.error ? data.error.message : `HTTP ${me.status}`);
    document.getElementById("who").textContent = `${data.subject} · tenant ${data.tenant_id} · ${data.permissions.join(" ")}`;
  } catch (err) {
    credential = null;
    document.getElementById("sign-in-error").textContent = err.message;
    return;
  }
  document.getElementById("nav").hidden = false;
  document.getElementById("sign-out").hidden = false;
  window.addEventListener("hashchange", route);
  route();
  setInterval(() => { if (!document.hidden) tick(); }, 2000);
}

document.getElementById("sign-in").addEventListener("submit", signIn);
document.getElementById("sign-out").addEventListener("click", () => signOut());
