// Shine a Light console: the wall, the controls, traffic and the step log, fed by /events (SSE).
//
// The wall mirrors led_agent.rendering.Scene: each node has slots, either live (the k-th
// live slot shows the k-th pod of the node's ordered list) or a ghost (a removed pod
// flashing red where it stood). An update names removed pods by their slot in the list
// the server sent last; those slots become ghosts for FLASH_MS, then the gap closes.
//
// Test hooks: every light carries data-node, data-key, data-color, data-state (pending,
// ready, unready, terminating, or removed for a ghost); window.wallState() returns the
// model ({node: {status, hidden, pods: [{key, color, state}]}}); a node with pods beyond the
// console's cap says "+N more" in its header (data-hidden).
"use strict";

const FLASH_MS = 900;
const BLINK_MS = 500;
const PULSE_MS = 2000;
const LOG_LIMIT = 300;

const nodes = new Map(); // name -> {name, status, pods, slots, el}

const $ = (id) => document.getElementById(id);

// --- the wall ----------------------------------------------------------------------

function natural(a, b) {
  return a.localeCompare(b, undefined, { numeric: true });
}

function nodeFor(name) {
  let node = nodes.get(name);
  if (node) return node;
  const el = document.createElement("div");
  el.className = "node";
  el.dataset.node = name;
  el.innerHTML = '<h3><span class="name"></span><span class="more"></span><span class="status"></span></h3><div class="lights"></div>';
  el.querySelector(".name").textContent = name;
  node = { name, status: null, hidden: 0, pods: [], slots: [], el };
  nodes.set(name, node);
  const wall = $("wall");
  const after = [...wall.children].find((child) => natural(child.dataset.node, name) > 0);
  wall.insertBefore(el, after || null);
  return node;
}

function applyNode(update, now) {
  if (update.gone) {
    const node = nodes.get(update.node);
    if (node) node.el.remove();
    nodes.delete(update.node);
    return;
  }
  const node = nodeFor(update.node);
  const liveAt = [];
  node.slots.forEach((slot, i) => { if (slot === null) liveAt.push(i); });
  for (const removed of update.removed || []) {
    if (removed.slot < liveAt.length) {
      const pod = node.pods[removed.slot];
      node.slots[liveAt[removed.slot]] = { key: removed.key, color: pod ? pod.color : "ff0000", until: now + FLASH_MS };
    }
  }
  node.pods = update.pods;
  node.status = update.status;
  node.hidden = update.hidden || 0;
  fit(node);
  render(node, now);
  if (update.removed && update.removed.length) setTimeout(() => render(node, performance.now()), FLASH_MS + 20);
}

function fit(node) {
  let missing = node.pods.length - node.slots.filter((slot) => slot === null).length;
  while (missing > 0) { node.slots.push(null); missing--; }
  while (missing < 0) {
    node.slots.splice(node.slots.lastIndexOf(null), 1);
    missing++;
  }
}

function render(node, now) {
  node.slots = node.slots.filter((slot) => slot === null || slot.until > now);
  const box = node.el.querySelector(".lights");
  const live = node.pods[Symbol.iterator]();
  const wanted = node.slots.map((slot) => (slot === null ? { ...live.next().value, ghost: false } : { ...slot, ghost: true }));
  // One element per pod (and per ghost), moved only when its place changes: a reused
  // element would carry another pod's colour transition, a re-inserted one restarts its animation.
  // Stale elements go first: removed while still in place, they would shift every light
  // after them and turn one change into a move of the whole row.
  const ids = wanted.map((want) => (want.ghost ? "ghost:" : "") + want.key);
  const keep = new Set(ids);
  [...box.children].forEach((el) => { if (!keep.has(el.dataset.id)) el.remove(); });
  const existing = new Map([...box.children].map((el) => [el.dataset.id, el]));
  wanted.forEach((want, i) => {
    const el = existing.get(ids[i]) || document.createElement("span");
    el.dataset.id = ids[i];
    paint(el, node.name, want);
    if (box.children[i] !== el) box.insertBefore(el, box.children[i] || null);
  });
  node.el.dataset.status = node.status || "unknown";
  node.el.dataset.hidden = String(node.hidden);
  node.el.querySelector(".more").textContent = node.hidden ? `+${node.hidden} more` : "";
  node.el.querySelector(".status").textContent = node.status === "offline" ? "watcher offline" : (node.status || "");
}

function paint(el, nodeName, want) {
  const state = want.ghost ? "removed" : want.state;
  const color = want.ghost ? "ff0000" : want.color;
  if (el.dataset.state === state && el.dataset.color === color) return;
  el.className = "light";
  el.dataset.node = nodeName;
  el.dataset.key = want.key;
  el.dataset.color = color;
  el.dataset.state = state;
  el.title = `${want.pod || want.key} (${state})`;
  el.style.setProperty("--c", "#" + color);
  // Blinking and breathing take their phase from the clock, as on the agents: all in step.
  const period = { terminating: BLINK_MS, unready: PULSE_MS }[state];
  el.style.animationDelay = period ? `-${performance.now() % period}ms` : "";
}

function resetWall(views, now) {
  nodes.forEach((node) => node.el.remove());
  nodes.clear();
  views.forEach((view) => applyNode(view, now));
}

window.wallState = () => {
  const out = {};
  nodes.forEach((node, name) => {
    out[name] = { status: node.status, hidden: node.hidden,
      pods: node.pods.map((p) => ({ key: p.key, color: p.color, state: p.state })) };
  });
  return out;
};

// --- traffic ------------------------------------------------------------------------

function showTraffic(msg) {
  remember(msg.weights);
  const rows = [];
  const total = Object.values(msg.by_version).reduce((a, b) => a + b, 0) + msg.failed;
  const seen = new Set();
  const weightSum = msg.weights.reduce((a, w) => a + w.weight, 0);
  for (const w of msg.weights) {
    const rate = w.version !== null ? msg.by_version[w.version] || 0 : 0;
    if (w.version !== null) seen.add(w.version);
    rows.push(trafficRow(w.color, `${w.version ?? "?"} (${w.release})`, weightSum ? (100 * w.weight) / weightSum : 0, rate, total));
  }
  for (const [version, rate] of Object.entries(msg.by_version)) {
    if (!seen.has(version)) rows.push(trafficRow(colorOf(version), version, null, rate, total));
  }
  if (msg.failed > 0) rows.push(trafficRow(null, "failed", null, msg.failed, total, "failed"));
  $("traffic-rows").replaceChildren(...rows);
  $("traffic-rate").textContent = msg.idle ? "no route yet" : `${msg.rate} req/s sent`;
}

const versionColors = new Map(); // every version's colour seen, for rows of releases already gone

function remember(rows) {
  rows.forEach((row) => { if (row.version && row.color) versionColors.set(row.version, row.color); });
}

function colorOf(version) {
  return versionColors.get(version) || null;
}

function trafficRow(color, label, weight, rate, total, cls) {
  const tr = document.createElement("tr");
  if (cls) tr.className = cls;
  const share = total ? (100 * rate) / total : 0;
  const swatch = color ? `<span class="swatch" style="--c:#${color}"></span>` : "";
  tr.innerHTML = `<td>${swatch}</td><td></td><td>${weight === null ? "–" : weight.toFixed(0) + "%"}</td>` +
    `<td>${rate.toFixed(1)}</td><td>${share.toFixed(0)}%<span class="bar" style="width:${share}%;${color ? `--c:#${color}` : ""}"></span></td>`;
  tr.children[1].textContent = label;
  tr.dataset.version = label;
  tr.dataset.rate = rate;
  return tr;
}

// --- the run ------------------------------------------------------------------------

function showControls(c) {
  remember(c.releases);
  $("summary").textContent = c.summary || "";
  document.querySelectorAll("button.strategy, #scale").forEach((b) => { b.disabled = c.busy; });
  $("promote").disabled = !c.paused;
  $("abort").disabled = !c.busy;
  $("run-status").textContent = c.paused ? "paused — promote or abort" : c.busy ? "running" : "";
}

function logLine(text, cls) {
  const li = document.createElement("li");
  li.textContent = text;
  if (cls) li.className = cls;
  const log = $("log");
  log.appendChild(li);
  while (log.children.length > LOG_LIMIT) log.firstChild.remove();
  log.scrollTop = log.scrollHeight;
}

function stepItem(index) {
  return $("steps").children[index];
}

function showRun(msg) {
  switch (msg.event) {
    case "plan-started":
      $("steps").replaceChildren(...msg.steps.map((text) => Object.assign(document.createElement("li"), { textContent: text.replace(/^\d+\.\s*/, "") })));
      logLine(`${msg.aborting ? "abort" : msg.strategy}: ${msg.steps.length} steps`);
      break;
    case "step-started":
    case "step-done":
    case "step-failed": {
      const item = stepItem(msg.index);
      if (item) item.dataset.status = { "step-started": "running", "step-done": "done", "step-failed": "failed" }[msg.event];
      if (msg.event === "step-failed") logLine(`step ${msg.index + 1} failed: ${msg.error}`, "failed");
      break;
    }
    case "weights-set":
      logLine(`weights: ${msg.weights.map((w) => `${w.release} ${w.weight}`).join(" / ")}`, "weights");
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

// --- the stream ---------------------------------------------------------------------

function handle(msg) {
  const now = performance.now();
  if (msg.type === "state") {
    resetWall(msg.nodes, now);
    $("log").replaceChildren();
    $("steps").replaceChildren();
    msg.log.forEach(showRun);
    if (msg.controls) showControls(msg.controls);
    if (msg.traffic) showTraffic(msg.traffic);
  } else if (msg.type === "nodes") {
    msg.nodes.forEach((update) => applyNode(update, now));
  } else if (msg.type === "run") {
    showRun(msg);
  } else if (msg.type === "traffic") {
    showTraffic(msg);
  }
}

function connect() {
  const source = new EventSource("/events");
  source.onopen = () => { $("connection").dataset.connected = "true"; $("connection").textContent = "live"; };
  source.onerror = () => { $("connection").dataset.connected = "false"; $("connection").textContent = "reconnecting…"; };
  source.onmessage = (event) => handle(JSON.parse(event.data));
}

// --- the controls -------------------------------------------------------------------

async function post(path, body) {
  $("error").hidden = true;
  const response = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body || {}) });
  if (!response.ok) {
    const data = await response.json().catch(() => ({ error: response.statusText }));
    $("error").textContent = data.error || response.statusText;
    $("error").hidden = false;
  }
  return response;
}

function target() {
  return { version: $("version").value.trim(), color: $("color").value.replace("#", "") };
}

function wire() {
  $("replicas").addEventListener("input", () => { $("replicas-value").textContent = $("replicas").value; });
  $("scale").addEventListener("click", () => post("/api/scale", { replicas: Number($("replicas").value) }));
  document.querySelectorAll("button.strategy").forEach((button) => {
    button.addEventListener("click", () => {
      const body = { name: button.dataset.strategy, ...target() };
      if (body.name === "canary") body.canary_weight = Number($("canary-weight").value);
      post("/api/strategy", body);
    });
  });
  document.querySelectorAll("button.preset").forEach((button) => {
    button.addEventListener("click", () => { $("version").value = button.dataset.version; $("color").value = button.dataset.color; });
  });
  $("promote").addEventListener("click", () => post("/api/promote"));
  $("abort").addEventListener("click", () => post("/api/abort"));
}

wire();
connect();
