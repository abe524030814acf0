"""The console in a real headless Chromium: the wall, the controls, Kill a pod, the layouts, /wall.

Two kinds of setup (see conftest): ``stack`` is every part real — the wall in the browser
is fed by the watchers through Mosquitto, not by the test, on a sped-up real clock;
``console_app`` runs plans on a virtual clock (a canary parks in its pause until
promoted) and the tests publish the wall's nodes themselves, as watchers would.

The wall is drawn on canvases; what it shows is read through the page's hooks
(``tests/console/pages.py``) and checked against the canvas's pixels. Screenshots go to
``tests/artifacts/``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser

from bus.connection import BusConnection
from bus.urls import parse_broker_url
from sim.rollout import max_unavailable
from tests.console.conftest import ConsoleApp, Stack
from tests.console.pages import (
    ConsolePage,
    Light,
    clear_nodes,
    near,
    open_page,
    overflow,
    present,
    publish_nodes,
    ready,
    rgb,
)
from tests.support.brokers import BrokerEndpoint
from tests.support.waiting import wait_until

V1, V2 = "ffff00", "a81399"
REPLICAS = 4
SAMPLE_SECONDS = 0.1


@pytest.fixture
def publisher(mosquitto: BrokerEndpoint) -> Iterator[BusConnection]:
    connection = BusConnection(parse_broker_url(mosquitto.url), client_id=f"test-nodes-{time.monotonic_ns()}")
    connection.start(wait=5)
    yield connection
    connection.stop(publish_offline=False)


def sample_until(console: ConsolePage, done: object, *, timeout: float, shoot: object = None,
                 name: str = "") -> list[list[Light]]:  # fmt: skip
    """What the wall draws, every SAMPLE_SECONDS, until ``done``; one screenshot when ``shoot`` first holds."""
    samples: list[list[Light]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        samples.append(console.lights())
        if done(samples[-1]):  # type: ignore[operator]
            return samples
        if shoot is not None and shoot(samples[-1]):  # type: ignore[operator]
            console.shoot(name)
            shoot = None
        time.sleep(SAMPLE_SECONDS)
    raise AssertionError(f"not done in {timeout} s; last sample: {samples[-1] if samples else None}")


def mid_rollout(lights: list[Light]) -> bool:
    """Both versions lit and one pod leaving: the picture worth keeping."""
    colors = {light["color"] for light in present(lights)}
    return colors == {V1, V2} and any(light["state"] in ("terminating", "removed") for light in lights)


def test_rolling_update_on_the_wall(stack: Stack, browser: Browser) -> None:
    console = open_page(browser, stack.url, width=1280, height=800)
    page = console.page
    page.wait_for_function("window.wallStats().nodes === 3")  # one panel per watcher
    page.locator("#replicas").fill(str(REPLICAS))
    page.click("#scale")
    sample_until(console, lambda lights: ready(lights, REPLICAS, V1), timeout=30)
    page.wait_for_function("document.querySelectorAll('#steps li[data-status=\"done\"]').length === 3")  # install
    page.wait_for_selector("#rolling:not([disabled])")  # the run is over: the buttons are back

    page.click("button.preset[data-version='2.2.0']")
    page.click("#rolling")
    samples = sample_until(console, lambda lights: ready(lights, REPLICAS, V2), timeout=40, shoot=mid_rollout,
                           name="console-rolling.png")  # fmt: skip
    console.shoot("console-rolling-done.png")

    rolling = stack.controls.runner.executor.rolling  # type: ignore[attr-defined]
    allowed = max_unavailable(rolling.max_surge, rolling.max_unavailable, REPLICAS)
    missing = [REPLICAS - len(present(lights)) for lights in samples]
    assert max(missing) <= allowed, f"at worst {max(missing)} lights missing, {allowed} allowed"
    states = Counter(light["state"] for lights in samples for light in lights)
    assert states["pending"] and states["terminating"] and states["removed"], states  # dim, blink, red flash seen
    assert any({light["color"] for light in present(lights)} == {V1, V2} for lights in samples)  # both at once
    assert all(light["color"] == "ff0000" for lights in samples for light in lights if light["state"] == "removed")
    for light in console.lights():  # what the model says is what the canvas has
        assert near(console.pixel(light), rgb(V2)), (light, console.pixel(light))

    page.wait_for_selector("#steps li:last-child[data-status='done']")
    page.wait_for_function("document.querySelector('#traffic-rows tr[data-version=\"2.2.0\"]')?.dataset.rate > 0")

    node = stack.cluster.nodes[0]
    stack.watchers[0].stop()
    page.wait_for_function(f"window.wallState()['{node}'].status === 'offline'")
    time.sleep(0.2)  # the next frame draws it
    dimmed = [light for light in console.lights() if light["node"] == node]
    assert dimmed, "the offline node keeps its last lights"
    for light in dimmed:  # stale: still there, but dimmed
        seen = console.pixel(light)
        assert max(seen) < 0.6 * max(rgb(V2)) and not near(seen, (0, 0, 0), 8), seen
    console.shoot("console-stale.png")
    console.check()


def test_the_controls_show_the_live_state(console_app: ConsoleApp, browser: Browser) -> None:
    console = open_page(browser, console_app.url)
    page = console.page
    assert page.locator("#scale").is_disabled()  # nothing to do at 0 on an empty cluster
    assert page.locator("#rolling").get_attribute("title") == "nothing is deployed yet: Scale installs the demo app"
    page.locator("#replicas").fill("2")
    page.click("#scale")
    page.wait_for_selector("#release-rows tr[data-release='whoami'][data-version='1.0.0']")
    page.wait_for_function("document.querySelector('#live').textContent.includes('whoami runs')")
    assert page.locator("#replicas").input_value() == "2"
    page.wait_for_function("document.querySelector('#scale').title.includes('runs 2 replicas already')")

    with httpx.Client(base_url=console_app.url) as client:  # someone else scales: the slider follows
        assert client.post("/api/scale", json={"replicas": 4}).status_code == 202
    page.wait_for_function("document.querySelector('#replicas').value === '4'")
    assert page.locator("#replicas-live").text_content() == "live: 4"

    assert page.locator("#version").input_value() == "2.2.0"  # the other version is the default target
    assert page.locator("#rolling").is_enabled() and page.locator("#recreate").is_enabled()
    page.click("button.preset[data-version='1.0.0']")  # what runs already: nothing to roll out in place
    assert page.locator("#rolling").is_disabled() and "already" in (page.locator("#rolling").get_attribute("title")
                                                                      or "")  # fmt: skip
    assert page.locator("#blue-green").is_enabled()
    page.fill("#version", "2 2")
    assert page.locator("#canary").is_disabled()  # not a version

    page.click("button.preset[data-version='2.2.0']")
    page.fill("#canary-weight", "20")
    page.click("#canary")
    page.wait_for_selector("#promote:not([disabled])")  # parked in its pause until promoted
    for button in ("#scale", "#rolling", "#recreate", "#blue-green", "#canary"):
        assert page.locator(button).is_disabled()
        assert "running" in (page.locator(button).get_attribute("title") or "")
    page.wait_for_selector("#traffic-rows tr[data-version='2.2.0'][data-weight='20']")
    page.wait_for_selector("#traffic-rows tr[data-version='1.0.0'][data-weight='80']")
    page.wait_for_function("Number(document.querySelector('#traffic-rows [data-version=\"2.2.0\"]').dataset.rate) > 0")
    sums = page.locator("#traffic-sums tr")
    assert sums.get_attribute("data-weights") == "100" and sums.get_attribute("data-shares") == "100"
    assert page.locator("#release-rows tr[data-release='whoamiv2'] td").nth(4).text_content() == "20"
    page.wait_for_function("window.timelineState().samples > 2 && window.timelineState().last.traffic.length === 2")
    console.shoot("console-canary.png")

    page.click("#promote")
    page.wait_for_function("document.querySelector('#run-status').textContent === ''")
    page.wait_for_selector("#release-rows tr.is-live[data-release='whoamiv2'][data-version='2.2.0']")
    assert page.locator("#release-rows tr").count() == 1
    assert "whoamiv2 runs" in (page.locator("#live").text_content() or "")
    assert page.locator("#promote").is_disabled() and page.locator("#abort").is_disabled()
    assert page.locator("#version").input_value() == "1.0.0"  # the next target: the other one again
    console.shoot("console-promoted.png")
    console.check()


def test_a_double_click_starts_one_plan_and_shows_no_error(console_app: ConsoleApp, browser: Browser) -> None:
    console = open_page(browser, console_app.url)
    page = console.page
    page.locator("#replicas").fill("2")
    page.dblclick("#scale")
    page.wait_for_selector("#release-rows tr[data-release='whoami']")
    page.wait_for_selector("#rolling:not([disabled])")
    page.dblclick("#rolling")  # on a virtual clock the rollout is over before the second click lands
    page.wait_for_selector("#release-rows tr[data-release='whoami'][data-version='2.2.0']")
    page.wait_for_selector("#blue-green:not([disabled])")
    assert page.locator("#error").is_hidden(), page.locator("#error").text_content()
    with httpx.Client(base_url=console_app.url) as client:
        log = client.get("/api/state").json()["log"]
    assert [m["strategy"] for m in log if m["event"] == "plan-started"] == ["install", "rolling"]
    console.check()


def test_kill_a_pod_flashes_red_and_comes_back(stack: Stack, browser: Browser) -> None:
    console = open_page(browser, stack.url)
    page = console.page
    page.locator("#replicas").fill("3")
    page.click("#scale")
    console.wait_lights(lambda lights: ready(lights, 3, V1), timeout=30, what="three ready lights")
    page.wait_for_selector("#kill:not([disabled])")
    with page.expect_response("**/api/kill") as response:
        page.click("#kill")
    victim = response.value.json()
    assert response.value.status == 202
    key = next(light["key"] for light in console.lights() if light["pod"] == victim["pod"])
    seen: set[str] = set()

    def gone_and_back(lights: list[Light]) -> bool:
        seen.update(light["state"] for light in lights if light["key"] == key)
        return "removed" in seen and key not in {light["key"] for light in lights} and ready(lights, 3, V1)

    samples = sample_until(console, gone_and_back, timeout=30,
                           shoot=lambda lights: any(light["state"] == "removed" for light in lights),
                           name="console-kill.png")  # fmt: skip
    assert {"terminating", "removed"} <= seen  # it blinked, then flashed red in its place
    ghosts = [light for lights in samples for light in lights if light["key"] == key and light["state"] == "removed"]
    assert ghosts and all(light["color"] == "ff0000" for light in ghosts)
    assert any(len(lights) == 4 for lights in samples)  # the replacement started before the victim left
    assert page.locator("#error").is_hidden()
    page.wait_for_selector(f"#log li:text('kill a pod: delete pod {victim['pod']}')")
    console.check()


def test_at_phone_width_nothing_overflows_and_at_1400_px_the_wall_fills_the_page(
    console_app: ConsoleApp, browser: Browser, publisher: BusConnection
) -> None:
    nodes = {f"node-{i}": [V1] * 2 for i in (1, 2, 3)}
    publish_nodes(publisher, console_app.topics, nodes)
    try:
        with httpx.Client(base_url=console_app.url) as client:
            client.post("/api/scale", json={"replicas": 6})
            wait_until(lambda: not client.get("/api/state").json()["controls"]["busy"], what="the install")
            client.post("/api/strategy", json={"name": "canary", "version": "2.2.0", "color": V2})
        phone = open_page(browser, console_app.url, width=420, height=860)
        phone.page.wait_for_function("window.wallStats().pods === 6")
        phone.page.wait_for_selector("#promote:not([disabled])")
        phone.page.wait_for_selector("#traffic-rows tr[data-version='2.2.0']")
        phone.page.wait_for_function("document.querySelectorAll('#log li').length > 5")
        time.sleep(0.3)
        found = overflow(phone.page)
        assert found["scrollWidth"] <= 420 and not found["wide"], found
        assert all(light["shown"] and 0 <= light["x"] <= 420 for light in phone.lights())
        phone.shoot("console-420.png", full_page=True)
        phone.check()

        wide = open_page(browser, console_app.url, width=1400, height=900)
        wide.page.wait_for_function("window.wallStats().pods === 6")
        wall = wide.page.locator("#wall").bounding_box()
        assert wall is not None and wall["width"] >= 0.55 * 1400 and wall["height"] >= 0.8 * 900
        diameter = wide.stats()["layout"]["diameter"]
        assert diameter >= 80, f"lights of {diameter:.0f} px on a 1400 px page"
        wide.shoot("console-1400.png")
        wide.check()
    finally:
        clear_nodes(publisher, console_app.topics, list(nodes))


@pytest.mark.parametrize(("count", "pods"), [(3, 4), (12, 30), (100, 30)])
def test_the_wall_mode_fits_any_number_of_nodes(
    console_app: ConsoleApp, browser: Browser, publisher: BusConnection, count: int, pods: int
) -> None:
    nodes = {f"node-{i}": [V1 if i % 2 else V2] * pods for i in range(1, count + 1)}
    publish_nodes(publisher, console_app.topics, nodes)
    try:
        console = open_page(browser, f"{console_app.url}/wall", width=1280, height=720)
        page = console.page
        page.wait_for_function(f"window.wallStats().pods === {count * pods}")
        time.sleep(0.3)
        lights = console.lights()
        layout = console.stats()["layout"]
        box = page.locator("#wall").bounding_box()
        assert box is not None
        assert len(lights) == count * pods and all(light["shown"] for light in lights)
        radius = layout["diameter"] / 2
        assert all(radius <= light["x"] <= box["width"] - radius and radius <= light["y"] <= box["height"] - radius
                   for light in lights), "every light inside the wall"  # fmt: skip
        panels = page.evaluate("""() => [...document.querySelectorAll('canvas[data-node]')].map((c) => {
            const r = c.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })""")
        assert len(panels) == count and not any(overlaps(a, b) for i, a in enumerate(panels) for b in panels[i + 1:])
        for light in lights[:: max(1, len(lights) // 40)]:
            assert near(console.pixel(light), rgb(light["color"])), light
        expected = {3: (120, 40), 12: (24, 12), 100: (7, 10)}[count]  # at least: light diameter, name font (px)
        assert layout["diameter"] >= expected[0] and layout["font"] >= expected[1], layout
        console.shoot(f"wall-{count}-nodes.png")
        if count == 3:
            stale_nodes_are_dimmed_and_named(console, publisher, console_app)
        console.check()
    finally:
        clear_nodes(publisher, console_app.topics, list(nodes))


def stale_nodes_are_dimmed_and_named(console: ConsolePage, publisher: BusConnection, app: ConsoleApp) -> None:
    page = console.page
    publisher.publish(app.topics.status("node-1"), b"offline", retain=True)
    publisher.publish(app.topics.status("node-2"), b"degraded", retain=True)  # on the broker, blind to the API
    page.wait_for_function("window.wallState()['node-1'].status === 'offline'")
    page.wait_for_function("window.wallState()['node-2'].status === 'degraded'")
    page.evaluate("""() => { const n = window.wallState()['node-3'];  // pods beyond the console's cap
        window.wallTake({type: 'nodes', nodes: [{node: 'node-3', status: n.status, removed: [], hidden: 5,
            pods: n.pods.map((p) => ({...p, pod: p.key}))}]}); }""")
    time.sleep(0.3)
    assert page.evaluate("window.wallState()['node-3'].hidden") == 5  # drawn as "+5 more" beside its name
    for light in console.lights():
        seen = console.pixel(light)
        if light["node"] in ("node-1", "node-2"):
            assert max(seen) < 0.6 * max(rgb(light["color"])), (light, seen)
        else:
            assert near(seen, rgb(light["color"])), (light, seen)
    console.shoot("wall-stale.png")


def overlaps(a: list[float], b: list[float]) -> bool:
    return a[0] < b[2] - 0.5 and b[0] < a[2] - 0.5 and a[1] < b[3] - 0.5 and b[1] < a[3] - 0.5
