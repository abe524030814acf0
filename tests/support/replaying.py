"""Replaying captures through the real Mosquitto into real LED agents: devices, agents, waits.

Every test replays under its own ``topic_prefix``, so the retained state a replay leaves
on the session broker never meets another test's. Agents get ids derived from the
prefix: their persistent sessions outlive the test and must not be reused.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping

from bus.connection import BusConnection, Message
from bus.urls import parse_broker_url
from led_agent.rendering import Frame
from tests.support.brokers import BrokerEndpoint
from tests.support.processes import JsonAgentProcess as SharedJsonAgent

NODES = ("node-1", "node-2", "node-3")
LEDS = 8
SPEED = 20.0  # timing matters to the animations only; the captures' order is what is tested

Frames = dict[str, Frame]


class FrameRecorder:
    """A device that keeps every frame it is shown, per node, and the latest of each."""

    def __init__(self) -> None:
        self.history: list[tuple[str, Frame]] = []
        self.latest: Frames = {}
        self._cond = threading.Condition()

    def show(self, frames: Mapping[str, Frame], brightness: float) -> None:
        with self._cond:
            for node, frame in frames.items():
                self.history.append((node, frame))
                self.latest[node] = frame
            self._cond.notify_all()

    def close(self) -> None:
        """Nothing to release."""

    def of(self, node: str) -> list[Frame]:
        with self._cond:
            return [frame for n, frame in self.history if n == node]

    def wait_for(self, expected: Frames, timeout: float = 10) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: self.latest == expected, timeout):
                raise AssertionError(f"frames never became {expected}; last {self.latest}")


class OnlineWatch:
    """Waits for an agent's retained ``online``. The agent publishes it after subscribing, on the
    same connection: once the broker has it, the subscriptions are in place and nothing replayed
    later is missed. (A BusConnection, not the ``probe`` fixture: it disconnects before stopping
    its loop, so closing takes milliseconds, not paho's one-second select.)"""

    def __init__(self, endpoint: BrokerEndpoint, topic: str) -> None:
        self._online = threading.Event()
        self._connection = BusConnection(parse_broker_url(endpoint.url), client_id=f"online-{uuid.uuid4().hex[:8]}",
                                         subscriptions=[(topic, 1)], on_message=self._take)
        self._connection.start(wait=5)

    def _take(self, message: Message) -> None:
        if message.payload == b"online":
            self._online.set()

    def wait(self, timeout: float = 10) -> None:
        try:
            assert self._online.wait(timeout), "the agent never said online"
        finally:
            self._connection.stop(publish_offline=False)


class JsonAgentProcess(SharedJsonAgent):
    """``python -m led_agent --device json`` for every node; its frames kept by a FrameRecorder."""

    def __init__(self, endpoint: BrokerEndpoint, prefix: str, agent_id: str) -> None:
        self.device = FrameRecorder()
        super().__init__(endpoint, prefix, agent_id, nodes=NODES, leds=LEDS, on_frame=self._take,
                         extra=["--log-level", "WARNING"])

    def _take(self, node: str, leds: list[str], brightness: float) -> None:
        self.device.show({node: tuple(leds)}, brightness)
