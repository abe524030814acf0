// The wall as DOM elements: one <span> per light, CSS animations. Kept as the baseline the
// canvas wall (wall.js) is measured against (bench/large_cluster.py opens the page with
// ?wall=dom), and for anyone who wants the lights in the accessibility tree. Same model
// (lights.js), same look; it renders a node as soon as its update arrives, as the console
// did before the canvas.
//
// Each light carries data-node, data-key, data-color, data-state (pending, ready,
// unready, terminating, or removed for a ghost); a node with pods beyond the console's
// cap says "+N more" in its header (data-hidden).
"use strict";

import { BLINK_MS, FLASH_MS, PULSE_MS, stale, staleText } from "./lights.js";

export class DomWall {
  constructor(container, model) {
    this.container = container;
    this.model = model;
    this.elements = new Map(); // node -> its panel
    this.stats = { renderer: "dom", frames: 0, draws: 0, nodeDraws: 0, layouts: 0 };
    container.replaceChildren();
    container.classList.add("dom-wall");
  }

  /** Render these nodes now (the model has just taken their updates). */
  touch(names, now) {
    if (this.model.shapeChanged) this.reshape();
    for (const name of names) {
      const node = this.model.nodes.get(name);
      if (!node) continue;
      this.render(node, now);
      if (node.slots.some((slot) => slot !== null)) setTimeout(() => this.render(node, performance.now()), FLASH_MS + 20);
    }
    this.stats.draws++;
    this.stats.nodeDraws += names.length;
  }

  reshape() {
    this.elements.forEach((el, name) => { if (!this.model.nodes.has(name)) el.remove(); });
    this.model.order.forEach((name) => {
      let el = this.elements.get(name);
      if (!el) {
        el = document.createElement("div");
        el.className = "node";
        el.dataset.node = name;
        el.innerHTML = '<h3><span class="name"></span><span class="more"></span><span class="status"></span></h3>' +
          '<div class="lights"></div>';
        el.querySelector(".name").textContent = name;
        this.elements.set(name, el);
      }
      this.container.appendChild(el); // in model order
    });
    [...this.elements.keys()].forEach((name) => { if (!this.model.nodes.has(name)) this.elements.delete(name); });
    this.model.shapeChanged = false;
    this.stats.layouts++;
  }

  render(node, now) {
    const el = this.elements.get(node.name);
    if (!el) return;
    const box = el.querySelector(".lights");
    const wanted = this.model.lights(node, now);
    // One element per pod (and per ghost), moved only when its place changes: a reused
    // element would carry another pod's colour transition, a re-inserted one restarts its
    // animation. Stale elements go first, so one change does not shift the whole row.
    const ids = wanted.map((light) => (light.state === "removed" ? "ghost:" : "") + light.key);
    const keep = new Set(ids);
    [...box.children].forEach((child) => { if (!keep.has(child.dataset.id)) child.remove(); });
    const existing = new Map([...box.children].map((child) => [child.dataset.id, child]));
    wanted.forEach((light, i) => {
      const span = existing.get(ids[i]) || document.createElement("span");
      span.dataset.id = ids[i];
      paint(span, node.name, light);
      if (box.children[i] !== span) box.insertBefore(span, box.children[i] || null);
    });
    el.dataset.status = node.status || "unknown";
    el.dataset.hidden = String(node.hidden);
    el.querySelector(".more").textContent = node.hidden ? `+${node.hidden} more` : "";
    el.dataset.stale = stale(node.status);
    el.querySelector(".status").textContent = stale(node.status) ? staleText(node.status) : (node.status || "");
    node.dirty = false;
  }

  lights() {
    return [...this.container.querySelectorAll(".light")].map((el) => {
      const r = el.getBoundingClientRect();
      return { node: el.dataset.node, key: el.dataset.key, pod: el.title, color: el.dataset.color, state: el.dataset.state,
               x: r.x + r.width / 2, y: r.y + r.height / 2, d: r.width, shown: true };
    });
  }
}

function paint(el, nodeName, light) {
  if (el.dataset.state === light.state && el.dataset.color === light.color) return;
  el.className = "light";
  el.dataset.node = nodeName;
  el.dataset.key = light.key;
  el.dataset.color = light.color;
  el.dataset.state = light.state;
  el.title = `${light.pod || light.key} (${light.state})`;
  el.style.setProperty("--c", "#" + light.color);
  const period = { terminating: BLINK_MS, unready: PULSE_MS }[light.state];
  el.style.animationDelay = period ? `-${performance.now() % period}ms` : "";
}
