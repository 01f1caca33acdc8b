// ZeroStream dashboard page: updates pushed over a WebSocket about once a second; tracks and raw events
// fetched on demand. The map is the desktop's own page script (map/map.js) with a browser bridge.
"use strict";

const ROW_H = 24;
const $ = (id) => document.getElementById(id);
const state = {
  clients: { id: [] }, shown: [], filter: "", selected: null, track: null, step: -1, now: Date.now(),
  raw: { offset: 0, limit: 50 }, renderMs: 0,
};
window.zsDashboard = state; // for tests and tooling

// --- tiles ---------------------------------------------------------------------------------------

function showTiles(msg) {
  const k = msg.kpis;
  const text = {
    total_events: zs.number(k.total_events), unique_clients: zs.number(k.unique_clients),
    bytes_ingested: zs.bytes(k.bytes_ingested), active_clients: zs.number(k.active_clients),
    events_per_s: zs.number(k.events_per_s, 1), bytes_per_s: `${zs.bytes(k.bytes_per_s)}/s`,
    send_delay_p95_s: k.send_delay_p95_s === null ? "–" : `${zs.number(k.send_delay_p95_s, 2)} s`,
    last_data_ms: zs.ago(k.last_data_ms, msg.now_ms), elapsed_ms: `${zs.number(msg.elapsed_ms, 0)} ms`,
  };
  for (const tile of document.querySelectorAll(".tile[data-kpi]")) { // not the Data quality tiles
    tile.querySelector(".value").textContent = text[tile.dataset.kpi];
  }
  $("empty").hidden = k.total_events > 0;
}

// --- the client list: only the rows in view are in the page (10,000 clients stay fast) -------------

function applyFilter() {
  const c = state.clients; const q = state.filter.toLowerCase();
  state.shown = [];
  for (let i = 0; i < c.id.length; i += 1) {
    if (!q || c.id[i].toLowerCase().includes(q) || (c.name[i] || "").toLowerCase().includes(q)) state.shown.push(i);
  }
  $("client-spacer").style.height = `${state.shown.length * ROW_H}px`;
  $("client-count").textContent = `${zs.number(state.shown.length)} of ${zs.number(c.id.length)} clients`;
  renderRows();
}

function renderRows() {
  // Rows are updated in place, not replaced: a click that straddles an update still lands on its row.
  const started = performance.now();
  const scroll = $("client-scroll"); const rows = $("client-rows"); const c = state.clients;
  const first = Math.max(0, Math.floor(scroll.scrollTop / ROW_H) - 5);
  const last = Math.min(state.shown.length, first + Math.ceil(scroll.clientHeight / ROW_H) + 10);
  rows.style.transform = `translateY(${first * ROW_H}px)`;
  while (rows.children.length > last - first) rows.lastChild.remove();
  while (rows.children.length < last - first) {
    const row = zs.el("div", null, "client-row");
    row.append(zs.el("span", "", "name"), zs.el("span", "", "status"), zs.el("span", "", "num"),
      zs.el("span", "", "num"), zs.el("span", "", "num"));
    rows.append(row);
  }
  for (let k = first; k < last; k += 1) {
    const i = state.shown[k]; const row = rows.children[k - first]; const cells = row.children;
    row.dataset.id = c.id[i];
    row.className = `client-row${c.id[i] === state.selected ? " selected" : ""}`;
    cells[0].textContent = c.name[i] || c.id[i];
    cells[0].title = c.id[i];
    cells[1].textContent = c.status[i];
    cells[1].className = `status ${c.status[i]}`;
    cells[2].textContent = zs.number(c.events[i]);
    cells[3].textContent = zs.bytes(c.bytes[i]);
    cells[4].textContent = zs.ago(c.last_seen_ms[i], state.now);
  }
  state.renderMs = performance.now() - started;
}

function indexOf(id) { return state.clients.id.indexOf(id); }

// --- selection, the track and the detail panel ----------------------------------------------------

async function select(id, fit = true) {
  state.selected = id;
  renderRows();
  zerostreamMap.selectDevice(id);
  $("detail").hidden = false;
  zerostreamMap.invalidate(); // the map got shorter: fit the track to what is left of it
  showDetail();
  await loadTrack(fit);
}

async function loadTrack(fit) {
  const id = state.selected;
  if (!id) return;
  try {
    const t = await zs.api(`api/clients/${encodeURIComponent(id)}/track`);
    if (id !== state.selected) return;
    const i = indexOf(id);
    t.name = i >= 0 ? state.clients.name[i] : id;
    t.fit = fit; t.follow = $("follow").checked;
    const atLatest = !state.track || state.step >= state.track.points.length - 1;
    state.track = t;
    if (fit || atLatest || state.step >= t.points.length) state.step = t.points.length - 1; // stay on "now"
    zerostreamMap.showTrack(t);
    showDetail();
    if (fit) loadMarks(); // once per selection: rings where its points look wrong (after the quality tab was opened)
  } catch (err) {
    $("d-track").textContent = `cannot read the track: ${err.message}`;
  }
}

function showDetail() {
  const i = indexOf(state.selected); const c = state.clients;
  if (i < 0) return;
  $("detail-name").textContent = c.name[i] || c.id[i];
  $("detail-name").title = c.id[i];
  $("d-first").textContent = zs.time(c.first_seen_ms[i]);
  $("d-last").textContent = zs.time(c.last_seen_ms[i]);
  $("d-events").textContent = zs.number(c.events[i]);
  $("d-bytes").textContent = zs.bytes(c.bytes[i]);
  const t = state.track && state.track.id === state.selected ? state.track : null;
  $("d-track").textContent = t ? `${zs.number(t.points.length)} points drawn` +
    (t.total !== t.points.length ? ` of the latest ${zs.number(t.total)}` : "") : "loading…";
  $("step-at").textContent = t && t.points.length ? `point ${state.step + 1} of ${t.points.length}` : "–";
}

function stepTo(k) {
  const t = state.track;
  if (!t || !t.points.length) return;
  state.step = Math.max(0, Math.min(t.points.length - 1, k));
  zerostreamMap.openPopup(state.step);
  showDetail();
}

// --- the raw stream -------------------------------------------------------------------------------

async function loadRaw() {
  const client = $("raw-client").value.trim();
  const q = new URLSearchParams({ limit: state.raw.limit, offset: state.raw.offset });
  if (client) q.set("client", client);
  $("raw-info").textContent = "reading…";
  try {
    const page = await zs.api(`api/events?${q}`);
    const body = $("raw-table").querySelector("tbody");
    body.replaceChildren(...page.events.map((e) => {
      const tr = document.createElement("tr");
      for (const v of [zs.timeMs(e.event_timestamp), zs.timeMs(e.ingested_at), e.connection_id, e.device_name,
        e.latitude === null ? "–" : e.latitude.toFixed(5), e.longitude === null ? "–" : e.longitude.toFixed(5),
        zs.number(e.speed_kmh, 1), zs.number(e.heading_deg, 0), zs.number(e.battery_pct), zs.number(e.signal_strength),
        zs.number(e.payload_bytes), e.event_id]) tr.append(zs.el("td", v));
      return tr;
    }));
    $("raw-page").textContent = `page ${state.raw.offset / state.raw.limit + 1}`;
    $("raw-info").textContent = `${page.events.length} rows in ${zs.number(page.elapsed_ms, 0)} ms`;
    $("raw-older").disabled = page.events.length < state.raw.limit;
    $("raw-newer").disabled = state.raw.offset === 0;
  } catch (err) {
    $("raw-info").textContent = err.message;
  }
}

// --- data quality: read on demand (whole-table queries, the server reads at most every 10 s) -------

const BUCKETS = ["<1 s", "1–5 s", "5–30 s", "30 s–2 min", "2–10 min", "≥10 min"];

async function loadQuality() {
  state.qualityOn = true;
  $("q-info").textContent = "reading…";
  try {
    const q = await zs.api("api/quality");
    state.quality = q;
    const text = {
      late: zs.number(q.late), out_of_order: zs.number(q.out_of_order),
      duplicates: q.duplicates === null ? "n/a" : zs.number(q.duplicates),
      jumps: `${zs.number(q.jumps)}${q.jump_devices ? ` (${zs.number(q.jump_devices)} devices)` : ""}`,
      stale: zs.number(q.stale), skewed_devices: zs.number(q.skewed_devices),
    };
    for (const tile of document.querySelectorAll("#quality .tile")) tile.querySelector(".value").textContent = text[tile.dataset.q];
    if (q.duplicates === null) document.querySelector('#quality .tile[data-q="duplicates"]').title = "Not measurable here: a Lakebase synced table keeps one row per event";
    const top = Math.max(1, ...q.delay_buckets);
    $("q-buckets").replaceChildren(...q.delay_buckets.map((n, i) => {
      const row = zs.el("div", null, "bucket");
      const bar = zs.el("span", "", "bar");
      bar.style.width = `${(100 * n) / top}%`;
      row.append(zs.el("span", BUCKETS[i], "label"), bar, zs.el("span", zs.number(n), "num"));
      return row;
    }));
    const body = $("q-devices").querySelector("tbody");
    body.replaceChildren(...q.devices.map((d) => {
      const tr = document.createElement("tr");
      tr.dataset.id = d.id;
      const i = indexOf(d.id);
      const skew = d.skew_s === null || Math.abs(d.skew_s) < 1 ? "" : `${d.skew_s > 0 ? "+" : ""}${zs.number(d.skew_s, 0)} s`;
      for (const v of [i >= 0 ? state.clients.name[i] || d.id : d.id, zs.number(d.events), zs.number(d.late),
        zs.number(d.out_of_order), zs.number(d.jumps), zs.number(d.stale), skew]) tr.append(zs.el("td", v));
      return tr;
    }));
    $("q-info").textContent = `${zs.number(q.events)} events read in ${zs.number(q.elapsed_ms, 0)} ms at ${zs.time(q.read_at_ms)}`;
  } catch (err) {
    $("q-info").textContent = `cannot read the data quality: ${err.message}`;
  }
}

async function loadMarks() {
  const id = state.selected;
  if (!id || !state.qualityOn) return;
  try {
    const marks = await zs.api(`api/clients/${encodeURIComponent(id)}/quality`);
    if (id === state.selected) zerostreamMap.showMarks(marks);
  } catch (err) {
    $("d-track").textContent += ` (marks: ${err.message})`;
  }
}

function showTab(name) {
  for (const b of document.querySelectorAll(".tabs button")) b.classList.toggle("active", b.dataset.tab === name);
  for (const tab of ["overview", "raw", "quality"]) $(tab).hidden = tab !== name;
  if (name === "raw") loadRaw(); else if (name === "quality") loadQuality(); else zerostreamMap.invalidate();
}

// --- updates --------------------------------------------------------------------------------------

function devicesOf(c) { // the map's columns: clients with a position
  const d = { id: [], lat: [], lon: [], status: [] };
  for (let i = 0; i < c.id.length; i += 1) {
    if (c.lat[i] === null || c.lon[i] === null) continue;
    d.id.push(c.id[i]); d.lat.push(c.lat[i]); d.lon.push(c.lon[i]); d.status.push(c.status[i]);
  }
  return d;
}

function onUpdate(msg) {
  $("source").textContent = msg.kind === "data" ? `Reading ${msg.source}` :
    msg.kind === "opened" ? `Reading ${msg.source} (${msg.message})` : `${msg.kind}: ${msg.message}`;
  if (msg.kind !== "data") return;
  const started = performance.now();
  state.now = msg.now_ms;
  state.lastUpdate = msg;
  showTiles(msg);
  state.clients = msg.clients;
  applyFilter();
  zerostreamMap.showDevices(devicesOf(msg.clients));
  if (state.selected) showDetail();
  state.updateMs = performance.now() - started; // tiles, the client list and the map's dots, for one update
  state.updates = (state.updates || 0) + 1;
}

// --- wiring ---------------------------------------------------------------------------------------

zerostreamMap.connect({
  report(kind, json) {
    const data = JSON.parse(json);
    state[`map_${kind}`] = data;
    if (kind === "popup" && state.track) { state.step = data.index; showDetail(); }
  },
  deviceClicked(id) { select(id); },
});
$("client-scroll").addEventListener("scroll", renderRows);
$("client-rows").addEventListener("click", (e) => { const row = e.target.closest(".client-row"); if (row) select(row.dataset.id); });
$("filter").addEventListener("input", (e) => { state.filter = e.target.value; applyFilter(); });
$("step-first").onclick = () => stepTo(0);
$("step-prev").onclick = () => stepTo(state.step - 1);
$("step-next").onclick = () => stepTo(state.step + 1);
$("step-last").onclick = () => stepTo(Infinity);
document.addEventListener("keydown", (e) => {
  if (e.target.tagName === "INPUT") return;
  const keys = { ArrowLeft: () => stepTo(state.step - 1), ArrowRight: () => stepTo(state.step + 1), Home: () => stepTo(0), End: () => stepTo(Infinity) };
  if (keys[e.key]) { keys[e.key](); e.preventDefault(); }
});
for (const button of document.querySelectorAll(".tabs button")) button.onclick = () => showTab(button.dataset.tab);
$("q-devices").addEventListener("click", (e) => {
  const row = e.target.closest("tr[data-id]");
  if (row) { showTab("overview"); select(row.dataset.id); }
});
setInterval(() => { if (!$("quality").hidden) loadQuality(); }, 10_000);
$("raw-older").onclick = () => { state.raw.offset += state.raw.limit; loadRaw(); };
$("raw-newer").onclick = () => { state.raw.offset = Math.max(0, state.raw.offset - state.raw.limit); loadRaw(); };
$("raw-refresh").onclick = loadRaw;
$("raw-client").addEventListener("change", () => { state.raw.offset = 0; loadRaw(); });
setInterval(() => { if (state.selected && $("follow").checked) loadTrack(false); }, 2000);
zs.socket("ws", onUpdate, (s) => { state.link = s; zs.showLink($("link"), s); });
