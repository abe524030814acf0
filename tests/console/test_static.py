"""The page's pure modules (``console/static/layout.js``, ``lights.js``) in Chromium, over tables.

No drawing here: the modules are imported into a blank page of the console and called
with many inputs; the browser tests check what the canvases then draw.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from tests.console.conftest import ConsoleApp

FIT_JS = """async (cases) => {
  const { fit, cell, centre, PAGE_STYLE, WALL_STYLE } = await import("/static/layout.js");
  return cases.map(([count, capacity, width, height, wall]) => {
    const style = wall ? WALL_STYLE : PAGE_STYLE;
    const L = fit({ count, capacity, width, height, longest: 8, style });
    if (L === null) return null;
    const boxes = Array.from({ length: count }, (_, i) => cell(L, i));
    const last = centre(L, boxes[count - 1], capacity - 1);
    return { L, boxes, last };
  });
}"""

LOOK_JS = """async (states) => {
  const { look, nextChange, FLASH_MS } = await import("/static/lights.js");
  const problems = [];
  for (const state of states) {
    const light = { key: "k", pod: "p", color: "a81399", state, until: 5000 + FLASH_MS };
    for (let t = 5000; t < 5000 + FLASH_MS; t += 7) {
      const seen = JSON.stringify(look(light, t));
      const next = nextChange(light, t);
      if (!(next > t)) problems.push([state, t, "next change not after now", next]);
      for (const u of [t + 1, (t + Math.min(next, t + 3000)) / 2, Math.min(next, t + 3000) - 0.01]) {
        if (u < next && JSON.stringify(look(light, u)) !== seen) problems.push([state, t, "changed before", u, next]);
      }
      if (Number.isFinite(next) && next < light.until && JSON.stringify(look(light, next)) === seen) {
        problems.push([state, t, "no change at", next]);
      }
    }
  }
  return problems;
}"""


@pytest.fixture
def blank(console_app: ConsoleApp, browser: Browser) -> Iterator[Page]:
    page = browser.new_page()
    page.goto(f"{console_app.url}/favicon.ico")  # any page of the console's origin, for the imports
    yield page
    page.close()


AREAS = ((420, 480), (1000, 700), (1920, 1080), (600, 1600))
CASES = [(count, capacity, width, height, wall)
         for count in (1, 2, 3, 7, 12, 30, 100, 250) for capacity in (1, 4, 8, 30, 37)
         for width, height in AREAS for wall in (False, True)]  # fmt: skip


def test_the_layout_fits_every_light_inside_the_area_without_overlap(blank: Page) -> None:
    results: list[Any] = blank.evaluate(FIT_JS, CASES)
    for (count, capacity, width, height, wall), result in zip(CASES, results, strict=True):
        where = f"{count} nodes x {capacity} in {width}x{height} ({'wall' if wall else 'page'})"
        assert result is not None, where
        layout, boxes, last = result["L"], result["boxes"], result["last"]
        assert layout["across"] * layout["down"] >= capacity, where
        for box in boxes:
            assert box["x"] >= -1e-6 and box["y"] >= -1e-6, where
            assert box["x"] + box["w"] <= width + 1e-6 and box["y"] + box["h"] <= height + 1e-6, where
        for a, b in itertools.pairwise(boxes):
            assert a["x"] + a["w"] <= b["x"] + 1e-6 or a["y"] + a["h"] <= b["y"] + 1e-6, where  # no overlap
        radius = layout["pitch"] / 2
        box = boxes[-1]
        assert last["x"] + radius <= box["x"] + box["w"] + 1e-6 and last["y"] + radius <= box["y"] + box["h"] + 1e-6
        assert layout["diameter"] < layout["pitch"], where


def test_more_nodes_never_make_the_lights_larger(blank: Page) -> None:
    counts = [1, 2, 3, 4, 6, 9, 16, 25, 50, 100, 200]
    results: list[Any] = blank.evaluate(FIT_JS, [(n, 30, 1920, 1080, True) for n in counts])
    pitches = [r["L"]["pitch"] for r in results]
    assert pitches == sorted(pitches, reverse=True), pitches
    assert results[0]["L"]["font"] >= 60  # one node: a name you read from across the room


def test_a_light_looks_the_same_until_its_next_change_and_different_after(blank: Page) -> None:
    problems = blank.evaluate(LOOK_JS, ["ready", "pending", "unready", "terminating", "removed"])
    assert problems == []
