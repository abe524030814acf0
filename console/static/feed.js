// What both pages share: the event stream, and the wall (model, renderer, test hooks).
//
// The wall is drawn on a canvas (wall.js); ?wall=dom draws it as DOM elements instead
// (domwall.js, the bench's baseline). Test hooks, the same for both: window.wallState()
// (the model: {node: {status, pods: [{key, color, state}]}}), window.wallLights() (what is
// drawn, with centres), window.wallStats() (frames, draws, layout, pod count),
// window.wallDraws() (how many frames have drawn something so far), window.wallTake(msg)
// (show a nodes message in this browser only, as if it had come from the stream).
"use strict";

import { DomWall } from "./domwall.js";
import { WallModel } from "./lights.js";
import { CanvasWall } from "./wall.js";

export function wallIn(container, { style } = {}) {
  const model = new WallModel();
  const dom = new URLSearchParams(location.search).get("wall") === "dom";
  const renderer = dom ? new DomWall(container, model) : new CanvasWall(container, model, { style });
  window.wallState = () => model.state();
  window.wallLights = () => renderer.lights();
  window.wallStats = () => ({ ...renderer.stats, layout: renderer.layout ?? null, pods: model.count(), nodes: model.order.length });
  window.wallDraws = () => renderer.stats.draws; // cheap enough to read every frame (the bench's probe)
  const wall = {
    model,
    renderer,
    /** Take a state or nodes message; false for any other. */
    take(msg) {
      const now = performance.now();
      if (msg.type === "state") {
        model.reset(msg.nodes, now);
        renderer.touch(model.order, now);
      } else if (msg.type === "nodes") {
        msg.nodes.forEach((update) => model.apply(update, now));
        renderer.touch(msg.nodes.map((update) => update.node), now);
      } else {
        return false;
      }
      return true;
    },
  };
  window.wallTake = (msg) => wall.take(msg); // a nodes message the bus cannot carry yet (tests)
  return wall;
}

/** Follow /events; ``badge`` (an element) says whether the stream is live. */
export function follow(handle, badge) {
  const source = new EventSource("/events");
  source.onopen = () => { badge.dataset.connected = "true"; badge.textContent = "live"; };
  source.onerror = () => { badge.dataset.connected = "false"; badge.textContent = "reconnecting…"; };
  source.onmessage = (event) => handle(JSON.parse(event.data));
  return source;
}
