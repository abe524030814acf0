"""End to end in a real headless Chromium: press Rolling, watch the wall turn from yellow to violet.

Every part is real (see ``stack`` in conftest): the wall in the browser is fed by the
watchers through Mosquitto, not by the test. The wall is sampled from the DOM every
:data:`SAMPLE_SECONDS`; at no sample may more lights be missing than the rollout's
maxUnavailable allows (a light that blinks as terminating or flashes red as removed
counts as missing; a dim pending one does not: its pod exists).
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from playwright.sync_api import Browser, Page

from sim.rollout import max_unavailable
from tests.console.conftest import Stack
from tests.support.paths import ARTIFACTS

V1, V2 = "ffff00", "a81399"
REPLICAS = 4
SAMPLE_SECONDS = 0.1

LIGHTS_JS = """() => [...document.querySelectorAll('#wall .light')].map(el => ({
  node: el.dataset.node, key: el.dataset.key, color: el.dataset.color, state: el.dataset.state}))"""

Light = dict[str, Any]


def present(lights: list[Light]) -> list[Light]:
    return [light for light in lights if light["state"] not in ("terminating", "removed")]


def sample_until(page: Page, done: Any, *, timeout: float, shoot: Any = None) -> list[list[Light]]:
    """DOM samples until ``done(lights)``; one screenshot at the first sample where ``shoot(lights)``."""
    samples: list[list[Light]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        samples.append(page.evaluate(LIGHTS_JS))
        if done(samples[-1]):
            return samples
        if shoot is not None and shoot(samples[-1]):
            page.screenshot(path=str(ARTIFACTS / "console-rolling.png"), full_page=True)
            shoot = None
        time.sleep(SAMPLE_SECONDS)
    raise AssertionError(f"not done in {timeout} s; last sample: {samples[-1] if samples else None}")


def mid_rollout(lights: list[Light]) -> bool:
    """Both versions lit and one pod leaving: the picture worth keeping."""
    colors = {light["color"] for light in present(lights)}
    return colors == {V1, V2} and any(light["state"] in ("terminating", "removed") for light in lights)


def all_ready(lights: list[Light], color: str) -> bool:
    return len(lights) == REPLICAS and all(light["color"] == color and light["state"] == "ready" for light in lights)


def test_rolling_update_on_the_wall(stack: Stack, browser: Browser) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(stack.url)
    page.wait_for_selector("#connection[data-connected='true']")
    page.wait_for_function("document.querySelectorAll('#wall .node').length === 3")  # one panel per watcher

    page.locator("#replicas").fill(str(REPLICAS))
    page.click("#scale")
    sample_until(page, lambda lights: all_ready(lights, V1), timeout=30)
    page.wait_for_function("document.querySelectorAll('#steps li[data-status=\"done\"]').length === 3")  # install
    page.wait_for_selector("#rolling:not([disabled])")  # the run is over: the buttons are back

    page.click("button.preset[data-version='2.2.0']")
    page.click("#rolling")
    ARTIFACTS.mkdir(exist_ok=True)
    samples = sample_until(page, lambda lights: all_ready(lights, V2), timeout=40, shoot=mid_rollout)
    page.screenshot(path=str(ARTIFACTS / "console-rolling-done.png"), full_page=True)

    rolling = stack.controls.runner.executor.rolling  # type: ignore[attr-defined]
    allowed = max_unavailable(rolling.max_surge, rolling.max_unavailable, REPLICAS)
    missing = [REPLICAS - len(present(lights)) for lights in samples]
    assert max(missing) <= allowed, f"at worst {max(missing)} lights missing, {allowed} allowed"
    states = Counter(light["state"] for lights in samples for light in lights)
    assert states["pending"] and states["terminating"] and states["removed"], states  # dim, blink, red flash seen
    assert any({light["color"] for light in present(lights)} == {V1, V2} for lights in samples)  # both at once
    assert all(light["color"] == "ff0000" for lights in samples for light in lights if light["state"] == "removed")

    page.wait_for_selector("#steps li:last-child[data-status='done']")
    page.wait_for_function("document.querySelector('#traffic-rows tr[data-version^=\"2.2.0\"]')?.dataset.rate > 0")

    stack.watchers[0].stop()
    page.wait_for_selector(f".node[data-node='{stack.cluster.nodes[0]}'][data-status='offline']")
    page.close()
