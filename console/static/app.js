// Shine a Light console: the wall, the controls, deployments, traffic, the timeline and the
// step log, fed by /events (SSE). The message shapes are console/messages.py's.
//
// The controls always show the live state: the Replicas slider follows the live release
// until the user moves it (and again once that number is live, or the run ends); the
// target follows "the other preset" until the user picks one. Every button is disabled
// while it cannot act, with the reason as its tooltip: the server's (ControlsState.blocked:
// a plan runs, nothing deployed, nothing paused …) and the page's own (nothing to roll
// out to, an invalid version, a request in flight). A button is disabled as it is
// clicked, until the server has answered and the run's first message has arrived, so a
// double click sends one request (and the server treats a duplicate as one anyway).
"use strict";

import { TimelineChart } from "./chart.js";
import { follow, wallIn } from "./feed.js";
import { PAGE_STYLE } from "./layout.js";

const $ = (id) => document.getElementById(id);
const LOG_LIMIT = 300;
const RUN_WAIT_MS = 3000;
const VERSION = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;
const PRESETS = [...document.querySelectorAll("button.preset")].map((b) => ({ version: b.dataset.version, color: b.dataset.color.slice(1) }));

const page = {
  controls: null, // the last ControlsState
  sample: null, // the last timeline sample
  traffic: null, // the last traffic message
  sending: false, // a request is in flight
  runs: 0, // run messages seen
  waitRunUntil: 0, // a request was accepted: hold the buttons until its run message (or this time)
  wasBusy: false,
  replicasTouched: false,
  targetTouched: false,
};

const wall = wallIn($("wall"), { style: PAGE_STYLE });
const chart = new TimelineChart($("timeline-chart"), $("timeline-legend"));

// --- helpers --------------------------------------------------------------------------

function el(tag, { text, cls, data } = {}) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (cls) node.className = cls;
  Object.entries(data || {}).forEach(([k, v]) => { node.dataset[k] = v; });
  return node;
}

function swatch(color) {
  const s = el("span", { cls: "swatch" });
  if (color) s.style.setProperty("--c", `#${color}`);
  return s;
}

function liveRelease() {
  const c = page.controls;
  return (c && c.releases.find((r) => r.release === c.live)) || null;
}

function podsOf(name) {
  return page.sample ? page.sample.releases.find((r) => r.release === name) || null : null;
}

function shareOf(version) {
  const row = page.traffic ? page.traffic.rows.find((r) => r.version === version) : null;
  return row ? row.share : null;
}

// --- the controls -----------------------------------------------------------------------

function showControls(c) {
  page.controls = c;
  const live = liveRelease();
  const liveReplicas = live ? live.replicas : 0;
  const slider = $("replicas");
  slider.max = c.max_replicas;
  if (page.wasBusy && !c.busy) page.replicasTouched = false; // the run is over: show what is live
  if (Number(slider.value) === liveReplicas) page.replicasTouched = false;
  if (!page.replicasTouched) setReplicas(liveReplicas);
  $("replicas-live").textContent = live ? `live: ${live.replicas}` : "none deployed";
  if (live && page.targetTouched && live.version === target().version && live.color === target().color) page.targetTouched = false;
  if (!page.targetTouched) setTarget(PRESETS.find((p) => !live || p.version !== live.version || p.color !== live.color) || PRESETS[0]);
  page.wasBusy = c.busy;
  $("run-status").textContent = c.paused ? "paused — promote or abort" : c.busy ? "running" : "";
  showReleases();
  refresh();
}

function setReplicas(n) {
  $("replicas").value = n;
  $("replicas-value").textContent = n;
}

function setTarget({ version, color }) {
  $("version").value = version;
  $("color").value = `#${color}`;
}

function target() {
  const version = $("version").value.trim();
  return { version, color: $("color").value.replace("#", "").toLowerCase(), valid: VERSION.test(version) };
}

function hold(button, reason) {
  button.disabled = Boolean(reason);
  button.title = reason || "";
  button.dataset.reason = reason || "";
}

/** Enable exactly the buttons that can act now; each disabled one says why. */
function refresh() {
  const c = page.controls;
  const blocked = c ? c.blocked : {};
  const waiting = page.sending || performance.now() < page.waitRunUntil ? "waiting for the console's answer…" : null;
  const first = waiting || (c ? null : "connecting to the console…");
  const live = liveRelease();
  const replicas = Number($("replicas").value);
  const same = live ? replicas === live.replicas : replicas === 0;
  const unchanged = live ? `${live.release} runs ${replicas} replicas already: move the slider` : "move the slider to install the demo app";
  hold($("scale"), first || blocked.scale || (same ? unchanged : null));
  const t = target();
  document.querySelectorAll("button.strategy").forEach((button) => {
    const name = button.dataset.strategy;
    let reason = first || blocked[name] || (t.valid ? null : `version ${JSON.stringify(t.version)}: letters, digits, '.', '-', '_'`);
    const inPlace = name === "rolling" || name === "recreate";
    if (!reason && inPlace && live && live.version === t.version && live.color === t.color) {
      reason = `${live.release} runs ${t.version} in this colour already: pick another target`;
    }
    hold(button, reason);
  });
  hold($("promote"), first || blocked.promote || null);
  hold($("abort"), first || blocked.abort || null);
  hold($("kill"), waiting || (wall.model.count() ? null : "no pod on the wall to kill"));
}

async function act(path, body) {
  if (page.sending) return; // the second click of a double click
  page.sending = true;
  const runs = page.runs;
  $("error").hidden = true;
  refresh();
  try {
    const response = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body || {}) });
    const data = await response.json().catch(() => ({ error: response.statusText }));
    if (!response.ok) showError(data.error || response.statusText);
    else if (page.runs === runs) page.waitRunUntil = performance.now() + RUN_WAIT_MS;
  } catch (error) {
    showError(`the console did not answer: ${error.message}`);
  } finally {
    page.sending = false;
    refresh();
  }
}

function showError(text) {
  $("error").textContent = text;
  $("error").hidden = false;
}

// --- deployments, the live line, traffic ---------------------------------------------------

function showReleases() {
  const c = page.controls;
  if (!c) return;
  const rows = c.releases.map((r) => {
    const tr = el("tr", { cls: r.release === c.live ? "is-live" : "", data: { release: r.release, version: r.version || "" } });
    const pods = podsOf(r.release);
    tr.append(el("td", { text: r.release, cls: "name" }), el("td"), el("td", { text: r.version || "?" }),
      el("td", { text: pods ? `${pods.ready}/${r.replicas}` : `?/${r.replicas}`, data: { ready: pods ? pods.ready : "" } }),
      el("td", { text: r.weight === null ? "–" : String(r.weight) }));
    tr.children[1].append(swatch(r.color));
    return tr;
  });
  if (!rows.length) {
    const empty = el("td", { text: "none yet: Scale installs the demo app" });
    empty.colSpan = 5;
    rows.push(el("tr", { cls: "empty" }));
    rows[0].append(empty);
  }
  $("release-rows").replaceChildren(...rows);
  showLive();
}

function showLive() {
  const c = page.controls;
  const live = liveRelease();
  const line = $("live");
  if (!c || !live) {
    line.replaceChildren(el("span", { text: "nothing deployed yet — Scale installs the demo app" }));
    return;
  }
  const parts = c.releases.map((r) => {
    const part = el("span", { cls: r.release === c.live ? "release is-live" : "release" });
    const pods = podsOf(r.release);
    const share = shareOf(r.version);
    part.append(el("code", { text: r.release }), " runs ", swatch(r.color), ` ${r.version}`,
      el("small", { text: ` · ${pods ? pods.ready : "?"}/${r.replicas} ready${share === null ? "" : ` · ${share}% of requests`}` }));
    return part;
  });
  line.replaceChildren(...parts);
}

function showTraffic(msg) {
  page.traffic = msg;
  const rows = msg.rows.map((row) => {
    const tr = el("tr", { data: { version: row.version, rate: row.rate, share: row.share, weight: row.weight ?? "" } });
    const bar = el("span", { cls: "bar" });
    bar.style.width = `${row.share}%`;
    if (row.color) bar.style.setProperty("--c", `#${row.color}`);
    tr.append(el("td"), el("td", { text: row.version }), el("td", { text: row.releases.join(", ") || "(old pods)" }),
      el("td", { text: row.weight === null ? "–" : `${row.weight}%` }), el("td", { text: row.rate.toFixed(1) }),
      el("td", { text: `${row.share}%` }));
    tr.children[0].append(swatch(row.color));
    tr.lastChild.append(bar);
    return tr;
  });
  if (msg.failed > 0 || msg.failed_share > 0) {
    const tr = el("tr", { cls: "failed", data: { version: "failed", rate: msg.failed, share: msg.failed_share } });
    tr.append(el("td"), el("td", { text: "failed" }), el("td", { text: "no ready pod" }), el("td", { text: "–" }),
      el("td", { text: msg.failed.toFixed(1) }), el("td", { text: `${msg.failed_share}%` }));
    rows.push(tr);
  }
  $("traffic-rows").replaceChildren(...rows);
  const weights = msg.rows.filter((r) => r.weight !== null).reduce((n, r) => n + r.weight, 0);
  const shares = msg.rows.reduce((n, r) => n + r.share, 0) + msg.failed_share;
  const rate = msg.rows.reduce((n, r) => n + r.rate, 0) + msg.failed;
  const sums = el("tr", { data: { weights, shares } });
  sums.append(el("td"), el("td", { text: "all" }), el("td"), el("td", { text: weights ? `${weights}%` : "–" }),
    el("td", { text: rate.toFixed(1) }), el("td", { text: rate ? `${shares}%` : "–" }));
  $("traffic-sums").replaceChildren(sums);
  $("traffic-rate").textContent = msg.idle ? "no route yet" : `${msg.rate} req/s sent`;
  showLive();
}

function showTimeline(sample) {
  page.sample = sample;
  chart.add(sample);
  showReleases();
}

// --- the run ----------------------------------------------------------------------------

function logLine(text, cls) {
  const li = el("li", { text, cls });
  const log = $("log");
  log.appendChild(li);
  while (log.children.length > LOG_LIMIT) log.firstChild.remove();
  log.scrollTop = log.scrollHeight;
}

function showRun(msg) {
  switch (msg.event) {
    case "plan-started":
      $("steps").replaceChildren(...msg.steps.map((text) => el("li", { text: text.replace(/^\d+\.\s*/, "") })));
      logLine(`${msg.aborting ? "abort" : msg.strategy}: ${msg.steps.length} steps`);
      break;
    case "step-started":
    case "step-done":
    case "step-failed": {
      const item = $("steps").children[msg.index];
      if (item) item.dataset.status = { "step-started": "running", "step-done": "done", "step-failed": "failed" }[msg.event];
      if (msg.event === "step-failed") logLine(`step ${msg.index + 1} failed: ${msg.error}`, "failed");
      break;
    }
    case "weights-set":
      logLine(`weights: ${msg.weights.map((w) => `${w.release} (${w.version ?? "gone"}) ${w.weight}`).join(" / ")}`, "weights");
      break;
    case "paused":
      logLine(msg.seconds === null ? "paused until promoted" : `paused ${msg.seconds} s`);
      break;
    case "resumed":
      logLine(msg.promoted ? "promoted" : "resumed");
      break;
    case "log":
      logLine(msg.line);
      break;
    case "aborted":
      logLine(`abort requested at step ${msg.index + 1}`, "failed");
      break;
    case "finished":
      logLine(msg.ok ? (msg.aborted ? "aborted: back where we started" : "finished") : "finished with errors", msg.ok ? "" : "failed");
      break;
    default:
      logLine(msg.event);
  }
  if (msg.controls) showControls(msg.controls);
}

// --- the stream ---------------------------------------------------------------------------

function handle(msg) {
  if (wall.take(msg)) {
    if (msg.type === "nodes") refresh(); // Kill a pod needs a pod on the wall
  }
  switch (msg.type) {
    case "state":
      $("log").replaceChildren();
      $("steps").replaceChildren();
      msg.log.forEach(showRun);
      page.sample = msg.timeline.at(-1) || null;
      chart.reset(msg.timeline);
      if (msg.traffic) showTraffic(msg.traffic);
      if (msg.controls) showControls(msg.controls);
      break;
    case "run":
      page.runs++;
      page.waitRunUntil = 0;
      showRun(msg);
      refresh();
      break;
    case "traffic":
      showTraffic(msg);
      break;
    case "timeline":
      showTimeline(msg.sample);
      break;
    default:
      break;
  }
}

function wire() {
  $("replicas").addEventListener("input", () => {
    $("replicas-value").textContent = $("replicas").value;
    const live = liveRelease();
    page.replicasTouched = Number($("replicas").value) !== (live ? live.replicas : 0);
    refresh();
  });
  $("scale").addEventListener("click", () => act("/api/scale", { replicas: Number($("replicas").value) }));
  document.querySelectorAll("button.strategy").forEach((button) => {
    button.addEventListener("click", () => {
      const t = target();
      const body = { name: button.dataset.strategy, version: t.version, color: t.color };
      if (body.name === "canary") body.canary_weight = Number($("canary-weight").value);
      act("/api/strategy", body);
    });
  });
  document.querySelectorAll("button.preset").forEach((button) => {
    button.addEventListener("click", () => {
      setTarget({ version: button.dataset.version, color: button.dataset.color.slice(1) });
      page.targetTouched = true;
      refresh();
    });
  });
  for (const id of ["version", "color"]) {
    $(id).addEventListener("input", () => { page.targetTouched = true; refresh(); });
  }
  $("promote").addEventListener("click", () => act("/api/promote"));
  $("abort").addEventListener("click", () => act("/api/abort"));
  $("kill").addEventListener("click", () => act("/api/kill"));
  setInterval(refresh, 1000); // a held button comes back even if its run message never arrives
}

wire();
refresh();
follow(handle, $("connection"));
