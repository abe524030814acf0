// The timeline of the running strategy, on a canvas: what the server samples (console/timeline.py).
//
// Top: the wall's pods over time, stacked per colour (each labelled with its version):
// solid = ready, light = starting (pending or unready), striped = terminating. Bottom:
// the traffic share per version, measured (solid line) and as the step set it (dashed),
// failed requests in red. Vertical lines mark the run's moments (a plan started, weights
// set, paused, promoted, done), labelled at the top.
//
// The x axis shows the last SPAN_S seconds; a younger timeline fills from the left. It
// redraws once per animation frame at most, when a sample arrives or the canvas resizes.
"use strict";

import { rgba } from "./lights.js";

const SPAN_S = 180;
const MIN_SPAN_S = 30;
const FONT = "11px system-ui, -apple-system, 'Segoe UI', sans-serif";
const INK = { grid: "#2a2e39", text: "#8a8f9c", mark: "#5aa9ff", failed: "#ff5a5a" };

export class TimelineChart {
  constructor(canvas, legend, { span = SPAN_S } = {}) {
    this.canvas = canvas;
    this.legend = legend;
    this.span = span;
    this.samples = [];
    this.scheduled = false;
    this.legendKey = "";
    this.draws = 0;
    new ResizeObserver(() => this.schedule()).observe(canvas);
    window.timelineState = () => ({ samples: this.samples.length, draws: this.draws, last: this.samples.at(-1) ?? null });
  }

  reset(samples) {
    this.samples = samples.slice();
    this.schedule();
  }

  add(sample) {
    this.samples.push(sample);
    if (this.samples.length > 4 * this.span) this.samples.shift();
    this.schedule();
  }

  schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      this.draw();
    });
  }

  draw() {
    const width = this.canvas.clientWidth;
    const height = this.canvas.clientHeight;
    if (!width || !height) return;
    const dpr = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(width * dpr);
    this.canvas.height = Math.round(height * dpr);
    const ctx = this.canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.font = FONT;
    this.draws++;
    if (!this.samples.length) {
      ctx.fillStyle = INK.text;
      ctx.fillText("the timeline starts with the first sample", 8, height / 2);
      return;
    }
    const end = this.samples.at(-1).t;
    const x0 = Math.max(this.samples[0].t, end - this.span);
    const x1 = Math.max(end, x0 + MIN_SPAN_S);
    const shown = this.samples.filter((s) => s.t >= x0);
    const left = 30;
    const pods = { top: 36, bottom: Math.round(height * 0.62), left, right: width - 4 };
    const traffic = { top: pods.bottom + 14, bottom: height - 16, left, right: width - 4 };
    const x = (t) => left + ((t - x0) / (x1 - x0)) * (pods.right - left);
    this.podsPane(ctx, shown, pods, x);
    this.trafficPane(ctx, shown, traffic, x);
    this.marks(ctx, shown, { top: pods.top, bottom: traffic.bottom }, x);
    this.axis(ctx, x0, x1, end, traffic.bottom, x);
    this.updateLegend(shown);
  }

  podsPane(ctx, samples, pane, x) {
    const colors = order(samples.flatMap((s) => s.pods.map((p) => p.color)));
    const total = (s) => s.pods.reduce((n, p) => n + p.ready + p.pending + p.unready + p.terminating, 0);
    const top = nice(Math.max(1, ...samples.map(total)));
    const y = (n) => pane.bottom - (n / top) * (pane.bottom - pane.top);
    gridlines(ctx, pane, [0, top / 2, top], y, (n) => String(Math.round(n)));
    const base = samples.map(() => 0);
    for (const color of colors) {
      for (const band of ["ready", "starting", "terminating"]) {
        const values = samples.map((s) => {
          const p = s.pods.find((c) => c.color === color);
          if (!p) return 0;
          return band === "ready" ? p.ready : band === "starting" ? p.pending + p.unready : p.terminating;
        });
        if (!values.some((v) => v > 0)) continue;
        const lower = base.slice();
        values.forEach((v, i) => { base[i] += v; });
        ctx.fillStyle = band === "terminating" ? stripes(ctx, color) : rgba(color, band === "ready" ? 0.9 : 0.4);
        area(ctx, samples.map((s) => x(s.t)), lower.map(y), base.map(y));
      }
    }
    ctx.fillStyle = INK.text;
    ctx.fillText("pods", pane.left + 4, pane.top + 10);
  }

  trafficPane(ctx, samples, pane, x) {
    const y = (p) => pane.bottom - (p / 100) * (pane.bottom - pane.top);
    gridlines(ctx, pane, [0, 50, 100], y, (p) => `${p}%`);
    const versions = order(samples.flatMap((s) => s.traffic.map((t) => t.version)));
    for (const version of versions) {
      const color = samples.flatMap((s) => s.traffic).find((t) => t.version === version && t.color)?.color;
      const pick = (key) => samples.map((s) => {
        const row = s.traffic.find((t) => t.version === version);
        return row ? row[key] : key === "share" ? 0 : null;
      });
      ctx.strokeStyle = color ? `#${color}` : INK.text;
      line(ctx, samples.map((s) => x(s.t)), pick("weight").map((w) => (w === null ? null : y(w))), [5, 4]);
      line(ctx, samples.map((s) => x(s.t)), pick("share").map(y), []);
    }
    if (samples.some((s) => s.failed > 0)) {
      ctx.strokeStyle = INK.failed;
      line(ctx, samples.map((s) => x(s.t)), samples.map((s) => y(s.failed)), []);
    }
    ctx.fillStyle = INK.text;
    ctx.fillText("traffic", pane.left + 4, pane.top + 10);
  }

  marks(ctx, samples, pane, x) {
    const ends = [-Infinity, -Infinity, -Infinity]; // where the last label of each row ends
    for (const s of samples) {
      if (!s.mark) continue;
      const at = x(s.t);
      ctx.strokeStyle = INK.mark;
      ctx.setLineDash([2, 3]);
      ctx.beginPath();
      ctx.moveTo(at, pane.top);
      ctx.lineTo(at, pane.bottom);
      ctx.stroke();
      ctx.setLineDash([]);
      const width = ctx.measureText(s.mark).width;
      const left = Math.max(0, Math.min(at + 2, this.canvas.clientWidth - width - 2));
      const row = ends.findIndex((end) => left > end + 4);
      if (row < 0) continue; // no room for its label: the line says enough
      ends[row] = left + width;
      ctx.fillStyle = INK.mark;
      ctx.fillText(s.mark, left, 10 + 11 * row);
    }
  }

  axis(ctx, x0, x1, end, bottom, x) {
    const step = [10, 30, 60, 120, 300].find((s) => (x1 - x0) / s <= 6) || 600;
    ctx.fillStyle = INK.text;
    for (let t = end; t >= x0; t -= step) {
      const label = t === end ? "now" : `-${Math.round(end - t)} s`;
      ctx.fillText(label, Math.max(0, x(t) - ctx.measureText(label).width / 2), bottom + 12);
    }
  }

  updateLegend(samples) {
    const last = new Map();
    samples.forEach((s) => s.pods.forEach((p) => last.set(p.color, p.versions)));
    const key = JSON.stringify([...last]);
    if (key === this.legendKey) return;
    this.legendKey = key;
    const items = [...last].map(([color, versions]) => {
      const item = document.createElement("span");
      item.className = "legend-item";
      item.innerHTML = `<span class="swatch" style="--c:#${color}"></span>`;
      item.append(versions.length ? versions.join(" / ") : `#${color}`);
      return item;
    });
    const key2 = document.createElement("span");
    key2.className = "legend-key";
    key2.textContent = "solid ready · light starting · striped terminating · dashed: weight set";
    this.legend.replaceChildren(...items, key2);
  }
}

function order(values) {
  return [...new Set(values)];
}

function nice(n) {
  const p = 10 ** Math.floor(Math.log10(n));
  return [1, 2, 5, 10].map((m) => m * p).find((v) => v >= n);
}

function gridlines(ctx, pane, values, y, label) {
  ctx.strokeStyle = INK.grid;
  ctx.fillStyle = INK.text;
  ctx.lineWidth = 1;
  for (const v of values) {
    const at = Math.round(y(v)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(pane.left, at);
    ctx.lineTo(pane.right, at);
    ctx.stroke();
    ctx.fillText(label(v), 0, at + 4);
  }
}

function area(ctx, xs, lower, upper) {
  ctx.beginPath();
  xs.forEach((x, i) => (i ? ctx.lineTo(x, upper[i]) : ctx.moveTo(x, upper[i])));
  for (let i = xs.length - 1; i >= 0; i--) ctx.lineTo(xs[i], lower[i]);
  ctx.closePath();
  ctx.fill();
}

function line(ctx, xs, ys, dash) {
  ctx.setLineDash(dash);
  ctx.lineWidth = 2;
  ctx.beginPath();
  let drawing = false;
  xs.forEach((x, i) => {
    if (ys[i] === null) { drawing = false; return; }
    if (drawing) ctx.lineTo(x, ys[i]);
    else ctx.moveTo(x, ys[i]);
    drawing = true;
  });
  ctx.stroke();
  ctx.setLineDash([]);
  ctx.lineWidth = 1;
}

const patterns = new Map();

function stripes(ctx, color) {
  if (!patterns.has(color)) {
    const tile = document.createElement("canvas");
    tile.width = tile.height = 6;
    const t = tile.getContext("2d");
    t.strokeStyle = rgba(color, 0.8);
    t.lineWidth = 1.5;
    t.beginPath();
    t.moveTo(0, 6);
    t.lineTo(6, 0);
    t.stroke();
    patterns.set(color, ctx.createPattern(tile, "repeat"));
  }
  return patterns.get(color);
}
