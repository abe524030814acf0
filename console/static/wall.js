// The wall on canvases: every node's lights, auto-fitted to the area, at the display's frame rate.
//
// Why canvases: the DOM wall restyled up to 3,000 elements per change and fell to 18-25
// frames/s in a 100 x 30 rolling update. Here a change costs only what it changes:
//
// - Messages only update the model (lights.js) and mark nodes dirty; drawing happens once
//   per animation frame, for the nodes that are dirty or whose animation steps now (each
//   node knows when its next blink, breath or flash step is due: nextChange).
// - One small canvas per node panel, placed by the layout: a frame that changes three
//   nodes hands the compositor three small bitmaps, not one the size of the screen.
// - Within a node only the lights that look different are repainted (each slot remembers
//   the colour, opacity and glow it was drawn with); a light is a pre-rendered sprite per
//   colour and size stamped over its dark socket. A node is repainted whole only after a
//   layout or a status change.
// - The layout (layout.js) is recomputed when nodes come or go, the area is resized, or
//   the fullest node outgrows its panel; it grows with HEADROOM to spare and shrinks only
//   once the nodes have stayed well below it for SHRINK_AFTER_MS, so a rollout's surge
//   does not make the wall jump.
//
// Stale nodes (watcher offline or degraded) are drawn dimmed with a dashed border and
// their status across the panel; a node with pods beyond the console's cap says "+N more"
// beside its name.
//
// Test hooks: lights() lists what is drawn (node, key, pod, colour, state, centre and
// diameter in CSS pixels, from the wall's corner (x, y) and from its panel's (px, py),
// the panel being canvas[data-node=…]); stats counts frames, frames that drew, node
// repaints, lights painted, layouts.
"use strict";

import { look, nextChange, rgba, stale, staleText } from "./lights.js";
import { PAGE_STYLE, cell, centre, fit } from "./layout.js";

const SHRINK_AFTER_MS = 5000;
const HEADROOM = 1.2; // room for a surge when the fullest node outgrows its panel
const SHRINK_BELOW = 0.8; // of the room, for SHRINK_AFTER_MS, before the lights grow again
const STALE_ALPHA = 0.35;
const FONT = 'system-ui, -apple-system, "Segoe UI", sans-serif';
const INK = { panel: "#1b1e26", socket: "#0a0c10", name: "#e6e6e6", staleName: "#9aa0ad", more: "#8a8f9c", bad: "#ff5a5a",
              warn: "#ffb347" };

export class CanvasWall {
  constructor(container, model, { style = PAGE_STYLE } = {}) {
    this.container = container;
    this.model = model;
    this.style = style;
    this.panels = new Map(); // node -> {canvas, ctx, drawn: [slot key], status, next}
    this.sprites = new Map();
    this.layout = null;
    this.capacity = 0;
    this.shrinkSince = null;
    this.dpr = 1;
    this.stats = { renderer: "canvas", frames: 0, draws: 0, nodeDraws: 0, lightDraws: 0, layouts: 0 };
    this.resized = true;
    container.replaceChildren();
    container.classList.add("canvas-wall");
    container.setAttribute("role", "img");
    new ResizeObserver(() => { this.resized = true; }).observe(container);
    container.addEventListener("mousemove", (event) => this.hover(event));
    const loop = (now) => {
      this.frame(now);
      requestAnimationFrame(loop);
    };
    requestAnimationFrame(loop);
  }

  /** Nothing to do at once: the next frame draws the nodes the model marked dirty. */
  touch() {}

  frame(now) {
    this.stats.frames++;
    const relayout = this.resized || this.model.shapeChanged || this.outgrown(now);
    if (relayout) this.lay();
    if (this.layout === null) return;
    let drew = 0;
    for (const name of this.model.order) {
      const node = this.model.nodes.get(name);
      const panel = this.panels.get(name);
      if (node.dirty || panel.next <= now) drew += this.draw(node, panel, now);
    }
    if (drew) {
      this.stats.draws++;
      this.stats.nodeDraws += drew;
    }
  }

  outgrown(now) {
    const wanted = this.model.capacity();
    if (wanted > this.capacity) {
      this.capacity = this.capacity ? Math.ceil(wanted * HEADROOM) : wanted;
      this.shrinkSince = null;
      return true;
    }
    if (wanted > this.capacity * SHRINK_BELOW || wanted === 0) {
      this.shrinkSince = null;
      return false;
    }
    if (this.shrinkSince === null) this.shrinkSince = now;
    if (now - this.shrinkSince < SHRINK_AFTER_MS) return false;
    this.capacity = wanted;
    this.shrinkSince = null;
    return true;
  }

  lay() {
    const width = Math.floor(this.container.clientWidth);
    const height = Math.floor(this.container.clientHeight);
    this.dpr = window.devicePixelRatio || 1;
    this.capacity = Math.max(this.capacity, this.model.capacity(), 1);
    const longest = Math.max(4, ...this.model.order.map((name) => name.length));
    const count = this.model.order.length;
    this.layout = count ? fit({ count, capacity: this.capacity, width, height, longest, style: this.style }) : null;
    this.sprites.clear();
    this.resized = false;
    this.model.shapeChanged = false;
    this.stats.layouts++;
    for (const [name, panel] of this.panels) {
      if (!this.model.nodes.has(name)) {
        panel.canvas.remove();
        this.panels.delete(name);
      }
    }
    if (this.layout === null) return;
    this.model.order.forEach((name, index) => this.place(name, index));
  }

  place(name, index) {
    let panel = this.panels.get(name);
    if (!panel) {
      const canvas = document.createElement("canvas");
      canvas.className = "node-canvas";
      canvas.dataset.node = name;
      this.container.appendChild(canvas);
      panel = { canvas, ctx: canvas.getContext("2d"), drawn: [], status: undefined, next: Infinity, box: null };
      this.panels.set(name, panel);
    }
    const L = this.layout;
    const box = cell(L, index);
    Object.assign(panel.canvas.style, { left: `${box.x}px`, top: `${box.y}px`, width: `${box.w}px`, height: `${box.h}px` });
    panel.canvas.width = Math.max(1, Math.round(box.w * this.dpr));
    panel.canvas.height = Math.max(1, Math.round(box.h * this.dpr));
    panel.box = box;
    panel.drawn = [];
    panel.status = undefined; // repaint it whole
    this.model.nodes.get(name).dirty = true;
  }

  /** Repaint what changed on one node; 1 if anything was painted. */
  draw(node, panel, now) {
    const L = this.layout;
    const ctx = panel.ctx;
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    const whole = panel.status !== node.status || panel.hidden !== node.hidden;
    if (whole) this.paintPanel(node, panel);
    const lights = this.model.lights(node, now);
    const dim = stale(node.status) ? STALE_ALPHA : 1;
    let next = Infinity;
    let painted = 0;
    const room = L.across * L.down;
    for (let slot = 0; slot < Math.max(lights.length, panel.drawn.length) && slot < room; slot++) {
      const light = lights[slot];
      const shown = light ? look(light, now) : null;
      if (light) next = Math.min(next, nextChange(light, now));
      const key = shown && shown.alpha > 0 ? `${shown.color}/${shown.glow}/${shown.alpha * dim}` : "";
      if (!whole && panel.drawn[slot] === key) continue;
      this.paintSlot(ctx, slot, shown, dim);
      panel.drawn[slot] = key;
      painted++;
    }
    panel.drawn.length = Math.min(panel.drawn.length, Math.max(lights.length, 0));
    if (stale(node.status) && (whole || painted)) this.banner(ctx, staleText(node.status), node.status === "degraded" ? INK.warn : INK.bad);
    node.dirty = false;
    panel.next = next;
    this.stats.lightDraws += painted;
    return whole || painted ? 1 : 0;
  }

  paintPanel(node, panel) {
    const L = this.layout;
    const { w, h } = panel.box;
    const ctx = panel.ctx;
    const isStale = stale(node.status);
    ctx.clearRect(0, 0, w, h);
    ctx.fillStyle = INK.panel;
    roundRect(ctx, 0, 0, w, h, Math.min(10, L.pad));
    ctx.fill();
    if (isStale) {
      ctx.save();
      ctx.strokeStyle = node.status === "degraded" ? INK.warn : INK.bad;
      ctx.lineWidth = Math.max(2, L.font / 8);
      ctx.setLineDash([L.font / 2, L.font / 3]);
      roundRect(ctx, 1, 1, w - 2, h - 2, Math.min(10, L.pad));
      ctx.stroke();
      ctx.restore();
    }
    ctx.textBaseline = "middle";
    const more = node.hidden ? `+${node.hidden} more` : "";
    ctx.font = `500 ${L.font * 0.6}px ${FONT}`;
    const moreWidth = more ? Math.min(ctx.measureText(more).width, (w - 2 * L.pad) / 2) : 0;
    if (more) {
      ctx.fillStyle = INK.more;
      ctx.textAlign = "end";
      ctx.fillText(more, w - L.pad, L.pad + L.label / 2, moreWidth);
      ctx.textAlign = "start";
    }
    ctx.fillStyle = isStale ? INK.staleName : INK.name;
    ctx.font = `600 ${L.font}px ${FONT}`;
    ctx.fillText(node.name, L.pad, L.pad + L.label / 2, w - 2 * L.pad - moreWidth - (more ? L.pad : 0));
    for (let slot = 0; slot < L.capacity; slot++) this.paintSlot(ctx, slot, null, 1);
    panel.drawn = [];
    panel.status = node.status;
    panel.hidden = node.hidden;
  }

  /** One light's square: the panel's colour, the socket, and the light if it is on. */
  paintSlot(ctx, slot, shown, dim) {
    const L = this.layout;
    const c = centre(L, { x: 0, y: 0 }, slot);
    const x = c.x - L.pitch / 2;
    const y = c.y - L.pitch / 2;
    ctx.fillStyle = INK.panel;
    ctx.fillRect(x, y, L.pitch, L.pitch);
    ctx.drawImage(this.sprite("socket", false), x, y, L.pitch, L.pitch);
    if (shown && shown.alpha > 0) {
      ctx.globalAlpha = shown.alpha * dim;
      ctx.drawImage(this.sprite(shown.color, shown.glow), x, y, L.pitch, L.pitch);
      ctx.globalAlpha = 1;
    }
  }

  banner(ctx, text, color) {
    const L = this.layout;
    const w = ctx.canvas.width / this.dpr;
    const h = ctx.canvas.height / this.dpr;
    const size = Math.max(11, Math.min(L.font, (w - 2 * L.pad) / (0.55 * text.length)));
    const y = L.pad + L.label + (h - 2 * L.pad - L.label) / 2;
    ctx.fillStyle = "rgba(10, 12, 16, 0.78)";
    ctx.fillRect(L.pad / 2, y - size * 0.8, w - L.pad, size * 1.6);
    ctx.fillStyle = color;
    ctx.font = `700 ${size}px ${FONT}`;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillText(text, w / 2, y, w - L.pad);
    ctx.textAlign = "start";
  }

  sprite(color, glow) {
    const key = `${color}/${glow}`;
    let sprite = this.sprites.get(key);
    if (sprite) return sprite;
    const L = this.layout;
    const size = Math.max(2, Math.ceil(L.pitch * this.dpr));
    sprite = document.createElement("canvas");
    sprite.width = sprite.height = size;
    const ctx = sprite.getContext("2d");
    const mid = size / 2;
    const core = (size * L.diameter) / L.pitch / 2;
    if (glow) {
      const halo = ctx.createRadialGradient(mid, mid, core * 0.6, mid, mid, mid);
      halo.addColorStop(0, rgba(color, 0.55));
      halo.addColorStop(1, rgba(color, 0));
      ctx.fillStyle = halo;
      ctx.fillRect(0, 0, size, size);
    }
    ctx.fillStyle = color === "socket" ? INK.socket : `#${color}`;
    ctx.beginPath();
    ctx.arc(mid, mid, core, 0, 2 * Math.PI);
    ctx.fill();
    this.sprites.set(key, sprite);
    return sprite;
  }

  /** The light under the pointer, as the wall's tooltip. */
  hover(event) {
    const rect = this.container.getBoundingClientRect();
    const hit = this.at(event.clientX - rect.left, event.clientY - rect.top);
    this.container.title = hit ? `${hit.pod} (${hit.state}) on ${hit.node}` : "";
  }

  at(x, y) {
    const L = this.layout;
    if (!L) return null;
    const col = Math.floor((x - L.x0) / (L.cellW + L.gap));
    const row = Math.floor((y - L.y0) / (L.cellH + L.gap));
    const index = row * L.cols + col;
    const name = this.model.order[index];
    if (col < 0 || row < 0 || col >= L.cols || name === undefined) return null;
    const box = cell(L, index);
    const across = Math.floor((x - box.x - L.pad) / L.pitch);
    const down = Math.floor((y - box.y - L.pad - L.label) / L.pitch);
    if (across < 0 || across >= L.across || down < 0) return null;
    const light = this.model.lights(this.model.nodes.get(name), performance.now())[down * L.across + across];
    return light ? { ...light, node: name } : null;
  }

  /** Every light drawn, with its centre and diameter in CSS pixels from the wall's corner (test hook). */
  lights() {
    const L = this.layout;
    const now = performance.now();
    const out = [];
    if (!L) return out;
    this.model.order.forEach((name, index) => {
      const box = cell(L, index);
      this.model.lights(this.model.nodes.get(name), now).forEach((light, slot) => {
        const c = centre(L, box, slot);
        out.push({ node: name, key: light.key, pod: light.pod, color: light.color, state: light.state,
                   x: c.x, y: c.y, px: c.x - box.x, py: c.y - box.y, d: L.diameter, shown: slot < L.across * L.down });
      });
    });
    return out;
  }
}

function roundRect(ctx, x, y, w, h, r) {
  ctx.beginPath();
  ctx.moveTo(x + r, y);
  ctx.arcTo(x + w, y, x + w, y + h, r);
  ctx.arcTo(x + w, y + h, x, y + h, r);
  ctx.arcTo(x, y + h, x, y, r);
  ctx.arcTo(x, y, x + w, y, r);
  ctx.closePath();
}
