"""The console's pages in headless Chromium, for the browser tests: what is drawn, pixels, screenshots.

The wall is a canvas per node, so the tests read what it draws through the page's hooks
(``console/static/feed.js``): ``window.wallLights()`` lists every light drawn with its
centre, and :func:`pixel` reads the colour the canvas really has there. A page fails
the test that opened it on any JavaScript error (:meth:`ConsolePage.check`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from playwright.sync_api import Browser, ConsoleMessage, Page

from bus.connection import BusConnection
from bus.messages import NodeSnapshot, PodEntry, PodState
from bus.topics import Topics
from tests.support.paths import ARTIFACTS

Light = dict[str, Any]

PIXEL_JS = """([node, x, y]) => {
  const canvas = document.querySelector(`canvas[data-node="${node}"]`);
  const d = window.devicePixelRatio || 1;
  return [...canvas.getContext("2d").getImageData(Math.round(x * d), Math.round(y * d), 1, 1).data];
}"""

OVERFLOW_JS = """() => {
  const limit = document.documentElement.clientWidth + 0.5;
  const wide = [...document.querySelectorAll("body *")].filter((el) => el.getBoundingClientRect().right > limit);
  return {scrollWidth: document.documentElement.scrollWidth, clientWidth: document.documentElement.clientWidth,
          wide: wide.slice(0, 5).map((el) => el.tagName + "#" + el.id + "." + el.className)};
}"""


@dataclass
class ConsolePage:
    page: Page
    errors: list[str] = field(default_factory=list)

    def lights(self) -> list[Light]:
        lights: list[Light] = self.page.evaluate("() => window.wallLights()")
        return lights

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self.page.evaluate("() => window.wallStats()")
        return stats

    def pixel(self, light: Light) -> tuple[int, int, int]:
        r, g, b, _ = self.page.evaluate(PIXEL_JS, [light["node"], light["px"], light["py"]])
        return r, g, b

    def wait_lights(self, done: Callable[[list[Light]], bool], *, timeout: float, what: str) -> list[Light]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lights = self.lights()
            if done(lights):
                return lights
            time.sleep(0.05)
        raise AssertionError(f"{what}: not within {timeout} s; last: {self.lights()}")

    def shoot(self, name: str, *, full_page: bool = False) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / name), full_page=full_page)

    def check(self) -> None:
        assert not self.errors, f"JavaScript errors on the page: {self.errors}"


def open_page(browser: Browser, url: str, *, width: int = 1400, height: int = 900) -> ConsolePage:
    page = browser.new_page(viewport={"width": width, "height": height})
    opened = ConsolePage(page)

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            opened.errors.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda error: opened.errors.append(str(error)))
    page.goto(url)
    page.wait_for_selector("#connection[data-connected='true']")
    return opened


def rgb(color: str) -> tuple[int, int, int]:
    n = int(color, 16)
    return (n >> 16) & 255, (n >> 8) & 255, n & 255


def near(seen: tuple[int, int, int], wanted: tuple[int, int, int], tolerance: int = 24) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(seen, wanted, strict=True))


def ready(lights: list[Light], count: int, color: str) -> bool:
    return len(lights) == count and all(light["color"] == color and light["state"] == "ready" for light in lights)


def present(lights: list[Light]) -> list[Light]:
    """The lights of pods that are still there (not blinking out, not a red ghost)."""
    return [light for light in lights if light["state"] not in ("terminating", "removed")]


def overflow(page: Page) -> dict[str, Any]:
    found: dict[str, Any] = page.evaluate(OVERFLOW_JS)
    return found


def publish_nodes(connection: BusConnection, topics: Topics, nodes: dict[str, list[str]]) -> None:
    """Retained snapshots, as watchers publish them: each node's pods (name → colour), all ready."""
    for node, colors in nodes.items():
        pods = tuple(PodEntry(pod=f"{node}-pod-{i}", uid=f"{node}-{i}", namespace="default", color=color,
                              state=PodState.READY) for i, color in enumerate(colors))  # fmt: skip
        connection.publish(topics.status(node), b"online", retain=True)
        connection.publish(topics.state(node), NodeSnapshot(node=node, seq=1, pods=pods).to_payload(), retain=True)


def clear_nodes(connection: BusConnection, topics: Topics, nodes: Iterator[str] | list[str]) -> None:
    for node in nodes:
        for topic in (topics.status(node), topics.state(node)):
            connection.publish(topic, b"", retain=True).wait_for_publish(5)
