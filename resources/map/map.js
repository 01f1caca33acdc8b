// ZeroStream map: device positions and one device's track. The same page script serves the desktop
// (driven from Python over QWebChannel, see qt_bridge.js) and the web dashboard (driven by its page).
//
// In: zerostreamMap.showDevices(columns), showTrack(track), selectDevice(id), openPopup(i) (objects or
// JSON strings). Out, through the bridge given to zerostreamMap.connect(bridge): deviceClicked(id) and
// report(kind, json) with kind one of "ready", "basemap", "trackDrawn", "popup", "error".
"use strict";

const MAP_BASE = new URL(".", document.currentScript.src); // vendored files sit beside this script

const TILE_TIMEOUT_MS = 5000;
const STATUS_COLOURS = { active: "#2e7d32", idle: "#f9a825", offline: "#9e9e9e" };
const TRACK_BUCKETS = 24;

let bridge = null;

function report(kind, payload) {
  if (bridge) bridge.report(kind, JSON.stringify(payload || {}));
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function notice(text) {
  let el = document.getElementById("notice");
  if (!el) { // a page embedding the map without one of its own
    el = document.createElement("div");
    el.id = "notice"; el.className = "notice"; el.hidden = true;
    document.getElementById("map").append(el);
  }
  el.textContent = text || "";
  el.hidden = !text;
}

const map = L.map("map", { worldCopyJump: true, minZoom: 1, maxZoom: 19, zoomSnap: 0.25 }).setView([30, 0], 2);
L.control.scale({ imperial: false }).addTo(map);

// --- basemap: OpenStreetMap tiles when they load, else Natural Earth countries and a grid ---------

const osm = L.tileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png", {
  maxZoom: 19,
  attribution: '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
});
let basemap = "pending";
let basemapReason = "";
let tilesLoaded = 0;
let tileErrors = 0;

function useOnline() {
  if (basemap !== "pending") return;
  basemap = "osm";
  report("basemap", { kind: "osm" });
}

function useOffline(reason) {
  if (basemap === "offline") return;
  basemap = "offline";
  basemapReason = reason;
  map.removeLayer(osm);
  offlineLayer().addTo(map);
  report("basemap", { kind: "offline", reason });
}

osm.on("tileload", () => { tilesLoaded += 1; useOnline(); });
osm.on("tileerror", () => {
  tileErrors += 1;
  if (!tilesLoaded && tileErrors >= 2) useOffline("tiles failed to load");
});
osm.addTo(map);
setTimeout(() => { if (!tilesLoaded) useOffline(`no tile within ${TILE_TIMEOUT_MS / 1000} s`); }, TILE_TIMEOUT_MS);

function offlineLayer() {
  const group = L.layerGroup();
  map.attributionControl.addAttribution("Countries: Natural Earth (public domain), via world-atlas");
  const request = new XMLHttpRequest();
  request.open("GET", new URL("vendor/world-atlas/countries-50m.json", MAP_BASE));
  request.onload = () => {
    try {
      const topo = JSON.parse(request.responseText);
      const countries = topojson.feature(topo, topo.objects.countries);
      L.geoJSON(countries, {
        style: { color: "#8d8d8d", weight: 0.7, fillColor: "#f1eee6", fillOpacity: 1 },
        interactive: false,
      }).addTo(group).bringToBack();
    } catch (err) {
      report("error", { where: "offline basemap", message: String(err) });
    }
  };
  request.onerror = () => report("error", { where: "offline basemap", message: "cannot read the countries file" });
  request.send();
  for (let lat = -80; lat <= 80; lat += 20) {
    L.polyline([[lat, -180], [lat, 180]], { color: "#9fb4c4", weight: 0.6, interactive: false }).addTo(group);
    L.marker([lat, -178], { interactive: false, icon: L.divIcon({ className: "grid-label", html: `${Math.abs(lat)}°${lat < 0 ? "S" : lat > 0 ? "N" : ""}`, iconSize: null }) }).addTo(group);
  }
  for (let lon = -180; lon <= 180; lon += 30) {
    L.polyline([[-85, lon], [85, lon]], { color: "#9fb4c4", weight: 0.6, interactive: false }).addTo(group);
    L.marker([-60, lon + 1], { interactive: false, icon: L.divIcon({ className: "grid-label", html: `${Math.abs(lon)}°${lon < 0 ? "W" : lon > 0 ? "E" : ""}`, iconSize: null }) }).addTo(group);
  }
  placesLayer.addTo(group);
  return group;
}

// --- named places (GeoNames, 5,000+ people) on the offline basemap: enough to know where a fleet is ---

const PLACE_LABELS = 60; // at most this many names at once, the largest places in view first
const placesLayer = L.layerGroup();
let places = null; // columns: name, country, population, lon, lat (largest first)
let placesShown = [];

function placeThreshold(zoom) {
  if (zoom < 5) return Infinity;
  if (zoom < 7) return 500000;
  if (zoom < 9) return 50000;
  if (zoom < 11) return 15000;
  return 0;
}

function drawPlaces() {
  placesLayer.clearLayers();
  placesShown = [];
  if (!places) return;
  const zoom = map.getZoom();
  const least = placeThreshold(zoom);
  const bounds = map.getBounds().pad(0.05);
  const taken = []; // label boxes already placed, in pixels: a name that would overlap one is left out
  for (let i = 0; i < places.name.length && placesShown.length < PLACE_LABELS; i++) {
    if (places.population[i] < least) break; // largest first: the rest are smaller
    const at = L.latLng(places.lat[i], places.lon[i]);
    if (!bounds.contains(at)) continue;
    const p = map.latLngToContainerPoint(at);
    const box = { x0: p.x - 4, y0: p.y - 4, x1: p.x + 10 + places.name[i].length * 6.5, y1: p.y + 18 };
    if (taken.some((b) => box.x0 < b.x1 && b.x0 < box.x1 && box.y0 < b.y1 && b.y0 < box.y1)) continue;
    taken.push(box);
    placesShown.push(places.name[i]);
    L.circleMarker(at, { radius: zoom >= 9 ? 3 : 2, color: "#5d5d5d", weight: 1, fillColor: "#fff", fillOpacity: 1,
                         interactive: false }).addTo(placesLayer);
    const label = document.createElement("span");
    label.textContent = places.name[i]; // a name is text, never HTML
    L.marker(at, { interactive: false, icon: L.divIcon({ className: "place-label", html: label, iconSize: null }) })
      .addTo(placesLayer);
  }
  report("places", { zoom, shown: placesShown.length });
}

function loadPlaces() {
  const request = new XMLHttpRequest();
  request.open("GET", new URL("vendor/places/places.json", MAP_BASE));
  request.onload = () => {
    try {
      places = JSON.parse(request.responseText);
      map.attributionControl.addAttribution("Places: GeoNames (CC BY 4.0)");
      drawPlaces();
    } catch (err) {
      report("error", { where: "offline places", message: String(err) });
    }
  };
  request.onerror = () => report("error", { where: "offline places", message: "cannot read the places file" });
  request.send();
}

placesLayer.on("add", () => { if (!places) loadPlaces(); else drawPlaces(); });
map.on("moveend", () => { if (map.hasLayer(placesLayer)) drawPlaces(); });
window.zerostreamPlaces = () => placesShown.slice(); // what the offline map names now (tests, screenshots)

// --- a canvas layer that draws many points fast and finds the one under the cursor ---------------

const PointsLayer = L.Layer.extend({
  initialize(options) {
    L.setOptions(this, options);
    this.lat = []; this.lon = []; this.colour = []; this.radius = options.radius || 4;
  },
  onAdd(m) {
    this._canvas = L.DomUtil.create("canvas", "leaflet-zoom-hide");
    this._canvas.style.pointerEvents = "none";
    m.getPane(this.options.pane || "overlayPane").appendChild(this._canvas);
    m.on("moveend zoomend resize viewreset", this._redraw, this);
    this._redraw();
  },
  onRemove(m) {
    L.DomUtil.remove(this._canvas);
    m.off("moveend zoomend resize viewreset", this._redraw, this);
  },
  setPoints(lat, lon, colour) {
    this.lat = lat; this.lon = lon; this.colour = colour;
    if (this._map) this._redraw();
  },
  _redraw() {
    const m = this._map;
    const size = m.getSize();
    const ratio = window.devicePixelRatio || 1;
    this._canvas.width = size.x * ratio; this._canvas.height = size.y * ratio;
    this._canvas.style.width = `${size.x}px`; this._canvas.style.height = `${size.y}px`;
    L.DomUtil.setPosition(this._canvas, m.containerPointToLayerPoint([0, 0]));
    const ctx = this._canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, size.x, size.y);
    const byColour = new Map();
    for (let i = 0; i < this.lat.length; i += 1) {
      const c = this.colour[i];
      if (!byColour.has(c)) byColour.set(c, []);
      byColour.get(c).push(i);
    }
    const r = this.radius;
    for (const [c, idx] of byColour) {
      ctx.beginPath();
      for (const i of idx) {
        const p = m.latLngToContainerPoint([this.lat[i], this.lon[i]]);
        if (p.x < -r || p.y < -r || p.x > size.x + r || p.y > size.y + r) continue;
        ctx.moveTo(p.x + r, p.y);
        ctx.arc(p.x, p.y, r, 0, 2 * Math.PI);
      }
      ctx.fillStyle = c;
      ctx.fill();
      if (this.options.outline) { ctx.strokeStyle = this.options.outline; ctx.lineWidth = 1; ctx.stroke(); }
    }
  },
  nearest(containerPoint, within) {
    let best = -1; let bestD = within * within;
    for (let i = 0; i < this.lat.length; i += 1) {
      const p = this._map.latLngToContainerPoint([this.lat[i], this.lon[i]]);
      const d = (p.x - containerPoint.x) ** 2 + (p.y - containerPoint.y) ** 2;
      if (d <= bestD) { best = i; bestD = d; }
    }
    return best;
  },
});

// --- devices -----------------------------------------------------------------------------------

map.createPane("points").style.zIndex = 450; // above the basemap's vectors, below markers and popups
const devicesLayer = new PointsLayer({ radius: 5, outline: "#ffffff", pane: "points" }).addTo(map);
let devices = { id: [], lat: [], lon: [], status: [] }; // columns, one entry per device
let selected = null;
let fittedOnce = false;

function drawDevices() {
  devicesLayer.setPoints(devices.lat, devices.lon,
    devices.id.map((id, i) => (id === selected ? "#1565c0" : STATUS_COLOURS[devices.status[i]] || "#616161")));
}

function parsed(value) {
  return typeof value === "string" ? JSON.parse(value) : value;
}

// Each update leaves the last one's arrays behind (at 10,000 devices, the page's heap grew to about twice what
// it holds before V8 collected them); the desktop starts Chromium with --expose-gc so the page can collect
// them itself, at most every GC_EVERY_MS. Elsewhere (the web apps) there is no window.gc and this does nothing.
const GC_EVERY_MS = 10000;
let collectedAt = 0;

function collectGarbage() {
  const now = Date.now();
  if (typeof window.gc !== "function" || now - collectedAt < GC_EVERY_MS) return;
  collectedAt = now;
  window.gc({ type: "major", execution: "async" }); // async: the page goes on while V8 collects
}

function showDevices(columns) {
  const previous = devices;
  devices = parsed(columns);
  if (!devices.id) devices.id = previous.id; // the same devices as last time: the desktop sends no ids
  if (devices.scale) { // positions sent as integers (the desktop): degrees = value / scale
    const scale = devices.scale;
    devices.lat = devices.lat.map((v) => v / scale);
    devices.lon = devices.lon.map((v) => v / scale);
  }
  drawDevices();
  collectGarbage();
  if (!fittedOnce && devices.id.length && !track.id) {
    fittedOnce = true;
    map.fitBounds(L.latLngBounds(devices.lat.map((lat, i) => [lat, devices.lon[i]])).pad(0.1), { maxZoom: 14 });
  }
}

// --- one device's track: a blob per point, blue (oldest) to red (now), S and E markers ----------

const trackLayer = new PointsLayer({ radius: 4, pane: "points" }).addTo(map);
const endpoints = L.layerGroup().addTo(map);
const track = { id: null, points: [], total: 0 };

function rampColour(k) {
  const f = k / (TRACK_BUCKETS - 1);
  return `rgb(${Math.round(30 + 225 * f)}, ${Math.round(90 - 50 * f)}, ${Math.round(255 - 215 * f)})`;
}

function endpointIcon(kind, letter) {
  return L.divIcon({ className: "", html: `<div class="endpoint ${kind}">${letter}</div>`, iconSize: [24, 24], iconAnchor: [12, 12] });
}

function showTrack(value) {
  const started = performance.now();
  const t = parsed(value);
  const changedDevice = t.id !== track.id;
  track.id = t.id; track.name = t.name; track.points = t.points; track.total = t.total;
  if (changedDevice) { marksLayer.clearLayers(); if (marks.id === t.id) showMarks(marks); } // marks that came first
  const n = t.points.length;
  const colours = t.points.map((_, i) => rampColour(n > 1 ? Math.round((i / (n - 1)) * (TRACK_BUCKETS - 1)) : TRACK_BUCKETS - 1));
  trackLayer.setPoints(t.points.map((p) => p[1]), t.points.map((p) => p[2]), colours);
  endpoints.clearLayers();
  let start = null; let end = null;
  if (n) {
    start = [t.points[0][1], t.points[0][2]];
    end = [t.points[n - 1][1], t.points[n - 1][2]];
    L.marker(start, { icon: endpointIcon("start", "S"), title: "start", keyboard: false }).on("click", () => openPopup(0)).addTo(endpoints);
    L.marker(end, { icon: endpointIcon("end", "E"), title: "now", keyboard: false, zIndexOffset: 1000 }).on("click", () => openPopup(n - 1)).addTo(endpoints);
    if (changedDevice || t.fit) {
      map.fitBounds(L.latLngBounds(t.points.map((p) => [p[1], p[2]])).pad(0.15), { maxZoom: 17 });
    } else if (t.follow && !map.getBounds().pad(-0.1).contains(end)) {
      map.panTo(end);
    }
  }
  notice(n ? "" : `No positions for ${t.name || t.id} yet`);
  report("trackDrawn", { id: t.id, points: n, total: t.total, start, end, ms: Math.round(performance.now() - started) });
}

// --- one device's suspicious points (the data-quality view): rings on its track --------------------

const MARK_COLOURS = { jump: "#d32f2f", stale: "#f57c00", late: "#7b1fa2", out_of_order: "#00838f", duplicate: "#546e7a" };
const MARK_WORDS = { jump: "position jump", stale: "stale fix", late: "late", out_of_order: "out of order", duplicate: "sent twice" };
const marksLayer = L.layerGroup().addTo(map);
let marks = { id: null, marks: [] };

function showMarks(value) {
  marks = parsed(value);
  marksLayer.clearLayers();
  if (!marks.id || marks.id !== track.id) return; // drawn with its own track only
  for (const [ms, lat, lon, kinds] of marks.marks) {
    const list = kinds.split(",");
    const words = list.map((k) => MARK_WORDS[k] || k).join(", ");
    L.circleMarker([lat, lon], { radius: 8, color: MARK_COLOURS[list[0]] || "#000", weight: 3, fill: false, pane: "points" })
      .bindTooltip(escapeHtml(`${words} · ${formatTime(ms)}`))
      .addTo(marksLayer);
  }
  report("marksDrawn", { id: marks.id, marks: marks.marks.length });
}

function formatTime(ms) {
  return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

function openPopup(i) {
  const p = track.points[i];
  const rows = [
    ["Time", formatTime(p[0])],
    ["Speed", p[3] === null ? "–" : `${p[3].toFixed(1)} km/h`],
    ["Heading", p[4] === null ? "–" : `${p[4].toFixed(0)}°`],
    ["Battery", p[5] === null ? "–" : `${p[5]} %`],
    ["Position", `${p[1].toFixed(5)}, ${p[2].toFixed(5)}`],
  ];
  const html = `<b>${escapeHtml(track.name || track.id)}</b> · point ${i + 1} of ${track.points.length}` +
    `<table class="popup-table">${rows.map(([k, v]) => `<tr><td>${escapeHtml(k)}</td><td>${escapeHtml(v)}</td></tr>`).join("")}</table>`;
  L.popup({ maxWidth: 320 }).setLatLng([p[1], p[2]]).setContent(html).openOn(map);
  report("popup", { index: i });
}

map.on("click", (e) => {
  const i = track.id ? trackLayer.nearest(e.containerPoint, 8) : -1;
  if (i >= 0) { openPopup(i); return; }
  const d = devicesLayer.nearest(e.containerPoint, 8);
  if (d >= 0 && bridge) bridge.deviceClicked(devices.id[d]);
});

function selectDevice(id) {
  selected = id || null;
  drawDevices();
}

const legend = L.control({ position: "bottomleft" });
legend.onAdd = () => {
  const div = L.DomUtil.create("div", "legend");
  div.innerHTML = `<span style="color:${STATUS_COLOURS.active}">●</span> active
    <span style="color:${STATUS_COLOURS.idle}">●</span> idle
    <span style="color:${STATUS_COLOURS.offline}">●</span> offline<br>track: oldest <span class="ramp"></span> now
    <br>rings: <span style="color:${MARK_COLOURS.jump}">○</span> jump <span style="color:${MARK_COLOURS.stale}">○</span> stale
    <span style="color:${MARK_COLOURS.late}">○</span> late <span style="color:${MARK_COLOURS.out_of_order}">○</span> out of order`;
  return div;
};
legend.addTo(map);

// Test and tooling hooks (the bridge reports the same).
window.zerostream = { state: () => ({ basemap, devices: devices.id.length, track: { id: track.id, points: track.points.length }, marks: marksLayer.getLayers().length }), openPopup };

window.zerostreamMap = {
  showDevices, showTrack, showMarks, selectDevice, openPopup,
  invalidate: () => map.invalidateSize(),
  connect(b) {
    bridge = b;
    report("ready", { leaflet: L.version });
    if (basemap !== "pending") report("basemap", { kind: basemap, reason: basemapReason || undefined }); // decided before
  },
};
