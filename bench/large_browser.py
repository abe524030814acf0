"""The console page in headless Chromium, with a probe that measures its frames.

The wall has two renderers (``console/static``): the canvas (``wall.js``, the default)
and the DOM one it replaced (``domwall.js``, ``?wall=dom``), kept as the baseline. One
browser opens one page per renderer in turn (:func:`open_page`), so both are measured in
the same run, on the same cluster.

"Frame rate of the wall" is two numbers, and the probe (:data:`PROBE_JS`, injected into
the page) records both per second:

- **frames**: ``requestAnimationFrame`` callbacks — how often the browser could paint.
  When the main thread is busy applying updates to 3000 lights, this drops.
- **wall frames**: frames in which the wall changed since the previous frame — for the
  DOM wall a ``MutationObserver`` on ``#wall`` sets a flag, for the canvas the
  renderer's draw counter (``window.wallDraws()``) moved; the next frame counts and
  clears it. How often the picture actually moved: the console sends coalesced updates
  every 75 ms, and the canvas also redraws a node when its blinking steps (4 times a
  second), so this is at most ~13/s for the DOM wall and higher for the canvas.

Where the main thread's time goes comes from the DevTools protocol's
``Performance.getMetrics`` (seconds in tasks, and within them in script, style
recalculation and layout), read before and after a window.

Also per second: the mutation records (how much DOM work), the longest gap between two
frames (the worst stutter), and the time in long tasks (> 50 ms) where the browser
reports them. ``performance.memory`` (Chromium only, precise with
``--enable-precise-memory-info``) gives the JS heap.

Completion is read from what is shown, not from the page's model: the DOM wall's light
elements, or the canvas's list of drawn lights (``window.wallLights()``); the wall is
done when it shows exactly ``expected`` lights, all ready, all in the new colour (ghosts
of removed pods flash for 0.9 s and then go, so they count against it until then).

Headless Chromium is Debian's (``/usr/bin/chromium``) driven by Playwright, as in the
console's end-to-end tests; Playwright's own browser download is not used.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--enable-precise-memory-info"]  # fmt: skip
VIEWPORT: ViewportSize = {"width": 1920, "height": 1080}  # a wall display

Renderer = Literal["dom", "canvas", "wall"]
PATHS: dict[Renderer, str] = {"dom": "/?wall=dom", "canvas": "/", "wall": "/wall"}  # the console page, or /wall
TITLES: dict[Renderer, str] = {"dom": "DOM wall (the old one)", "canvas": "canvas wall", "wall": "canvas, /wall"}

PROBE_JS = """
() => {
  const p = window.__probe = {start: performance.now(), frames: [], wall: [], records: [], gap: [], longtask: [],
                              dirty: false, last: performance.now(), longtasks: true};
  const slot = (arr, t) => { const i = Math.max(0, Math.floor((t - p.start) / 1000));
                             while (arr.length <= i) arr.push(0); return i; };
  p.reset = () => { p.start = performance.now(); p.last = p.start;
                    for (const k of ["frames", "wall", "records", "gap", "longtask"]) p[k] = []; };
  let draws = window.wallDraws ? window.wallDraws() : 0;
  const frame = () => {
    const now = performance.now();
    p.frames[slot(p.frames, now)]++;
    const i = slot(p.gap, now);
    p.gap[i] = Math.max(p.gap[i], now - p.last);
    p.last = now;
    const w = slot(p.wall, now);
    const drawn = window.wallDraws ? window.wallDraws() : 0;
    if (drawn !== draws) { p.dirty = true; draws = drawn; }
    if (p.dirty) { p.wall[w]++; p.dirty = false; }
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
  new MutationObserver((list) => { p.dirty = true; p.records[slot(p.records, performance.now())] += list.length; })
    .observe(document.getElementById("wall"), {subtree: true, childList: true, attributes: true});
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) p.longtask[slot(p.longtask, e.startTime)] += e.duration;
    }).observe({type: "longtask"});
  } catch (e) { p.longtasks = false; }
}
"""

READ_JS = """
() => {
  const p = window.__probe;
  const n = Math.floor((performance.now() - p.start) / 1000);  // whole seconds only
  const cut = (arr) => Array.from({length: n}, (_, i) => arr[i] || 0);
  return {frames: cut(p.frames), wall: cut(p.wall), records: cut(p.records), gap: cut(p.gap),
          longtask: cut(p.longtask), longtasks: p.longtasks};
}
"""

WALL_JS = """
(color) => {
  const stats = window.wallStats();
  const lights = stats.renderer === "dom"
    ? [...document.querySelectorAll("#wall .light")].map((el) => ({state: el.dataset.state, color: el.dataset.color}))
    : window.wallLights();
  let done = 0;
  for (const light of lights) if (light.state === "ready" && light.color === color) done++;
  return {lights: lights.length, done, nodes: stats.nodes};
}
"""

HEAP_JS = """
() => ({heap: performance.memory ? performance.memory.usedJSHeapSize : null,
        elements: document.getElementsByTagName("*").length})
"""


class BrowserError(RuntimeError):
    """Chromium is missing, or the page did not load."""


@dataclass(frozen=True)
class WallCount:
    lights: int  # lights on the wall, ghosts included
    done: int  # ready and in the colour asked for
    nodes: int

    def complete(self, expected: int) -> bool:
        return self.lights == expected and self.done == expected


@dataclass(frozen=True)
class FrameSeries:
    """Per whole second since the probe's last reset."""

    frames: list[int]
    wall: list[int]
    records: list[int]
    gap_ms: list[float]
    longtask_ms: list[float]
    longtasks_reported: bool


MAIN_THREAD_METRICS = ("TaskDuration", "ScriptDuration", "RecalcStyleDuration", "LayoutDuration")


class WallPage:
    """One console page with the probe installed, and a DevTools session for its main-thread metrics."""

    def __init__(self, page: Page, renderer: Renderer) -> None:
        self.page = page
        self.renderer = renderer
        self._cdp = page.context.new_cdp_session(page)
        self._cdp.send("Performance.enable")

    def close(self) -> None:
        self.page.close()

    def main_thread(self) -> dict[str, float]:
        """Seconds the renderer's main thread spent so far: in tasks, and within them in script, style, layout."""
        metrics = self._cdp.send("Performance.getMetrics")["metrics"]
        return {m["name"]: float(m["value"]) for m in metrics if m["name"] in MAIN_THREAD_METRICS}

    @property
    def browser_version(self) -> str:
        browser = self.page.context.browser
        return browser.version if browser is not None else "unknown"

    def install_probe(self) -> None:
        self.page.evaluate(PROBE_JS)

    def reset_probe(self) -> None:
        self.page.evaluate("() => window.__probe.reset()")

    def frames(self) -> FrameSeries:
        raw: dict[str, Any] = self.page.evaluate(READ_JS)
        return FrameSeries(raw["frames"], raw["wall"], raw["records"], raw["gap"], raw["longtask"], raw["longtasks"])

    def wall(self, color: str) -> WallCount:
        raw: dict[str, int] = self.page.evaluate(WALL_JS, color)
        return WallCount(raw["lights"], raw["done"], raw["nodes"])

    def heap_mib(self) -> tuple[float | None, int]:
        """(used JS heap in MiB if the browser reports it, DOM elements)."""
        raw: dict[str, Any] = self.page.evaluate(HEAP_JS)
        heap = raw["heap"]
        return (heap / 2**20 if heap is not None else None), int(raw["elements"])


@contextlib.contextmanager
def open_browser() -> Iterator[Browser]:
    """Headless Chromium (Debian's), closed on the way out."""
    if not Path(CHROMIUM).exists():
        raise BrowserError(f"{CHROMIUM} is missing: apt-get install chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser: Browser, console: str, renderer: Renderer) -> WallPage:
    """The console's page for ``renderer``, the probe installed once it is connected."""
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(console + PATHS[renderer])
    page.wait_for_selector("#connection[data-connected=true]", timeout=30_000)
    wall = WallPage(page, renderer)
    wall.install_probe()
    return wall
