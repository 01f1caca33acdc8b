// ZeroStream mobile simulator page: one fleet on the server shared by everyone; live state over a WebSocket.
"use strict";

const $ = (id) => document.getElementById(id);
const sim = { state: null, device: null, selected: null, path: [], devicesAt: 0 };
window.zsMobile = sim; // for tests and tooling

function setCount(n) {
  $("count").value = n;
  $("count-slider").value = n;
}

function showState(s) {
  sim.state = s;
  $("live").classList.toggle("on", s.running && s.stream === "streaming");
  const what = s.running ? `streaming ${zs.number(s.devices)} devices` : `${zs.number(s.devices)} devices, stopped`;
  $("stream-state").textContent = `${what} · ${s.stream}`;
  const a = s.last_action;
  $("action").textContent = a ? `(${a.what} by ${a.by}, ${zs.ago(a.at_ms)})` : "";
  showError(sim.actionError || s.error);
  for (const k of ["published", "acknowledged", "generated", "in_flight", "spool_depth"]) $(k).textContent = zs.number(s[k]);
  $("ack_p95").textContent = s.ack_p95_ms === null ? "–" : `${zs.number(s.ack_p95_ms)} ms`;
  $("target").textContent = s.endpoint ? `ZeroBus endpoint ${s.endpoint}` : "";
  const f = s.faults;
  $("faults-state").textContent = f ? `${f.spec}: ${Object.entries(f.injected).map(([k, n]) => `${k} ${zs.number(n)}`).join(", ") || "none yet"}` : "none";
  $("start").hidden = s.running;
  $("stop").hidden = !s.running;
  if (document.activeElement !== $("count") && document.activeElement !== $("count-slider") && !sim.editing) setCount(s.devices);
  if (Date.now() - sim.devicesAt > 2000 || sim.listSize !== s.devices) loadDevices();
}

async function loadDevices() {
  sim.devicesAt = Date.now();
  const { devices } = await zs.api("api/devices");
  sim.listSize = devices.length;
  const body = $("devices"); const shown = devices.slice(0, 500);
  // rows updated in place, not replaced: a click that straddles a refresh still lands on its row
  while (body.children.length > shown.length) body.lastChild.remove();
  while (body.children.length < shown.length) {
    const tr = document.createElement("tr");
    for (let k = 0; k < 5; k += 1) tr.append(zs.el("td", ""));
    body.append(tr);
  }
  shown.forEach((d, n) => {
    const tr = body.children[n];
    tr.dataset.index = d.index;
    tr.className = d.index === sim.selected ? "selected" : "";
    const values = [d.index, d.name, d.mode, `${zs.number(d.speed_kmh, 1)} km/h`, `${zs.number(d.battery_pct, 0)} %`];
    values.forEach((v, k) => { tr.children[k].textContent = String(v); });
  });
}

function bar(id, fraction, centred) {
  const el = $(id); const f = Math.max(-1, Math.min(1, fraction));
  if (centred) { el.style.left = `${50 + Math.min(0, f) * 50}%`; el.style.width = `${Math.abs(f) * 50}%`; }
  else { el.style.left = "0"; el.style.width = `${Math.max(0, f) * 100}%`; }
}

function showDevice(d) {
  sim.device = d;
  $("device-name").textContent = `${d.name}  (#${d.index})`;
  $("device-name").title = d.connection_id;
  $("v-battery").textContent = `${zs.number(d.battery_pct, 0)} %${d.charging ? " charging" : ""}`;
  bar("b-battery", d.battery_pct / 100);
  $("v-signal").textContent = d.signal_strength === null ? "–" : `${zs.number(d.signal_strength, 0)} dBm`;
  bar("b-signal", d.signal_strength === null ? 0 : (d.signal_strength + 120) / 70);
  $("v-speed").textContent = `${zs.number(d.speed_kmh, 1)} km/h`;
  $("v-mode").textContent = d.mode + (d.paused ? " (paused)" : "");
  $("v-pitch").textContent = `${zs.number(d.pitch_deg, 1)}°`;
  bar("b-pitch", d.pitch_deg / 90, true);
  $("v-roll").textContent = `${zs.number(d.roll_deg, 1)}°`;
  bar("b-roll", d.roll_deg / 180, true);
  $("v-accel").textContent = `x ${zs.number(d.accel_x, 2)}  y ${zs.number(d.accel_y, 2)}  z ${zs.number(d.accel_z, 2)}  |a| ${zs.number(d.accel_magnitude, 2)}`;
  $("v-gyro").textContent = `x ${zs.number(d.gyro_x, 1)}  y ${zs.number(d.gyro_y, 1)}  z ${zs.number(d.gyro_z, 1)}`;
  $("v-position").textContent = `${d.latitude.toFixed(5)}, ${d.longitude.toFixed(5)}`;
  $("v-altitude").textContent = `${zs.number(d.altitude_m, 0)} m`;
  $("v-heading").textContent = `${zs.number(d.heading_deg, 0)}°`;
  $("needle").setAttribute("transform", `rotate(${d.heading_deg})`);
  // the device on the small map: where it is now, and where it went since it was selected
  sim.path.push([Date.now(), d.latitude, d.longitude, d.speed_kmh, d.heading_deg, d.battery_pct]);
  if (sim.path.length > 600) sim.path.shift();
  zerostreamMap.showDevices({ id: [d.connection_id], lat: [d.latitude], lon: [d.longitude], status: ["active"] });
  zerostreamMap.showTrack({ id: d.connection_id, name: d.name, points: sim.path, total: sim.path.length, fit: sim.path.length === 1, follow: true });
}

function select(index) {
  sim.selected = index;
  sim.path = [];
  socket.send({ device: index });
  for (const tr of $("devices").children) tr.classList.toggle("selected", Number(tr.dataset.index) === index);
}

function showError(message) {
  $("error").hidden = !message;
  $("error").textContent = message || "";
}

// A refused action's reason stays until the next action succeeds: the state pushed every second
// (whose own error is the stream's) must not wipe it before it is read.
async function post(path, body) {
  try {
    const state = await zs.api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: body ? JSON.stringify(body) : undefined });
    sim.actionError = null;
    showState(state);
  } catch (err) {
    sim.actionError = err.message;
    showError(err.message);
  }
}

$("count-slider").addEventListener("input", (e) => { sim.editing = true; $("count").value = e.target.value; });
$("count").addEventListener("input", (e) => { sim.editing = true; $("count-slider").value = e.target.value; });
$("apply").onclick = async () => { sim.editing = false; await post("api/devices", { count: Number($("count").value) }); loadDevices(); };
$("count").addEventListener("keydown", (e) => { if (e.key === "Enter") $("apply").click(); });
$("start").onclick = () => post("api/start");
$("apply-faults").onclick = () => post("api/faults", { spec: $("faults").value.trim() || "clean" });
$("faults").addEventListener("keydown", (e) => { if (e.key === "Enter") $("apply-faults").click(); });
$("stop").onclick = () => post("api/stop");
$("devices").addEventListener("click", (e) => { const tr = e.target.closest("tr"); if (tr) select(Number(tr.dataset.index)); });
zerostreamMap.connect({ report(kind, json) { sim[`map_${kind}`] = JSON.parse(json); }, deviceClicked() {} });
const socket = zs.socket("ws", (msg) => {
  showState(msg.state);
  if (msg.device && msg.device.index === sim.selected) showDevice(msg.device);
}, (s) => {
  sim.link = s;
  zs.showLink($("link"), s);
  if (s === "live" && sim.selected !== null) setTimeout(() => socket.send({ device: sim.selected }), 0);
});
