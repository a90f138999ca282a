// The omnicloud dev console: plain DOM, no build step. Every value shown goes through textContent
// (the page's Content-Security-Policy enforces Trusted Types, so no string ever becomes markup).
// Lists are paged by the server; the current view refreshes itself every second.

const API = "../api/";
let session = { csrf: null, app: "" };
let refresh = null; // the current view's refresh function
let timer = null;

// ---- helpers -------------------------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

const SVG = "http://www.w3.org/2000/svg";
function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

async function api(path, { method = "GET", body } = {}) {
  const headers = {};
  if (method !== "GET") headers["x-omnicloud-csrf"] = session.csrf || "";
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(API + path, {
    method, headers, credentials: "same-origin", cache: "no-store",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw new Error((data && data.error && data.error.message) || `HTTP ${response.status}`);
  return data;
}

function toast(message, bad = false) {
  const box = document.getElementById("toast");
  const item = h("div", { class: bad ? "bad" : "" }, message);
  box.append(item);
  setTimeout(() => item.remove(), bad ? 8000 : 3500);
}

async function act(what, fn) {
  try {
    const result = await fn();
    if (what) toast(what);
    await tick();
    return result;
  } catch (err) {
    toast(err.message, true);
    return undefined;
  }
}

const q = (params) => new URLSearchParams(Object.entries(params).filter(([, v]) => v !== null && v !== undefined && v !== "")).toString();
const when = (ts) => (ts ? new Date(typeof ts === "number" ? ts * 1000 : ts).toLocaleTimeString() : "–");
const ms = (v) => (v === null || v === undefined ? "–" : `${Number(v).toFixed(v < 10 ? 2 : 0)} ms`);
const pretty = (v) => (typeof v === "string" ? v : JSON.stringify(v, null, 2));
function parseJson(text, what) {
  try { return text.trim() ? JSON.parse(text) : {}; } catch { throw new Error(`${what} is not valid JSON`); }
}
function outcome(value) { return h("span", { class: value === "ok" ? "ok" : "error" }, value); }

function table(headers, rows) {
  return h("table", {}, h("thead", {}, h("tr", {}, headers.map((x) => h("th", {}, x)))), h("tbody", {}, rows));
}

// ---- views ---------------------------------------------------------------------------------

const views = { overview, functions, queues, tables, schedules, secrets };
const state = { fn: null, invocation: null, queue: null, dlq: true, message: null, tbl: null, pk: null, item: null };

function mount(...children) {
  document.getElementById("main").replaceChildren(...children);
}

// Overview: triggers -> functions -> linked resources (with verbs), live counts.
async function overview() {
  const data = await api("overview");
  const triggers = data.functions.map((f) => ({ id: `t:${f.name}`, label: `${f.trigger.kind} ${f.trigger.source}`, fn: f.name }));
  const resources = data.resources;
  const rowH = 54, boxH = 40;
  const height = Math.max(triggers.length, resources.length) * rowH + 30;
  const cols = [20, 280, 600], widths = [210, 250, 240];
  const pos = {};
  const svg = s("svg", { class: "graph", width: 1300, height, viewBox: `0 0 1300 ${height}`, role: "img", "aria-label": "app graph" });
  const place = (id, col, i, count) => {
    const y = 15 + i * rowH + (Math.max(triggers.length, resources.length) - count) * rowH / 2;
    pos[id] = { x: cols[col], y, w: widths[col] };
    return pos[id];
  };
  triggers.forEach((t, i) => place(t.id, 0, i, triggers.length));
  data.functions.forEach((f, i) => place(`f:${f.name}`, 1, i, data.functions.length));
  resources.forEach((r, i) => place(`r:${r.kind}:${r.name}`, 2, i, resources.length));
  const edges = s("g"), linksOf = {}; // resource -> "function: verbs" of each link to it
  const edge = (a, b, cls, label) => {
    const p = pos[a], r = pos[b];
    if (!p || !r) return;
    const x1 = p.x + p.w, y1 = p.y + boxH / 2, x2 = r.x, y2 = r.y + boxH / 2, mx = (x1 + x2) / 2;
    edges.append(s("path", { class: `edge ${cls}`, d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}` }));
    if (label) (linksOf[b] = linksOf[b] || []).push(label);
  };
  for (const f of data.functions) {
    edge(`t:${f.name}`, `f:${f.name}`, "trigger");
    for (const [res, verbs] of Object.entries(f.links)) {
      const target = resources.find((r) => r.name === res);
      if (target) edge(`f:${f.name}`, `r:${target.kind}:${target.name}`, "", `${f.name}: ${verbs.join(", ")}`);
    }
  }
  svg.append(edges);
  for (const [id, links] of Object.entries(linksOf)) {
    const p = pos[id];
    svg.append(s("text", { class: "verbs", x: p.x + p.w + 10, y: p.y + boxH / 2 + 4 }, links.join(" · ")));
  }
  const node = (id, cls, title, sub, bad) => {
    const p = pos[id];
    return s("g", { class: `node ${cls}`, "data-node": id },
      s("rect", { x: p.x, y: p.y, width: p.w, height: boxH }),
      s("text", { x: p.x + 10, y: p.y + 16 }, title),
      s("text", { class: `count${bad ? " bad" : ""}`, x: p.x + 10, y: p.y + 32 }, sub));
  };
  triggers.forEach((t) => svg.append(node(t.id, "trigger", t.label, `→ ${t.fn}`)));
  for (const f of data.functions) {
    const t = f.totals || { invocations: 0, errors: 0, running: 0 };
    svg.append(node(`f:${f.name}`, "function", f.name, `${t.invocations} invocations · ${t.errors} errors · ${t.running} running`, t.errors > 0));
  }
  for (const r of resources) {
    const sub = r.kind === "secret" ? (r.set ? "secret · set" : "secret · NOT SET")
      : r.kind === "table" ? `table · ${r.count} items`
        : `${r.kind} · ${r.count} waiting · ${r.dead_letters} dead letters`;
    svg.append(node(`r:${r.kind}:${r.name}`, r.kind, r.name, sub, r.dead_letters > 0 || (r.kind === "secret" && !r.set)));
  }
  mount(h("h2", {}, `App ${data.app}`), h("p", { class: "muted" }, "Triggers, functions and the resources each is linked to (with its verbs). Counts are live."), h("div", { class: "panel" }, svg));
}

// Functions: recent invocations (live), one invocation's error, traceback and log lines; invoke.
let invocationRows = [];
async function functions() {
  const fnName = state.fn;
  const [overviewData, page] = await Promise.all([api("overview"), api(`invocations?${q({ function: fnName, limit: 100 })}`)]);
  invocationRows = page.items;
  const list = table(["function", "trigger", "invocations", "errors", "running"], overviewData.functions.map((f) => {
    const t = f.totals || { invocations: 0, errors: 0, running: 0 };
    return h("tr", { class: `clickable${f.name === fnName ? " selected" : ""}`, "data-function": f.name, onclick: () => { state.fn = f.name === fnName ? null : f.name; state.invocation = null; tick(); } },
      h("td", {}, f.name), h("td", {}, `${f.trigger.kind} ${f.trigger.source}`), h("td", {}, t.invocations),
      h("td", { class: t.errors ? "error" : "" }, t.errors), h("td", {}, t.running));
  }));
  const rows = page.items.map((inv) => h("tr", { class: `clickable${state.invocation === inv.seq ? " selected" : ""}`, "data-seq": inv.seq, "data-outcome": inv.outcome, onclick: () => { state.invocation = inv.seq; tick(); } },
    h("td", {}, when(inv.ended_at)), h("td", {}, inv.function), h("td", {}, inv.trigger), h("td", {}, outcome(inv.outcome)),
    h("td", {}, ms(inv.duration_ms)), h("td", { class: "mono" }, (inv.correlation_id || "").slice(0, 12)),
    h("td", { class: "mono" }, inv.error || Object.entries(inv.details).map(([k, v]) => `${k}=${v}`).join(" "))));
  const history = h("div", { class: "panel" }, h("h3", {}, fnName ? `Recent invocations of ${fnName}` : "Recent invocations"),
    rows.length ? table(["ended", "function", "trigger", "outcome", "duration", "correlation", "details"], rows) : h("p", { class: "muted" }, "None yet."));
  const detail = state.invocation ? await invocationDetail(state.invocation) : null;
  const left = [h("div", { class: "panel" }, h("h3", {}, "Functions"), list)];
  if (fnName) left.push(invokeForm(overviewData.functions.find((f) => f.name === fnName)));
  mount(h("h2", {}, "Functions"), h("div", { class: "split" }, h("div", {}, left), h("div", {}, detail, history)));
}

async function invocationDetail(seq) {
  let inv;
  try { inv = await api(`invocations/${seq}`); } catch { return null; }
  return h("div", { class: "panel", id: "invocation" },
    h("h3", {}, `Invocation ${inv.invocation_id}`),
    h("dl", { class: "kv" },
      h("dt", {}, "function"), h("dd", {}, inv.function), h("dt", {}, "trigger"), h("dd", {}, inv.trigger),
      h("dt", {}, "outcome"), h("dd", {}, outcome(inv.outcome)), h("dt", {}, "duration"), h("dd", {}, ms(inv.duration_ms)),
      h("dt", {}, "correlation id"), h("dd", { class: "mono" }, inv.correlation_id),
      ...Object.entries(inv.details).flatMap(([k, v]) => [h("dt", {}, k), h("dd", { class: "mono" }, v)])),
    inv.error ? [h("h3", {}, "Error"), h("pre", { class: "error-text" }, inv.error)] : null,
    inv.traceback ? [h("h3", {}, "Traceback"), h("pre", {}, inv.traceback)] : null,
    h("h3", {}, `Log lines (${inv.lines.length})`),
    inv.lines.length ? h("table", { class: "lines" }, h("tbody", {}, inv.lines.map((l) => h("tr", {},
      h("td", {}, when(l.ts)), h("td", { class: l.level === "error" ? "error" : "" }, l.level), h("td", { class: "mono" }, l.logger),
      h("td", {}, l.message, l.fields ? h("div", { class: "mono muted" }, JSON.stringify(l.fields)) : null,
        l.exception ? h("pre", {}, l.exception) : null))))) : h("p", { class: "muted" }, "This invocation logged nothing else."));
}

const EVENT_EXAMPLES = {
  http: { method: "GET", path: "/health" },
  queue: { body: { hello: "world" }, attributes: {} },
  topic: { body: { hello: "world" }, attributes: { type: "test" } },
  schedule: {},
};
const invokeDrafts = {};
function invokeForm(fn) {
  const area = h("textarea", { id: "event", "aria-label": "event JSON" });
  area.value = invokeDrafts[fn.name] ?? pretty(EVENT_EXAMPLES[fn.trigger.kind]);
  area.addEventListener("input", () => { invokeDrafts[fn.name] = area.value; });
  const result = h("div", { id: "invoke-result" });
  const run = async () => {
    const outcomeData = await act(null, () => api(`functions/${encodeURIComponent(fn.name)}/invoke`, { method: "POST", body: { event: parseJson(area.value, "the event") } }));
    if (outcomeData) result.replaceChildren(h("pre", {}, pretty(outcomeData)));
  };
  return h("div", { class: "panel" }, h("h3", {}, `Invoke ${fn.name}`),
    h("p", { class: "muted" }, `A ${fn.trigger.kind} event, as for omnicloud invoke.`), area,
    h("div", { class: "row" }, h("button", { class: "primary", onclick: run }, "Invoke")), result);
}

// Queues and topics.
async function queues() {
  const data = await api("queues");
  const rows = data.queues.map((x) => h("tr", { class: `clickable${state.queue === x.name ? " selected" : ""}`, "data-queue": x.name, onclick: () => { state.queue = x.name; state.message = null; tick(); } },
    h("td", {}, x.name), h("td", {}, x.kind === "subscription" ? `subscription of ${x.topic}` : "queue"), h("td", {}, x.consumer || "–"),
    h("td", {}, x.ready), h("td", {}, x.in_flight), h("td", {}, x.delayed),
    h("td", {}, h("span", { class: `badge${x.dead_letters ? " hot" : ""}`, "data-dead-letters": x.dead_letters }, x.dead_letters))));
  const selected = data.queues.find((x) => x.name === state.queue);
  const right = selected ? await queuePanel(selected) : h("p", { class: "muted" }, "Pick a queue to read its messages and dead letters.");
  const topicsPanel = h("div", { class: "panel" }, h("h3", {}, "Topics"), ...data.topics.map((t) => publishForm(t, data.queues.filter((x) => x.topic === t))));
  mount(h("h2", {}, "Queues and topics"), h("div", { class: "split" },
    h("div", {}, h("div", { class: "panel" }, table(["queue", "kind", "consumer", "ready", "in flight", "delayed", "dead letters"], rows)), topicsPanel),
    right));
}

async function queuePanel(x) {
  const page = await api(`queues/${encodeURIComponent(x.name)}/messages?${q({ dlq: state.dlq ? 1 : "", limit: 50 })}`);
  const tabs = h("div", { class: "row" },
    h("button", { class: state.dlq ? "primary" : "", onclick: () => { state.dlq = true; state.message = null; tick(); } }, `Dead letters (${x.dead_letters})`),
    h("button", { class: state.dlq ? "" : "primary", onclick: () => { state.dlq = false; state.message = null; tick(); } }, `Waiting (${x.ready + x.delayed + x.in_flight})`));
  const actions = h("div", { class: "row" },
    state.dlq ? h("button", { disabled: !page.total, onclick: () => act(`redrove ${page.total} message(s)`, () => api(`queues/${encodeURIComponent(x.name)}/redrive`, { method: "POST", body: { all: true } })) }, "Redrive all") : null,
    h("button", { class: "danger", disabled: !page.total, onclick: () => { if (confirm(`Delete every message of ${page.queue}?`)) act(`purged ${page.queue}`, () => api(`queues/${encodeURIComponent(x.name)}/purge`, { method: "POST", body: { dlq: state.dlq } })); } }, "Purge"));
  const rows = page.items.map((m) => h("tr", { class: `clickable${state.message === m.id ? " selected" : ""}`, "data-message": m.id, onclick: () => { state.message = m.id; tick(); } },
    h("td", { class: "mono" }, m.id.slice(0, 8)), h("td", {}, m.attempts), h("td", {}, when(m.enqueued_at)),
    h("td", { class: "mono" }, m.body.slice(0, 80)), h("td", { class: "error" }, (m.last_error || "").slice(0, 100))));
  const more = page.total > page.items.length ? h("p", { class: "muted" }, `Showing the oldest ${page.items.length} of ${page.total}.`) : null;
  let detail = null;
  if (state.message) {
    try {
      const m = await api(`queues/${encodeURIComponent(x.name)}/messages/${encodeURIComponent(state.message)}?${q({ dlq: state.dlq ? 1 : "" })}`);
      detail = h("div", { id: "message" }, h("h3", {}, `Message ${m.id}`),
        h("dl", { class: "kv" }, h("dt", {}, "queue"), h("dd", {}, m.queue), h("dt", {}, "attempts"), h("dd", {}, m.attempts),
          h("dt", {}, "enqueued"), h("dd", {}, m.enqueued_at), h("dt", {}, "last error"), h("dd", { class: "error" }, m.last_error || "–")),
        h("h3", {}, "Attributes"), h("pre", {}, pretty(m.attributes)), h("h3", {}, "Body"), h("pre", { id: "message-body" }, "json" in m ? pretty(m.json) : m.body),
        state.dlq ? h("div", { class: "row" }, h("button", { class: "primary", onclick: () => act("redriven", async () => { await api(`queues/${encodeURIComponent(x.name)}/redrive`, { method: "POST", body: { message_id: m.id } }); state.message = null; }) }, "Redrive this message")) : null);
    } catch { state.message = null; }
  }
  const send = x.kind === "queue" ? sendForm(x.name) : null;
  return h("div", {}, h("div", { class: "panel", id: "queue-panel" }, h("h3", {}, x.name), tabs, actions,
    rows.length ? table(["id", "attempts", "enqueued", "body", "last error"], rows) : h("p", { class: "muted" }, "Empty."), more, detail), send);
}

const drafts = {};
function draft(key, initial) {
  const area = h("textarea", { "aria-label": key });
  area.value = drafts[key] ?? initial;
  area.addEventListener("input", () => { drafts[key] = area.value; });
  return area;
}

function sendForm(name) {
  const body = draft(`send-body:${name}`, '{"hello": "world"}');
  const attributes = draft(`send-attributes:${name}`, "{}");
  return h("div", { class: "panel" }, h("h3", {}, `Send a test message to ${name}`), h("label", {}, "body (JSON)"), body, h("label", {}, "attributes"), attributes,
    h("div", { class: "row" }, h("button", { class: "primary", onclick: () => act("sent", () => api(`queues/${encodeURIComponent(name)}/send`, { method: "POST", body: { body: parseJson(body.value, "the body"), attributes: parseJson(attributes.value, "the attributes") } })) }, "Send")));
}

const published = {};
function publishForm(topic, subscriptions) {
  const body = draft(`publish-body:${topic}`, '{"hello": "world"}');
  const attributes = draft(`publish-attributes:${topic}`, '{"type": "test"}');
  const result = h("div", {});
  const show = (r) => result.replaceChildren(table(["subscriber", "filter", "delivered"], r.subscriptions.map((sub) => h("tr", { "data-subscriber": sub.subscriber },
    h("td", {}, sub.subscriber), h("td", { class: "mono" }, JSON.stringify(sub.filter)), h("td", { class: sub.delivered ? "ok" : "muted" }, sub.delivered ? "yes" : "filtered out")))));
  if (published[topic]) show(published[topic]);
  const go = async () => {
    const r = await act("published", () => api(`topics/${encodeURIComponent(topic)}/publish`, { method: "POST", body: { body: parseJson(body.value, "the body"), attributes: parseJson(attributes.value, "the attributes") } }));
    if (r) { published[topic] = r; show(r); }
  };
  return h("div", { "data-topic": topic }, h("h3", {}, `${topic} (${subscriptions.length} subscriptions)`), h("label", {}, "body (JSON)"), body, h("label", {}, "attributes"), attributes,
    h("div", { class: "row" }, h("button", { class: "primary", onclick: go }, "Publish")), result);
}

// Tables: partitions (paged), items of one partition by sort-key prefix (paged), one item as JSON.
const tablePages = { partitions: [], after: [], itemsCursor: [null], itemsPage: 0 };
async function tables() {
  const list = await api("tables");
  const rows = list.map((t) => h("tr", { class: `clickable${state.tbl === t.name ? " selected" : ""}`, "data-table": t.name, onclick: () => { state.tbl = t.name; state.pk = null; state.item = null; tablePages.itemsCursor = [null]; tablePages.itemsPage = 0; tick(); } },
    h("td", {}, t.name), h("td", { class: "mono" }, t.partition_key), h("td", { class: "mono" }, t.sort_key || "–"), h("td", {}, t.items)));
  const left = h("div", {}, h("div", { class: "panel" }, table(["table", "partition key", "sort key", "items"], rows)));
  const t = list.find((x) => x.name === state.tbl);
  if (!t) { mount(h("h2", {}, "Tables"), h("div", { class: "split" }, left, h("p", { class: "muted" }, "Pick a table."))); return; }
  const pkPrefix = drafts[`pk-prefix:${t.name}`] || "";
  const parts = await api(`tables/${encodeURIComponent(t.name)}/partitions?${q({ prefix: pkPrefix, after: drafts[`pk-after:${t.name}`], limit: 50 })}`);
  const prefixBox = h("input", { id: "pk-prefix", placeholder: `${t.partition_key} starts with…`, value: pkPrefix });
  prefixBox.addEventListener("change", () => { drafts[`pk-prefix:${t.name}`] = prefixBox.value; drafts[`pk-after:${t.name}`] = ""; tick(); });
  left.append(h("div", { class: "panel" }, h("h3", {}, `Partitions of ${t.name}`), prefixBox,
    table([t.partition_key], parts.items.map((pk) => h("tr", { class: `clickable${state.pk === pk ? " selected" : ""}`, "data-pk": pk, onclick: () => { state.pk = pk; state.item = null; tablePages.itemsCursor = [null]; tablePages.itemsPage = 0; tick(); } }, h("td", { class: "mono" }, pk)))),
    h("div", { class: "row" }, h("button", { disabled: !drafts[`pk-after:${t.name}`], onclick: () => { drafts[`pk-after:${t.name}`] = ""; tick(); } }, "First"),
      h("button", { disabled: !parts.next, onclick: () => { drafts[`pk-after:${t.name}`] = parts.next; tick(); } }, "More partitions"))));
  let right = h("p", { class: "muted" }, "Pick a partition.");
  if (state.pk !== null) {
    const skPrefix = drafts[`sk-prefix:${t.name}`] || "";
    const cursor = tablePages.itemsCursor[tablePages.itemsPage];
    const page = await api(`tables/${encodeURIComponent(t.name)}/items?${q({ pk: state.pk, prefix: skPrefix, cursor, limit: 50 })}`);
    const skBox = h("input", { id: "sk-prefix", placeholder: `${t.sort_key || "sort key"} starts with…`, value: skPrefix, disabled: !t.sort_key });
    skBox.addEventListener("change", () => { drafts[`sk-prefix:${t.name}`] = skBox.value; tablePages.itemsCursor = [null]; tablePages.itemsPage = 0; tick(); });
    const key = (item) => (t.sort_key ? item[t.sort_key] : "");
    const itemRows = page.items.map((item) => h("tr", { class: `clickable${state.item === key(item) ? " selected" : ""}`, "data-sk": key(item), onclick: () => { state.item = key(item); tick(); } },
      h("td", { class: "mono" }, key(item)), h("td", { class: "mono" }, JSON.stringify(item).slice(0, 120))));
    const selectedItem = page.items.find((item) => key(item) === state.item);
    right = h("div", { class: "panel", id: "items" }, h("h3", {}, `${t.partition_key} = ${state.pk}`), skBox,
      table([t.sort_key || "item", "item"], itemRows),
      h("div", { class: "row" }, h("span", { class: "muted" }, `page ${tablePages.itemsPage + 1}`),
        h("button", { disabled: tablePages.itemsPage === 0, onclick: () => { tablePages.itemsPage -= 1; tick(); } }, "Previous page"),
        h("button", { disabled: !page.cursor, onclick: () => { tablePages.itemsCursor[tablePages.itemsPage + 1] = page.cursor; tablePages.itemsPage += 1; tick(); } }, "Next page")),
      selectedItem ? [h("h3", {}, "Item"), h("pre", { id: "item-json" }, pretty(selectedItem))] : null);
  }
  mount(h("h2", {}, "Tables"), h("div", { class: "split" }, left, right));
}

async function schedules() {
  const list = await api("schedules");
  mount(h("h2", {}, "Schedules"), h("div", { class: "panel" }, table(["function", "schedule", "next run", "last run", "result", "duration", ""], list.map((x) => h("tr", { "data-schedule": x.function },
    h("td", {}, x.function), h("td", { class: "mono" }, x.schedule), h("td", {}, x.next_run ? new Date(x.next_run).toLocaleString() : "–"),
    h("td", {}, x.last_run ? when(x.last_run.ended_at) : "never"), h("td", {}, x.last_run ? outcome(x.last_run.outcome) : "–", x.last_run && x.last_run.error ? h("div", { class: "error" }, x.last_run.error) : null),
    h("td", {}, x.last_run ? ms(x.last_run.duration_ms) : "–"),
    h("td", {}, h("button", { class: "primary", onclick: () => act(`${x.function} started`, () => api(`schedules/${encodeURIComponent(x.function)}/run`, { method: "POST" })) }, "Run now")))))));
}

async function secrets() {
  const list = await api("secrets");
  mount(h("h2", {}, "Secrets"), h("p", { class: "muted" }, "Names and where each value comes from; values are never shown."),
    h("div", { class: "panel" }, table(["secret", "variable", "set", "from"], list.map((x) => h("tr", { "data-secret": x.name },
      h("td", {}, x.name), h("td", { class: "mono" }, x.env), h("td", { class: x.set ? "ok" : "error" }, x.set ? "yes" : "no"), h("td", {}, x.origin))))));
}

// ---- navigation and live refresh -----------------------------------------------------------

function current() {
  const name = (location.hash || "#overview").slice(1).split("/")[0];
  return views[name] ? name : "overview";
}

let busy = false;
async function tick() {
  if (busy || !refresh) return;
  busy = true;
  try {
    await refresh();
    document.getElementById("live").textContent = `live · ${new Date().toLocaleTimeString()}`;
  } catch (err) {
    document.getElementById("live").textContent = `not refreshing: ${err.message}`;
  } finally {
    busy = false;
  }
}

function show() {
  const name = current();
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.view === name);
  refresh = views[name];
  tick();
}

// Typing in a form must not be undone by the refresh: skip a tick while a field has focus.
function startTimer() {
  clearInterval(timer);
  timer = setInterval(() => {
    const el = document.activeElement;
    if (document.hidden || (el && ["TEXTAREA", "INPUT", "SELECT"].includes(el.tagName))) return;
    tick();
  }, 1000);
}

async function main() {
  try {
    session = await api("session");
  } catch (err) {
    mount(h("h2", {}, "Not signed in"), h("p", {}, err.message), h("p", {}, "Run ", h("code", {}, "omnicloud console"), " and open the link it prints."));
    return;
  }
  document.getElementById("app-name").textContent = `app ${session.app}`;
  window.addEventListener("hashchange", show);
  show();
  startTimer();
}

main();
