"""The app on real HTTP (uvicorn on a free port) over a real Mosquitto: page, API, and the SSE stream."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from bus.connection import BusConnection
from bus.messages import NodeSnapshot, PodEntry, PodState
from bus.urls import parse_broker_url
from tests.console.conftest import ConsoleApp
from tests.support.brokers import BrokerEndpoint
from tests.support.waiting import wait_until


@pytest.fixture
def client(console_app: ConsoleApp) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=console_app.url, timeout=10) as c:
        yield c


def wait_idle(console_app: ConsoleApp) -> None:
    assert console_app.controls.runner.wait(10)


class Stream:
    """The /events stream read line by line; ``next_message`` returns one decoded ``data:`` object."""

    def __init__(self, client: httpx.Client) -> None:
        self._context = client.stream("GET", "/events", timeout=httpx.Timeout(10, read=15))
        self.response = self._context.__enter__()
        self._lines = self.response.iter_lines()

    def next_message(self) -> dict[str, Any]:
        for line in self._lines:
            if line.startswith("data: "):
                message: dict[str, Any] = json.loads(line[len("data: ") :])
                return message
        raise AssertionError("the stream ended")

    def until(self, predicate: Any, timeout: float = 10) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self.next_message()
            if predicate(message):
                return message
        raise AssertionError("no such message in time")

    def close(self) -> None:
        self._context.__exit__(None, None, None)


def test_the_page_and_its_assets_are_served(client: httpx.Client) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert 'id="wall"' in page.text and "/static/app.js" in page.text
    for asset, kind in (("/static/app.js", "javascript"), ("/static/style.css", "text/css")):
        response = client.get(asset)
        assert response.status_code == 200
        assert kind in response.headers["content-type"]
    assert client.get("/static/nope.js").status_code == 404


def test_scale_starts_a_plan_and_the_state_shows_it(console_app: ConsoleApp, client: httpx.Client) -> None:
    response = client.post("/api/scale", json={"replicas": 3})
    assert response.status_code == 202
    assert response.json()["strategy"] == "install"
    wait_idle(console_app)
    state = client.get("/api/state").json()
    assert state["type"] == "state"
    assert state["controls"]["releases"][0]["replicas"] == 3
    assert state["log"][0]["event"] == "plan-started"
    assert state["log"][-1]["event"] == "finished"


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/api/scale", b"not json", "JSON"),
        ("/api/scale", b'{"replicas": "4"}', "replicas"),
        ("/api/scale", b'{"replicas": -1}', "replicas"),
        ("/api/scale", b'{"replicas": 4, "extra": 1}', "extra"),
        ("/api/scale", b"{}", "replicas"),
        ("/api/scale", b'{"replicas": 4}' + b" " * 5000, "too large"),
        ("/api/strategy", b'{"name": "rolling", "version": "2.0.0"}', "color"),
        ("/api/strategy", b'{"name": "sideways", "version": "2.0.0", "color": "a81399"}', "strategy"),
        ("/api/strategy", b'{"name": "rolling", "version": "2.0.0", "color": "violet"}', "color"),
        ("/api/strategy", b'{"name": "canary", "version": "2", "color": "a81399", "canary_weight": 0}', "canary"),
        ("/api/traffic", b'{"rate": 1000}', "rate"),
    ],
)
def test_bad_input_is_a_400_with_a_reason_and_changes_nothing(
    console_app: ConsoleApp, client: httpx.Client, path: str, body: bytes, message: str
) -> None:
    response = client.post(path, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert message.lower() in response.json()["error"].lower()
    assert console_app.controls.runner.busy is False
    assert console_app.controls.runner.state.releases == ()


def test_a_running_plan_answers_409_until_promoted(console_app: ConsoleApp, client: httpx.Client) -> None:
    assert client.post("/api/promote").status_code == 409  # nothing paused
    assert client.post("/api/abort").status_code == 409  # nothing running
    client.post("/api/scale", json={"replicas": 2})
    wait_idle(console_app)
    canary = {"name": "canary", "version": "2.0.0", "color": "a81399", "canary_weight": 25}
    assert client.post("/api/strategy", json=canary).status_code == 202
    deadline = time.monotonic() + 10
    while not console_app.controls.runner.paused:
        assert time.monotonic() < deadline, "the canary never paused"
        time.sleep(0.01)
    busy = client.post("/api/scale", json={"replicas": 5})
    assert busy.status_code == 409
    assert "running" in busy.json()["error"]
    assert client.post("/api/strategy", json=canary | {"name": "rolling"}).status_code == 409
    assert client.post("/api/promote").status_code == 202
    wait_idle(console_app)
    assert [r.name for r in console_app.controls.runner.state.releases] == ["whoamiv2"]


def test_the_event_stream_starts_with_the_state_then_carries_wall_run_and_traffic(
    console_app: ConsoleApp, client: httpx.Client, mosquitto: BrokerEndpoint
) -> None:
    stream = Stream(client)
    publisher = BusConnection(parse_broker_url(mosquitto.url), client_id="test-publisher")
    publisher.start(wait=5)
    try:
        assert stream.response.headers["content-type"].startswith("text/event-stream")
        first = stream.next_message()
        assert first["type"] == "state" and first["nodes"] == [] and first["log"] == []
        pods = (PodEntry(pod="a", uid="a", color="ffff00", state=PodState.READY),
                PodEntry(pod="b", uid="b", color="a81399", state=PodState.PENDING))  # fmt: skip
        topics = console_app.topics
        publisher.publish(topics.status("node-7"), b"online", retain=True)
        snapshot = NodeSnapshot(node="node-7", seq=1, pods=pods)
        publisher.publish(topics.state("node-7"), snapshot.to_payload(), retain=True)
        update = stream.until(lambda m: m["type"] == "nodes" and any(n["pods"] for n in m["nodes"]))
        [node] = [n for n in update["nodes"] if n["node"] == "node-7"]
        assert [(p["pod"], p["color"], p["state"]) for p in node["pods"]] == [("a", "ffff00", "ready"),
                                                                              ("b", "a81399", "pending")]  # fmt: skip
        assert node["status"] == "online"
        client.post("/api/scale", json={"replicas": 2})
        run = stream.until(lambda m: m["type"] == "run" and m["event"] == "finished")
        assert run["ok"] is True and run["controls"]["busy"] is False
        traffic = stream.until(lambda m: m["type"] == "traffic" and m["by_version"])
        assert set(traffic["by_version"]) == {"1.0.0"}
        assert traffic["weights"] == [{"release": "whoami", "weight": 100, "version": "1.0.0", "color": "ffff00"}]
    finally:
        for topic in (console_app.topics.status("node-7"), console_app.topics.state("node-7")):
            publisher.publish(topic, b"", retain=True).wait_for_publish(5)
        publisher.stop(publish_offline=False)
        stream.close()


def test_a_browser_joining_late_gets_the_wall_and_the_step_log(
    console_app: ConsoleApp, client: httpx.Client, mosquitto: BrokerEndpoint
) -> None:
    publisher = BusConnection(parse_broker_url(mosquitto.url), client_id="test-publisher-2")
    publisher.start(wait=5)
    try:
        snapshot = NodeSnapshot(node="node-9", seq=4, pods=(PodEntry(pod="x", uid="x", color="00ff00"),))
        publisher.publish(console_app.topics.state("node-9"), snapshot.to_payload(), retain=True)
        client.post("/api/scale", json={"replicas": 1})
        wait_idle(console_app)
        deadline = time.monotonic() + 10
        while not (state := client.get("/api/state").json())["nodes"]:
            assert time.monotonic() < deadline, "the wall never saw node-9"
            time.sleep(0.05)
        light = {"key": "x", "pod": "x", "color": "00ff00", "state": "ready"}
        assert state["nodes"] == [{"node": "node-9", "status": None, "pods": [light], "hidden": 0}]
        assert state["log"][-1]["event"] == "finished"
    finally:
        publisher.publish(console_app.topics.state("node-9"), b"", retain=True).wait_for_publish(5)
        publisher.stop(publish_offline=False)


def test_the_wall_page_and_the_icon_are_served(client: httpx.Client) -> None:
    wall = client.get("/wall")
    assert wall.status_code == 200 and 'id="wall"' in wall.text and "/static/wallpage.js" in wall.text
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert "<svg" in icon.text
    page = client.get("/").text
    assert 'rel="icon"' in page and 'href="/wall"' in page
    for module in ("wall.js", "lights.js", "layout.js", "domwall.js", "feed.js", "chart.js", "wallpage.js"):
        assert "javascript" in client.get(f"/static/{module}").headers["content-type"]


def test_a_double_click_is_two_requests_and_one_plan(console_app: ConsoleApp, client: httpx.Client) -> None:
    client.post("/api/scale", json={"replicas": 2})
    wait_idle(console_app)
    body = {"name": "rolling", "version": "2.0.0", "color": "a81399"}
    with ThreadPoolExecutor(2) as pool:
        replies = list(pool.map(lambda _: client.post("/api/strategy", json=body), range(2)))
    assert [r.status_code for r in replies] == [202, 202]
    assert sorted(r.json()["already_running"] for r in replies) == [False, True]
    wait_idle(console_app)
    log = client.get("/api/state").json()["log"]
    assert [m.get("strategy") for m in log if m["event"] == "plan-started"] == ["install", "rolling"]


def test_kill_a_pod_takes_one_the_wall_shows_and_the_cluster_deletes_it(
    console_app: ConsoleApp, client: httpx.Client, mosquitto: BrokerEndpoint
) -> None:
    nobody = client.post("/api/kill", json={})
    assert nobody.status_code == 409 and "no pod to kill" in nobody.json()["error"]
    client.post("/api/scale", json={"replicas": 2})
    wait_idle(console_app)
    names = sorted(p["metadata"]["name"] for p in console_app.cluster.store.select()[0])
    publisher = BusConnection(parse_broker_url(mosquitto.url), client_id="test-publisher-kill")
    publisher.start(wait=5)
    try:  # the wall shows what a watcher would publish for these pods
        shown = [*names, "db-0"]  # db-0: shown on the wall, but not the demo app's
        pods = tuple(PodEntry(pod=n, uid=n, namespace="default", color="ffff00", state=PodState.READY) for n in shown)
        publisher.publish(console_app.topics.state("node-1"), NodeSnapshot(node="node-1", seq=1, pods=pods)
                          .to_payload(), retain=True)  # fmt: skip
        wait_until(lambda: len(client.get("/api/state").json()["nodes"]) == 1, what="the wall shows node-1")
        assert client.post("/api/kill", json={"pod": "someone-else"}).status_code == 409
        foreign = client.post("/api/kill", json={"pod": "db-0"})
        assert foreign.status_code == 409 and "demo app" in foreign.json()["error"]
        killed = client.post("/api/kill", json={})
        assert killed.status_code == 202
        victim = killed.json()
        assert victim["node"] == "node-1" and victim["namespace"] == "default" and victim["pod"] in names
        pod = console_app.cluster.store.get("default", victim["pod"])
        assert pod["metadata"].get("deletionTimestamp")  # graceful: terminating, not gone
        log = [m["line"] for m in client.get("/api/state").json()["log"] if m["event"] == "log"]
        assert f"kill a pod: delete pod {victim['pod']} in default (its ReplicaSet replaces it)" in log
        assert client.post("/api/kill", json={"pod": "Not A Name"}).status_code == 409  # not on the wall either
    finally:
        publisher.publish(console_app.topics.state("node-1"), b"", retain=True).wait_for_publish(5)
        publisher.stop(publish_offline=False)


def test_the_stream_carries_the_timeline_and_traffic_per_version(console_app: ConsoleApp, client: httpx.Client) -> None:
    client.post("/api/scale", json={"replicas": 2})
    wait_idle(console_app)
    wait_until(lambda: client.get("/api/state").json()["timeline"], what="a first timeline sample")
    stream = Stream(client)
    try:
        first = stream.next_message()
        assert first["type"] == "state" and first["timeline"], "the timeline so far is in the first message"
        assert [s["t"] for s in first["timeline"]] == sorted(s["t"] for s in first["timeline"])
        sample = stream.until(lambda m: m["type"] == "timeline")["sample"]
        assert sample["t"] > first["timeline"][-1]["t"]
        assert [r["release"] for r in sample["releases"]] == ["whoami"]
        traffic = stream.until(lambda m: m["type"] == "traffic" and m["rows"] and m["rows"][0]["rate"] > 0)
        [row] = traffic["rows"]
        assert (row["version"], row["releases"], row["weight"], row["share"]) == ("1.0.0", ["whoami"], 100, 100)
        assert traffic["failed_share"] == 0
    finally:
        stream.close()
