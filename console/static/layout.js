// Auto-fit: the grid of node panels and, inside each, the grid of lights that makes the
// lights as large as the area allows. Pure (numbers in, numbers out); the renderer calls
// it when nodes come or go, the fullest node outgrows its panel, or the area is resized.
//
// For ``count`` nodes of at most ``capacity`` lights in a ``width`` x ``height`` area it
// tries every number of panel columns and, for each, every number of light columns, and
// keeps the layout with the largest light pitch (up to the style's maxPitch; among equals,
// the one whose shape best matches the area's). Each panel has a label band
// on top (node name and status) whose height follows the panel's, within the style's
// bounds, and whose font is also bounded by the longest name, so a name always fits; with
// many small panels the gaps, padding and label band shrink with them.
// Panels shrink to their lights and the grid is centred in the area (on the page: at its top).
"use strict";

export const PAGE_STYLE = { gap: 8, pad: 8, labelShare: 0.16, minLabel: 18, maxLabel: 28, light: 0.78, maxPitch: 160,
                            middle: false };
export const WALL_STYLE = { gap: 14, pad: 12, labelShare: 0.2, minLabel: 26, maxLabel: 96, light: 0.8, maxPitch: 480,
                            middle: true };

const CHAR_WIDTH = 0.6; // of the font size, for a proportional sans-serif
const FONT_SHARE = 0.72; // of the label band
const MIN_FONT = 11; // a layout whose names would be smaller is taken only if there is no other

export function fit({ count, capacity, width, height, longest = 8, style = PAGE_STYLE }) {
  const slots = Math.max(1, capacity);
  const names = Math.max(4, longest);
  let best = null;
  let fallback = null; // the best layout whatever its names' size
  for (let cols = 1; cols <= Math.max(1, count); cols++) {
    const rows = Math.ceil(Math.max(1, count) / cols);
    // Many small panels: less room between and around them, a smaller label band.
    const gap = Math.min(style.gap, Math.max(2, 0.08 * Math.min(width / cols, height / rows)));
    const cellW = (width - gap * (cols - 1)) / cols;
    const cellH = (height - gap * (rows - 1)) / rows;
    const pad = Math.min(style.pad, Math.max(2, 0.06 * Math.min(cellW, cellH)));
    const label = Math.min(style.maxLabel, Math.max(Math.min(style.minLabel, cellH * 0.22), cellH * style.labelShare));
    const innerW = cellW - 2 * pad;
    const innerH = cellH - 2 * pad - label;
    if (innerW <= 0 || innerH <= 0) continue;
    const readable = Math.min(label * FONT_SHARE, innerW / (CHAR_WIDTH * names)) >= MIN_FONT;
    for (let across = 1; across <= slots; across++) {
      const down = Math.ceil(slots / across);
      const pitch = Math.min(innerW / across, innerH / down, style.maxPitch);
      const usedW = cols * (2 * pad + across * pitch);
      const usedH = rows * (2 * pad + label + down * pitch);
      const misfit = Math.abs(Math.log(usedW / usedH / (width / height)));
      const candidate = { cols, rows, cellW, cellH, label, across, down, pitch, misfit, gap, pad };
      if (readable && better(candidate, best)) best = candidate;
      if (better(candidate, fallback)) fallback = candidate;
    }
  }
  best = best || fallback;
  if (best === null) return null;
  const { pad, gap } = best;
  const minW = best.cellW;
  best.cellW = Math.min(best.cellW, 2 * pad + best.across * best.pitch);
  best.cellH = Math.min(best.cellH, 2 * pad + best.label + best.down * best.pitch);
  const font = Math.max(8, Math.min(best.label * FONT_SHARE, (minW - 2 * pad) / (CHAR_WIDTH * names)));
  const usedW = best.cols * best.cellW + (best.cols - 1) * gap;
  const usedH = best.rows * best.cellH + (best.rows - 1) * gap;
  return { ...best, font, diameter: best.pitch * style.light, capacity: slots,
           x0: Math.max(0, (width - usedW) / 2), y0: style.middle ? Math.max(0, (height - usedH) / 2) : 0 };
}

function better(candidate, best) {
  if (best === null || candidate.pitch > best.pitch + 1e-6) return true;
  return candidate.pitch > best.pitch - 1e-6 && candidate.misfit < best.misfit;
}

/** The panel of node ``index``, in CSS pixels. */
export function cell(layout, index) {
  const col = index % layout.cols;
  const row = Math.floor(index / layout.cols);
  return { x: layout.x0 + col * (layout.cellW + layout.gap), y: layout.y0 + row * (layout.cellH + layout.gap),
           w: layout.cellW, h: layout.cellH };
}

/** The centre of light ``slot`` in the panel ``box``, in CSS pixels. */
export function centre(layout, box, slot) {
  const col = slot % layout.across;
  const row = Math.floor(slot / layout.across);
  return {
    x: box.x + layout.pad + (col + 0.5) * layout.pitch,
    y: box.y + layout.pad + layout.label + (row + 0.5) * layout.pitch,
  };
}
