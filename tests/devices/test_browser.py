"""The browser page on the broker alone: headless Chromium, mqtt.js, Mosquitto's websockets listener.

The page (``devices/browser``) is opened from ``file://`` -- no server of ours -- against a
Mosquitto of its own with a websockets listener. A capture's opening is published retained
first (the page bootstraps from it), then the rest is replayed through the broker
(``bus.replaying``). The page records what it received and every turn of its render loop
(``?record``), and at every turn every node must show the agent's frame for those messages
at that time (``tests/devices/reference.py``). The console serves the same page.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlencode

import httpx
import pytest
from playwright.sync_api import Browser, Page

from broker.launching import RunningBroker, free_port, start_mosquitto
from bus.captures import Capture, load_capture
from bus.replaying import ReplayOptions, replay_to_broker
from bus.urls import parse_broker_url
from tests.devices.reference import Event, check_frames
from tests.support.browsers import chromium
from tests.support.engines import DOTTED_NODES, with_nodes
from tests.support.paths import ROOT
from tests.support.streams import NAMES, capture_path, expected_frame, last_snapshots, opening
from tests.support.waiting import wait_until

PAGE = ROOT / "devices" / "browser" / "index.html"
NODES = ("node-1", "node-2", "node-3")
LEDS = 8
SPEED = 4.0
TIE_MS = 0.01  # performance.now() is coarsened: a turn can land exactly on a phase boundary


@pytest.fixture(scope="module")
def broker() -> Iterator[RunningBroker]:
    """A Mosquitto of our own with a websockets listener (the suite's has none)."""
    running = start_mosquitto(ws_port=free_port(), persistence=False)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def page_url(base: str, broker: RunningBroker, prefix: str, **extra: str) -> str:
    query = {"broker": f"ws://127.0.0.1:{broker.ws_port}", "prefix": prefix, "leds": str(LEDS), "record": "1"}
    return f"{base}?{urlencode(query | extra)}"


def shown(page: Page) -> dict[str, list[str]]:
    """The lights as the page draws them: every node's LEDs, from the DOM."""
    script = """() => Object.fromEntries([...document.querySelectorAll('.node')].map(
        (row) => [row.dataset.node, [...row.querySelectorAll('.led')].map((led) => led.dataset.color)]))"""
    result: dict[str, list[str]] = page.evaluate(script)
    return result


def recorded(page: Page) -> list[Event]:
    events: list[Event] = []
    for record in page.evaluate("() => window.shineALight.record"):
        if record[0] == "message":
            events.append(("message", record[1], record[2], bytes(record[3])))
        elif record[0] == "frame":
            events.append(("frame", record[1], record[2], tuple(record[3])))
        elif record[0] == "tick":
            events.append(("turn", record[1]))
    return events


def split(capture: Capture) -> tuple[Capture, Capture]:
    """The opening (retained state) and the rest, its offsets from the opening's end."""
    count = opening(capture)
    base = capture.messages[count - 1].offset
    rest = tuple(dataclasses.replace(m, offset=m.offset - base) for m in capture.messages[count:])
    return Capture(capture.messages[:count]), Capture(rest)


def replay(capture: Capture, broker: RunningBroker, prefix: str, speed: float) -> None:
    stats = replay_to_broker(capture, parse_broker_url(broker.url),
                             options=ReplayOptions(speed=speed, topic_prefix=prefix))  # fmt: skip
    assert stats.unconfirmed == 0 and not stats.stopped


def finals(capture: Capture) -> dict[str, list[str]]:
    return {node: expected_frame(snapshot, LEDS) for node, snapshot in last_snapshots(capture).items()}


@pytest.mark.parametrize("name", NAMES)
def test_the_page_shows_what_the_agent_shows_at_every_turn(browser: Browser, broker: RunningBroker,
                                                          name: str) -> None:  # fmt: skip
    capture, prefix = load_capture(capture_path(name)), f"t{uuid.uuid4().hex[:8]}/"
    head, rest = split(capture)
    replay(head, broker, prefix, speed=0)
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(page_url(PAGE.as_uri(), broker, prefix))
        wait_until(lambda: set(shown(page)) == set(NODES), timeout=15, what="every node shown from the retained state")
        replay(rest, broker, prefix, speed=SPEED)
        wait_until(lambda: shown(page) == finals(capture), timeout=15, what="the settled cluster")
        page.wait_for_timeout(1000)  # a quiet second of turns after the last change
        checked = check_frames(recorded(page), NODES, leds=LEDS, prefix=prefix, tie_ms=TIE_MS)
    finally:
        page.close()
    assert not errors
    for node, result in checked.items():
        assert result.final == tuple(finals(capture)[node]), node
        assert result.flashes == result.removals > 0, f"{node}: every removal flashed red at the pod's place"
    assert next(iter(checked.values())).turns > 100


@contextmanager
def opened_on_the_opening(browser: Browser, broker: RunningBroker, name: str = "scaling") -> Iterator[Opened]:
    """A page showing every node of a capture's opening (retained), under a prefix of its own."""
    prefix = f"t{uuid.uuid4().hex[:8]}/"
    head, _ = split(load_capture(capture_path(name)))
    replay(head, broker, prefix, speed=0)
    page = browser.new_page()
    try:
        page.goto(page_url(PAGE.as_uri(), broker, prefix))
        wait_until(lambda: set(shown(page)) == set(NODES), timeout=15, what="every node shown")
        yield Opened(page, head, prefix, broker)
    finally:
        page.close()


@dataclasses.dataclass
class Opened:
    page: Page
    head: Capture
    prefix: str
    broker: RunningBroker

    def publish(self, *messages: tuple[str, bytes]) -> None:
        """Non-retained messages on ``nodes/…`` topics, through the broker."""
        template = self.head.messages[0]
        captured = tuple(dataclasses.replace(template, topic=topic, payload=payload, retain=False, offset=0.0)
                         for topic, payload in messages)  # fmt: skip
        replay(Capture(captured), self.broker, self.prefix, speed=0)


def test_bad_input_is_counted_and_changes_nothing(browser: Browser, broker: RunningBroker) -> None:
    garbage = [(b"\xff\xfe", "pods"), (b"{nope", "pods"), (b'{"action":"explode","pod":"x"}', "pods"),
               (b'{"v":2,"action":"add","pod":"x"}', "pods"), (b'{"node":"node-1","pods":{}}', "state"),
               (b'{"action":"add","pod":"x","node":"node-2"}', "pods"), (b"sleepy", "status")]  # fmt: skip
    with opened_on_the_opening(browser, broker) as opened:
        page, before = opened.page, shown(opened.page)
        opened.publish(*((f"nodes/node-1/{kind}", payload) for payload, kind in garbage))
        wait_until(lambda: sum(page.evaluate("() => Object.values(window.shineALight.board.bad)")) == len(garbage),
                   timeout=10, what="every bad message counted")  # fmt: skip
        assert page.evaluate("() => window.shineALight.board.bad") == {
            "not_utf8": 1, "not_json": 1, "unknown_action": 1, "unknown_version": 1, "invalid": 1, "wrong_node": 1,
            "bad_status": 1}  # fmt: skip
        assert shown(page) == before
        assert "ignored: " in page.inner_text("#bad")


def test_a_watcher_that_is_away_makes_its_node_stale(browser: Browser, broker: RunningBroker) -> None:
    with opened_on_the_opening(browser, broker) as opened:
        page = opened.page
        lit = shown(page)["node-1"][0]
        opened.publish(("nodes/node-1/status", b"degraded"))
        wait_until(lambda: shown(page)["node-1"][0] not in (lit, "000000"), timeout=10, what="node-1 dimmed")
        assert page.locator('.node[data-node="node-1"]').get_attribute("class") == "node stale"
        assert shown(page)["node-2"][0] != shown(page)["node-1"][0]


def test_the_console_serves_the_page_and_its_mqtt_js(browser: Browser, broker: RunningBroker) -> None:
    from console.app import create_app
    from console.controlling import RunnerControls
    from console.executors.simulated import SimulatedExecutor
    from console.serving import serve_in_thread
    from sim.clock import VirtualClock
    from sim.cluster import Cluster

    prefix = f"t{uuid.uuid4().hex[:8]}/"
    capture = load_capture(capture_path("blue-green"))
    replay(capture, broker, prefix, speed=0)
    app = create_app(broker=broker.url, topic_prefix=prefix,
                     controls=RunnerControls(SimulatedExecutor(Cluster(nodes=3, clock=VirtualClock()))))  # fmt: skip
    handle = serve_in_thread(app)
    page = browser.new_page()
    try:
        assert httpx.get(f"{handle.url}/browser/mqtt.min.js").text.startswith('"use strict";var mqtt=')
        page.goto(page_url(f"{handle.url}/browser/", broker, prefix))
        wait_until(lambda: shown(page) == finals(capture), timeout=15, what="the page, served by the console")
    finally:
        page.close()
        handle.stop()


def test_the_page_says_when_the_broker_is_not_there(browser: Browser) -> None:
    page = browser.new_page()
    try:
        page.goto(f"{PAGE.as_uri()}?broker=ws://127.0.0.1:{free_port()}")
        wait_until(lambda: "retrying" in page.inner_text("#status") or "error" in page.inner_text("#status"),
                   timeout=20, what="a word about the missing broker")  # fmt: skip
    finally:
        page.close()


def test_the_page_follows_dotted_node_names(browser: Browser, broker: RunningBroker) -> None:
    """Topics carry ip-10-0-1-23_eu-west-1_compute_internal; the page shows the node by its real name."""
    capture = with_nodes(load_capture(capture_path("rolling-upgrade")), dict(zip(NODES, DOTTED_NODES, strict=True)))
    prefix = f"t{uuid.uuid4().hex[:8]}/"
    head, rest = split(capture)
    replay(head, broker, prefix, speed=0)
    page = browser.new_page()
    try:
        page.goto(page_url(PAGE.as_uri(), broker, prefix, nodes=",".join(DOTTED_NODES[:2])))
        wait_until(lambda: set(shown(page)) == set(DOTTED_NODES[:2]), timeout=15, what="the two nodes asked for")
        replay(rest, broker, prefix, speed=SPEED * 2)
        expected = {n: f for n, f in finals(capture).items() if n in DOTTED_NODES[:2]}
        wait_until(lambda: shown(page) == expected, timeout=15, what="the settled nodes")
    finally:
        page.close()
