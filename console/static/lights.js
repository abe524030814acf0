// The wall's model, shared by its renderers (canvas: wall.js; DOM, the bench's baseline: domwall.js).
//
// It mirrors led_agent.rendering.Scene: each node has slots, either live (the k-th live
// slot shows the k-th pod of the node's ordered list) or a ghost (a removed pod flashing
// red where it stood). An update names removed pods by their slot in the list the server
// sent last; those slots become ghosts for FLASH_MS, then the gap closes. ``hidden`` counts
// the pods beyond the console's cap (--max-pods), which the renderers show as "+N more".
//
// How a light looks is a function of its state and the time (look()), with the LED
// agents' semantics: ready = full colour, pending = dim, unready = breathing (8 steps in
// 2 s), terminating = blinking at 2 Hz, removed = three red flashes in 0.9 s. Blinking and
// breathing take their phase from the clock, so every light on every node is in step.
// nextChange() says when a light will look different, so a renderer redraws a node only
// then, not on every frame.
"use strict";

export const FLASH_MS = 900;
export const FLASH_STEP_MS = 150;
export const BLINK_MS = 500;
export const PULSE_MS = 2000;
export const PULSE_STEPS = 8;
export const RED = "ff0000";

export function natural(a, b) {
  return a.localeCompare(b, undefined, { numeric: true });
}

/** A node is stale when its watcher says anything but online (offline, degraded); unknown is not stale. */
export function stale(status) {
  return status !== null && status !== undefined && status !== "online";
}

/** ``ffff00`` at ``alpha`` as a CSS colour. */
export function rgba(color, alpha) {
  const n = parseInt(color, 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

export function staleText(status) {
  return status === "offline" ? "watcher offline" : status === "degraded" ? "watcher degraded: cannot read the API" : status;
}

export class WallModel {
  constructor() {
    this.nodes = new Map(); // name -> {name, status, pods, slots, dirty}
    this.order = []; // node names, natural order
    this.shapeChanged = true; // nodes came or went: the renderer lays out again
  }

  reset(views, now) {
    this.nodes.clear();
    this.order = [];
    this.shapeChanged = true;
    views.forEach((view) => this.apply(view, now));
  }

  apply(update, now) {
    if (update.gone) {
      if (this.nodes.delete(update.node)) {
        this.order = this.order.filter((name) => name !== update.node);
        this.shapeChanged = true;
      }
      return;
    }
    const node = this.node(update.node);
    const liveAt = [];
    node.slots.forEach((slot, i) => { if (slot === null) liveAt.push(i); });
    for (const removed of update.removed || []) {
      if (removed.slot < liveAt.length) {
        const pod = node.pods[removed.slot];
        node.slots[liveAt[removed.slot]] = { key: removed.key, pod: pod ? pod.pod : removed.key, until: now + FLASH_MS };
      }
    }
    node.pods = update.pods;
    node.status = update.status;
    node.hidden = update.hidden || 0;
    fit(node);
    node.dirty = true;
  }

  node(name) {
    let node = this.nodes.get(name);
    if (node) return node;
    node = { name, status: null, hidden: 0, pods: [], slots: [], dirty: true };
    this.nodes.set(name, node);
    const at = this.order.findIndex((other) => natural(other, name) > 0);
    this.order.splice(at < 0 ? this.order.length : at, 0, name);
    this.shapeChanged = true;
    return node;
  }

  /** What a node shows now: live pods and ghosts, in slot order (expired ghosts dropped). */
  lights(node, now) {
    if (node.slots.some((slot) => slot !== null && slot.until <= now)) {
      node.slots = node.slots.filter((slot) => slot === null || slot.until > now);
    }
    let k = 0;
    return node.slots.map((slot) => {
      if (slot !== null) return { key: slot.key, pod: slot.pod, color: RED, state: "removed", until: slot.until };
      const pod = node.pods[k++];
      return { key: pod.key, pod: pod.pod, color: pod.color, state: pod.state };
    });
  }

  /** Slots of the fullest node (ghosts included): how much room every node needs. */
  capacity() {
    let most = 0;
    this.nodes.forEach((node) => { most = Math.max(most, node.slots.length); });
    return most;
  }

  count() {
    let pods = 0;
    this.nodes.forEach((node) => { pods += node.pods.length; });
    return pods;
  }

  state() {
    const out = {};
    this.nodes.forEach((node, name) => {
      out[name] = { status: node.status, hidden: node.hidden,
        pods: node.pods.map((p) => ({ key: p.key, color: p.color, state: p.state })) };
    });
    return out;
  }
}

function fit(node) {
  let missing = node.pods.length - node.slots.filter((slot) => slot === null).length;
  while (missing > 0) { node.slots.push(null); missing--; }
  while (missing < 0) {
    node.slots.splice(node.slots.lastIndexOf(null), 1);
    missing++;
  }
}

/** How a light looks at ``now``: its colour, opacity, and whether it glows. */
export function look(light, now) {
  switch (light.state) {
    case "pending":
      return { color: light.color, alpha: 0.3, glow: false };
    case "unready": {
      const step = Math.floor((now % PULSE_MS) / (PULSE_MS / PULSE_STEPS)) / PULSE_STEPS;
      return { color: light.color, alpha: 0.25 + 0.75 * (1 - Math.abs(2 * step - 1)), glow: true };
    }
    case "terminating":
      return { color: light.color, alpha: now % BLINK_MS < BLINK_MS / 2 ? 1 : 0, glow: true };
    case "removed": {
      const since = now - (light.until - FLASH_MS);
      return { color: RED, alpha: Math.floor(since / FLASH_STEP_MS) % 2 === 0 ? 1 : 0, glow: true };
    }
    default:
      return { color: light.color, alpha: 1, glow: true };
  }
}

/** When ``light`` will next look different (Infinity: never on its own). */
export function nextChange(light, now) {
  switch (light.state) {
    case "unready": {
      const step = PULSE_MS / PULSE_STEPS;
      return now - (now % step) + step;
    }
    case "terminating": {
      const half = BLINK_MS / 2;
      return now - (now % half) + half;
    }
    case "removed": {
      const start = light.until - FLASH_MS;
      return Math.min(light.until, start + (Math.floor((now - start) / FLASH_STEP_MS) + 1) * FLASH_STEP_MS);
    }
    default:
      return Infinity;
  }
}
