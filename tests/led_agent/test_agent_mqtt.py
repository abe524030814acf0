"""The agent on the wire: ``python -m led_agent --device json`` against the real Mosquitto.

The agent runs as a subprocess (as a user runs it); a plain paho client plays the
watcher; frames are read from the agent's stdout, logs from its stderr. The resync and
frame-publishing paths run the :class:`Agent` in-process to read its counters.
"""

from __future__ import annotations

import json
import signal
import socket
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from bus.topics import Topics
from bus.urls import parse_broker_url
from led_agent.agent import Agent, AgentConfig
from led_agent.backends.null import NullDevice
from tests.support.brokers import BrokerEndpoint
from tests.support.http import http_get
from tests.support.messages import event, snapshot
from tests.support.probes import Probe
from tests.support.processes import JsonAgentProcess
from tests.support.waiting import wait_until

LEDS = 4
DARK = "000000"
GRACE_SECONDS = 10  # the chart's terminationGracePeriodSeconds for agents (Kubernetes' default: 30)


def padded(*colors: str) -> list[str]:
    return [*colors] + [DARK] * (LEDS - len(colors))


class AgentProcess(JsonAgentProcess):
    """The agent for node ``n1`` on LEDS LEDs, with every frame it printed."""

    def __init__(self, endpoint: BrokerEndpoint, prefix: str, agent_id: str, *extra: str) -> None:
        self.frames: list[list[str]] = []
        super().__init__(endpoint, prefix, agent_id, nodes=["n1"], leds=LEDS, on_frame=self._take, extra=extra)

    def _take(self, node: str, leds: list[str], _brightness: float) -> None:
        assert node == "n1"
        self.frames.append(leds)

    def wait_frame(self, expected: list[str], timeout: float = 10) -> None:
        self.wait(lambda: bool(self.frames) and self.frames[-1] == expected,
                  f"frame {expected} (last frames {self.frames[-5:]})", timeout)


class Publisher:
    """The watcher's side: QoS 1 publishes, each confirmed by the broker."""

    def __init__(self, endpoint: BrokerEndpoint, prefix: str) -> None:
        self.topics = Topics(prefix)
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}")
        self._client.connect(endpoint.host, endpoint.port)
        self._client.loop_start()

    def send(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        self._client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def pods(self, payload: bytes) -> None:
        self.send(self.topics.pods("n1"), payload)

    def state(self, payload: bytes) -> None:
        self.send(self.topics.state("n1"), payload, retain=True)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


@pytest.fixture
def publisher(mosquitto: BrokerEndpoint, topic_prefix: str) -> Iterator[Publisher]:
    pub = Publisher(mosquitto, topic_prefix)
    yield pub
    pub.close()


@pytest.fixture
def spawn(mosquitto: BrokerEndpoint, topic_prefix: str) -> Iterator[Callable[..., AgentProcess]]:
    started: list[AgentProcess] = []

    def start(agent_id: str = "agent-1", *extra: str) -> AgentProcess:
        started.append(AgentProcess(mosquitto, topic_prefix, agent_id, *extra))
        return started[-1]

    yield start
    for agent in started:
        agent.close()


@pytest.fixture
def spawn_at(topic_prefix: str) -> Iterator[Callable[..., AgentProcess]]:
    """An agent for a broker of the test's choice (one that is not there, say)."""
    started: list[AgentProcess] = []

    def start(endpoint: BrokerEndpoint, *extra: str) -> AgentProcess:
        started.append(AgentProcess(endpoint, topic_prefix, "agent-away", *extra))
        return started[-1]

    yield start
    for agent in started:
        agent.close()


def wait_status(probe: Probe, status: bytes) -> None:
    probe.wait_for(lambda messages: bool(messages) and messages[-1].payload == status)


def test_snapshot_then_events_then_a_clean_stop(spawn: Callable[..., AgentProcess], publisher: Publisher,
                                                probe: Callable[[str], Probe], topic_prefix: str) -> None:
    status = probe(Topics(topic_prefix).agent_status("agent-1"))
    publisher.state(snapshot(10, "a", "b", colors={"a": "ff0000", "b": "00ff00"}).to_payload())
    agent = spawn()
    agent.wait_frame(padded("ff0000", "00ff00"))
    wait_status(status, b"online")
    publisher.pods(event("add", "c", 11, color="0000ff").to_payload())
    publisher.pods(event("remove", "a", 12).to_payload())
    publisher.pods(event("update", "b", 13, color="ffff00").to_payload())
    agent.wait_frame(padded("ffff00", "0000ff"))
    assert padded("ff0000", "ffff00", "0000ff") in agent.frames  # a flashed at its place before the gap closed
    assert agent.stop(signal.SIGTERM) == 0
    assert agent.frames[-1] == padded()  # the device is cleared
    wait_status(status, b"offline")


def test_bad_input_never_changes_the_frame_nor_kills_the_agent(
        spawn: Callable[..., AgentProcess], publisher: Publisher) -> None:
    publisher.state(snapshot(1, "a", colors={"a": "ff0000"}).to_payload())
    agent = spawn()
    agent.wait_frame(padded("ff0000"))
    shown = len(agent.frames)
    for payload in [b"not json", b"\xff\xfe", b'{"action":"add"}', b'{"action":"explode","pod":"x"}',
                    b'{"v":9,"action":"add","pod":"x"}', b'{"action":"add","pod":"x","seq":"2"}',
                    b"[]", b'{"action":"add","pod":"' + b"x" * 70_000 + b'"}']:
        publisher.pods(payload)
    publisher.state(b'{"node":"n1","seq":5,"pods":"everything"}')
    publisher.send(publisher.topics.status("n1"), b"maybe")
    publisher.pods(b'{"action":"add","pod":"marker","color":"00ff00"}')  # seed-style: shown
    agent.wait_frame(padded("ff0000", "00ff00"))
    assert len(agent.frames) == shown + 1  # nothing in between
    assert agent.proc.poll() is None
    for kind in ["not_json", "not_utf8", "invalid", "unknown_action", "unknown_version", "not_object",
                 "oversized", "bad_status"]:
        agent.wait_log(f"[{kind}]")


def test_minimal_seed_message_without_snapshot_is_shown(spawn: Callable[..., AgentProcess], publisher: Publisher,
                                                       probe: Callable[[str], Probe], topic_prefix: str) -> None:
    status = probe(Topics(topic_prefix).agent_status("agent-1"))
    agent = spawn()
    wait_status(status, b"online")
    publisher.pods(b'{"action":"add","pod":"x","color":"ff0000"}')
    agent.wait_frame(padded("ff0000"))


def test_persistent_session_queues_events_while_the_agent_is_away(
        spawn: Callable[..., AgentProcess], publisher: Publisher, probe: Callable[[str], Probe],
        topic_prefix: str) -> None:
    status = probe(Topics(topic_prefix).agent_status("pi-7"))
    publisher.state(snapshot(10, "a", "b", colors={"a": "ff0000", "b": "00ff00"}).to_payload())
    first = spawn("pi-7")
    first.wait_frame(padded("ff0000", "00ff00"))
    wait_status(status, b"online")
    first.stop(signal.SIGKILL)
    wait_status(status, b"offline")  # the last will
    publisher.pods(event("add", "c", 11, color="0000ff").to_payload())
    publisher.pods(event("remove", "a", 12).to_payload())
    second = spawn("pi-7")
    second.wait_frame(padded("00ff00", "0000ff"))
    wait_status(status, b"online")


def test_a_gap_resyncs_from_the_retained_snapshot_and_frames_are_published(
        mosquitto: BrokerEndpoint, publisher: Publisher, probe: Callable[[str], Probe], topic_prefix: str) -> None:
    topics = Topics(topic_prefix)
    frames = probe(topics.agent_frame("in-proc"))
    publisher.state(snapshot(5, "a", colors={"a": "ff0000"}).to_payload())
    config = AgentConfig(broker=parse_broker_url(mosquitto.url), nodes=("n1",), agent_id="in-proc", leds=2,
                         topics=topics, publish_frames=True)
    agent = Agent(config, NullDevice())
    agent.start()
    try:
        wait_until(lambda: agent.counters.snapshots_applied == 1, what="the retained snapshot")
        publisher.pods(event("add", "b", 7, color="00ff00").to_payload())  # 6 is missing
        wait_until(lambda: agent.counters.snapshots_ignored == 1, what="the snapshot sent again")  # seq 5 < 7
        assert agent.counters.resyncs == 1
        frames.wait_for(lambda ms: any(json.loads(m.payload)["frames"]["n1"] == ["ff0000", "00ff00"] for m in ms))
        last = json.loads(frames.messages[-1].payload)
        assert (last["agent"], last["brightness"]) == ("in-proc", 0.2)
        assert frames.messages[-1].qos == 0
    finally:
        agent.stop()


# -- hostile input on the wire ----------------------------------------------------------------


def test_a_seq_jump_within_the_epoch_no_longer_freezes_the_node(spawn: Callable[..., AgentProcess],
                                                                publisher: Publisher) -> None:
    """Issue 6: after one event with seq 1000 every later event and snapshot was judged old."""
    publisher.state(snapshot(5, "a", colors={"a": "ff0000"}, epoch="e1").to_payload())
    agent = spawn()
    agent.wait_frame(padded("ff0000"))
    publisher.pods(event("add", "evil", 1000, color="ffffff", epoch="e1").to_payload())
    publisher.pods(event("add", "evil2", 10**15, color="ffffff", epoch="e1").to_payload())  # dropped: too far
    agent.wait_frame(padded("ff0000", "ffffff"))  # plausible, so shown (a gap) ...
    publisher.pods(event("add", "b", 6, color="00ff00", epoch="e1").to_payload())  # ... and this looks old,
    publisher.state(snapshot(6, "a", "b", colors={"a": "ff0000", "b": "00ff00"}, epoch="e1").to_payload())
    agent.wait_frame(padded("ff0000", "00ff00"))  # but the watcher's live snapshot wins
    publisher.pods(event("add", "c", 7, color="0000ff", epoch="e1").to_payload())
    agent.wait_frame(padded("ff0000", "00ff00", "0000ff"))
    agent.wait_log("[seq_jump]")


def test_a_flood_of_hostile_payloads_costs_one_line_per_kind_and_no_traceback(
        spawn: Callable[..., AgentProcess], publisher: Publisher) -> None:
    publisher.state(snapshot(1, "a", colors={"a": "ff0000"}).to_payload())
    agent = spawn()
    agent.wait_frame(padded("ff0000"))
    hostile = [b"[" * 60_000, b'{"action":"add","pod":"x","seq":' + b"9" * 5_000 + b"}",
               b'{"action":"add","pod":"x","seq":' + str(10**30).encode() + b"}", b"\x00garbage"]
    for _ in range(50):
        for payload in hostile:
            publisher.pods(payload)
    publisher.pods(b'{"action":"add","pod":"marker","color":"00ff00"}')
    agent.wait_frame(padded("ff0000", "00ff00"))
    assert agent.proc.poll() is None
    dropped = [line for line in agent.stderr if "dropped a message" in line]
    assert sorted(line.split("] ")[0].rsplit("[", 1)[1] for line in dropped) == ["not_json", "out_of_range",
                                                                                  "too_deep"]
    assert not any("Traceback" in line for line in agent.stderr)


# -- health, metrics and stopping, as a pod runs it ---------------------------------------------


def health_url(agent: AgentProcess) -> str:
    agent.wait_log("health and metrics on http://")
    line = next(line for line in agent.stderr if "health and metrics on http://" in line)
    return line.split(" on ", 1)[1].split()[0]


def metric(text: str, name: str) -> float:
    return float(next(line.rsplit(" ", 1)[1] for line in text.splitlines() if line.startswith(name + " ")))


HEALTH = ("--http-host", "127.0.0.1", "--http-port", "0")


def test_probes_and_metrics_of_a_running_agent(spawn: Callable[..., AgentProcess], publisher: Publisher) -> None:
    publisher.state(snapshot(1, "a", "b", "c", colors={"a": "ff0000"}).to_payload())
    agent = spawn("agent-1", *HEALTH, "--max-pods", "2")
    url = health_url(agent)
    agent.wait_frame(padded("ff0000", "0000ff"))  # two pods held, the third counted
    assert http_get(url + "/healthz") == (200, "ok\n")
    wait_until(lambda: http_get(url + "/readyz") == (200, "ok\n"), what="ready")
    publisher.pods(b"[" * 60_000)
    publisher.pods(event("add", "d", 2).to_payload())
    publisher.pods(event("add", "d", 2).to_payload())
    wait_until(lambda: 'shinealight_messages_dropped_total{reason="too_deep"} 1.0' in http_get(url + "/metrics")[1],
               what="the dropped message counted")
    text = http_get(url + "/metrics")[1]
    assert metric(text, "shinealight_messages_received_total") == 4
    assert (metric(text, "shinealight_events_applied_total"), metric(text, "shinealight_events_ignored_total")) == (
        1, 1)
    assert metric(text, "shinealight_snapshots_applied_total") == 1
    assert metric(text, "shinealight_broker_connected") == 1
    assert metric(text, "shinealight_device_writes_total") >= 1
    assert metric(text, "shinealight_frames_rendered_total") >= 1
    assert 'shinealight_pods_tracked{node="n1"} 2.0' in text and 'shinealight_pods_hidden{node="n1"} 2.0' in text
    assert 0 <= metric(text, 'shinealight_last_event_age_seconds{node="n1"}') < 60
    assert "shinealight_frames_per_second " in text and "shinealight_resyncs_total 0.0" in text


def test_not_ready_while_the_broker_is_away_and_sigterm_still_stops_at_once(
        spawn_at: Callable[..., AgentProcess]) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    agent = spawn_at(BrokerEndpoint("127.0.0.1", port), *HEALTH)
    url = health_url(agent)
    assert http_get(url + "/healthz") == (200, "ok\n")
    status, body = http_get(url + "/readyz")
    assert status == 503 and body.startswith("broker: not connected to mqtt://127.0.0.1:")
    started = time.monotonic()
    assert agent.stop(signal.SIGTERM) == 0
    assert time.monotonic() - started < GRACE_SECONDS
    assert not any("Traceback" in line for line in agent.stderr)


def test_sigterm_publishes_offline_and_exits_within_the_grace_period(
        spawn: Callable[..., AgentProcess], publisher: Publisher, probe: Callable[[str], Probe],
        topic_prefix: str) -> None:
    status = probe(Topics(topic_prefix).agent_status("agent-1"))
    publisher.state(snapshot(1, "a", colors={"a": "ff0000"}).to_payload())
    agent = spawn("agent-1", *HEALTH)
    url = health_url(agent)
    agent.wait_frame(padded("ff0000"))
    wait_status(status, b"online")
    started = time.monotonic()
    assert agent.stop(signal.SIGTERM) == 0
    assert time.monotonic() - started < GRACE_SECONDS
    wait_status(status, b"offline")
    assert agent.frames[-1] == padded()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + "/healthz", timeout=2)
