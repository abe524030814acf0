"""The agent on the wire: ``python -m led_agent --device json`` against the real Mosquitto.

The agent runs as a subprocess (as a user runs it); a plain paho client plays the
watcher; frames are read from the agent's stdout, logs from its stderr. The resync and
frame-publishing paths run the :class:`Agent` in-process to read its counters.
"""

from __future__ import annotations

import json
import signal
import time
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
from tests.support.messages import event, snapshot
from tests.support.probes import Probe
from tests.support.processes import JsonAgentProcess

LEDS = 4
DARK = "000000"


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


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what} not seen in {timeout} s"
        time.sleep(0.02)


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
        wait_until(lambda: agent.counters.snapshots_applied == 1, "the retained snapshot")
        publisher.pods(event("add", "b", 7, color="00ff00").to_payload())  # 6 is missing
        wait_until(lambda: agent.counters.snapshots_ignored == 1, "the snapshot sent again")  # seq 5 < 7
        assert agent.counters.resyncs == 1
        frames.wait_for(lambda ms: any(json.loads(m.payload)["frames"]["n1"] == ["ff0000", "00ff00"] for m in ms))
        last = json.loads(frames.messages[-1].payload)
        assert (last["agent"], last["brightness"]) == ("in-proc", 0.2)
        assert frames.messages[-1].qos == 0
    finally:
        agent.stop()
