// What both ZeroStream pages share: formatting, and a WebSocket that reconnects by itself.
"use strict";

const zs = {
  number(v, digits = 0) {
    return v === null || v === undefined ? "–" : Number(v).toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
  },
  bytes(v) {
    if (v === null || v === undefined) return "–";
    const units = ["B", "KB", "MB", "GB", "TB"];
    let x = Number(v); let u = 0;
    while (x >= 1000 && u < units.length - 1) { x /= 1000; u += 1; }
    return `${x.toFixed(u ? 1 : 0)} ${units[u]}`;
  },
  time(ms) {
    return ms === null || ms === undefined ? "–" : new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
  },
  timeMs(ms) {
    return ms === null || ms === undefined ? "–" : new Date(ms).toISOString().replace("T", " ").replace("Z", " UTC");
  },
  ago(ms, now) {
    if (ms === null || ms === undefined) return "–";
    const s = Math.max(0, Math.round(((now || Date.now()) - ms) / 1000));
    return s < 60 ? `${s} s ago` : s < 3600 ? `${Math.floor(s / 60)} min ago` : zs.time(ms);
  },
  el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text); // text, never HTML
    if (cls) e.className = cls;
    return e;
  },
  async api(path, options) {
    const response = await fetch(path, { credentials: "same-origin", ...options });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail || response.statusText);
      throw new Error(detail);
    }
    return body;
  },
  // A socket to `path` (relative to the page) that comes back after a drop, waiting 0.5 s, 1 s, 2 s ... 10 s.
  socket(path, onMessage, onState) {
    let delay = 500; let ws = null; let closed = false;
    const url = new URL(path, window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const open = () => {
      onState("connecting");
      ws = new WebSocket(url);
      ws.onopen = () => { delay = 500; onState("live"); };
      ws.onmessage = (e) => onMessage(JSON.parse(e.data));
      ws.onclose = () => {
        if (closed) return;
        onState("reconnecting");
        setTimeout(open, delay);
        delay = Math.min(delay * 2, 10000);
      };
    };
    open();
    return { send: (obj) => ws && ws.readyState === 1 && ws.send(JSON.stringify(obj)), close: () => { closed = true; ws.close(); } };
  },
  showLink(el, state) {
    el.dataset.state = state;
    el.textContent = { live: "● live", connecting: "connecting…", reconnecting: "reconnecting…" }[state] || state;
  },
};
window.zs = zs;
