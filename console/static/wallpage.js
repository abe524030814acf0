// /wall: the wall alone, full screen, for a booth's big screen (readable from 5 m):
// the canvas renderer with the wall style (large lights and names), and one line saying
// which release runs which version and takes which share of the requests.
"use strict";

import { follow, wallIn } from "./feed.js";
import { WALL_STYLE } from "./layout.js";

const $ = (id) => document.getElementById(id);
const wall = wallIn($("wall"), { style: WALL_STYLE });
let controls = null;
let traffic = null;

function showLive() {
  const parts = (controls ? controls.releases : []).map((r) => {
    const part = document.createElement("span");
    part.className = r.release === controls.live ? "release is-live" : "release";
    const dot = document.createElement("span");
    dot.className = "swatch";
    if (r.color) dot.style.setProperty("--c", `#${r.color}`);
    const row = traffic ? traffic.rows.find((t) => t.version === r.version) : null;
    part.append(r.release, " ", dot, ` ${r.version}${row ? ` · ${row.share}%` : ""}`);
    return part;
  });
  $("live").replaceChildren(...parts);
}

function handle(msg) {
  if (wall.take(msg)) {
    if (msg.type !== "state") return;
    controls = msg.controls || null;
    traffic = msg.traffic || null;
  } else if (msg.type === "run" && msg.controls) {
    controls = msg.controls;
  } else if (msg.type === "traffic") {
    traffic = msg;
  } else {
    return;
  }
  showLive();
}

$("fullscreen").addEventListener("click", () => {
  if (document.fullscreenElement) document.exitFullscreen();
  else document.documentElement.requestFullscreen().catch(() => {});
});
follow(handle, $("connection"));
