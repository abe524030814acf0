"""The agent process: bus messages in, frames out. The thin I/O shell around the board.

Threads: paho's network thread feeds :meth:`Board.handle` (decode + apply, no waiting);
the render thread (:class:`RenderLoop`) computes frames and writes the device; the main
thread waits for a signal.

MQTT habits (``bus.connection``): a fixed client id derived from the agent id and a
persistent session, so QoS 1 events queue at the broker while the agent is away (a
reboot, a network blip) and are applied when it is back; ``agents/<id>/status`` is a
retained ``online`` with a last will ``offline``. Per node we subscribe to ``state``,
``pods`` and ``status`` at QoS 1. On a gap the board asks for a resync: we unsubscribe
and subscribe ``nodes/<node>/state`` again, and the broker re-sends the retained
snapshot (MQTT 3.1.1 §3.8.4). Subscriptions of an earlier run with the same id (other
nodes, another prefix) may survive in the session; the board drops those as
``unexpected_topic``.

With ``publish_frames``, what the device shows is published retained at QoS 0 on
``agents/<id>/frame`` after every device write (so at most ~60 times a second):
``{"agent": id, "brightness": b, "frames": {node: ["rrggbb", ...]}}``.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from bus.connection import BusConnection, Message
from bus.topics import Topics, validate_agent_id
from bus.urls import BrokerUrl
from led_agent.backends import Device, FollowsBoard
from led_agent.board import Board, Counters
from led_agent.pacing import DEFAULT_FPS, RenderLoop
from led_agent.rendering import Frame

log = logging.getLogger(__name__)

DEFAULT_LEDS = 8
DEFAULT_BRIGHTNESS = 0.2


def default_agent_id(hostname: str | None = None) -> str:
    """The host name, made fit for a topic level (letters, digits, '.', '_', '-')."""
    name = re.sub(r"[^A-Za-z0-9._-]", "-", hostname if hostname is not None else socket.gethostname())
    name = name.lstrip("._-")[:128]
    return name or "led-agent"


def client_id(agent_id: str) -> str:
    return f"led-agent-{validate_agent_id(agent_id)}"


@dataclass(frozen=True)
class AgentConfig:
    broker: BrokerUrl
    nodes: tuple[str, ...]
    agent_id: str
    leds: int = DEFAULT_LEDS
    brightness: float = DEFAULT_BRIGHTNESS
    topics: Topics = field(default_factory=Topics)
    publish_frames: bool = False
    fps: float = DEFAULT_FPS


class Agent:
    """Subscribe to the configured nodes and render them on ``device``."""

    def __init__(self, config: AgentConfig, device: Device, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.board = Board(config.nodes, leds=config.leds, topics=config.topics, clock=clock)
        if isinstance(device, FollowsBoard):
            device.follow(self.board)
        self.connection = BusConnection(
            config.broker,
            client_id=client_id(config.agent_id),
            persistent=True,
            status_topic=config.topics.agent_status(config.agent_id),
            subscriptions=[(t, 1) for node in config.nodes for t in self._node_topics(node)],
            on_message=self._on_message,
        )
        hook = self._publish_frames if config.publish_frames else None
        self.loop = RenderLoop(self.board, device, brightness=config.brightness, fps=config.fps, on_frames=hook)

    def _node_topics(self, node: str) -> tuple[str, ...]:
        topics = self.config.topics
        return topics.state(node), topics.pods(node), topics.status(node)

    @property
    def counters(self) -> Counters:
        return self.board.counters

    def start(self) -> None:
        """Start rendering and connect in the background (a broker that is down is retried)."""
        self.loop.start()
        self.connection.start()

    def stop(self) -> None:
        """Blank and close the device, publish ``offline``, disconnect."""
        self.loop.stop()
        self.connection.stop(publish_offline=True)

    def _on_message(self, message: Message) -> None:
        node = self.board.handle(message.topic, message.payload)
        if node is not None:
            self._resync(node)

    def _resync(self, node: str) -> None:
        state = self.config.topics.state(node)
        log.info("%s: missed events; asking the broker for the retained snapshot again", node)
        self.connection.unsubscribe(state)
        self.connection.subscribe(state, 1)

    def _publish_frames(self, frames: Mapping[str, Frame]) -> None:
        payload = {"agent": self.config.agent_id, "brightness": self.config.brightness,
                   "frames": {node: list(frame) for node, frame in frames.items()}}
        topic = self.config.topics.agent_frame(self.config.agent_id)
        self.connection.publish(topic, json.dumps(payload).encode(), qos=0, retain=True)
