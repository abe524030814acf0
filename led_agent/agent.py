"""The agent process: bus messages in, frames out. The thin I/O shell around the board.

Threads: paho's network thread feeds :meth:`Board.handle` (decode + apply, no waiting);
the render thread (:class:`RenderLoop`) computes frames and writes the device; the main
thread waits for a signal.

MQTT habits (``bus.connection``): the client id *is* the agent id (so a broker ACL can
say ``pattern readwrite agents/%c/#``) and the session is persistent, so QoS 1 events
queue at the broker while the agent is away (a reboot, a network blip) and are applied
when it is back. The default agent id (:func:`default_agent_id`) is the host name and a
digest of what the agent shows: stable across restarts (same session), and two agents
on one host showing different nodes, devices or buses never share a session — sharing
one made Mosquitto push one of them out every second, forever. Two agents that do share
an id (the same command started twice) are caught by the connection's takeover check:
the one pushed out says so once and exits (``bus.connection``). ``agents/<id>/status``
is a retained ``online`` with a last will ``offline``. Per node we subscribe to ``state``,
``pods`` and ``status`` at QoS 1. On a gap the board asks for a resync: we subscribe to
``nodes/<node>/state/#`` and drop it again, and the broker sends the retained snapshot
for the new subscription (see :meth:`Agent._resync`). Subscriptions of an earlier run
with the same id (other nodes, another prefix) may survive in the session; the board
drops those as ``unexpected_topic``.

With ``publish_frames``, what the device shows is published retained at QoS 0 on
``agents/<id>/frame`` after every device write (so at most ~60 times a second):
``{"agent": id, "brightness": b, "frames": {node: ["rrggbb", ...]}}``.

Health and metrics (``bus.health``'s :class:`Monitored`, served with ``--http-port``)
are read from what the parts already keep, one set of books: *alive* while the render
loop turns (``RenderLoop.alive``); *ready* while connected to the broker and the last
device write did not fail; metrics from the board's :class:`Counters` (the intake's
counts included), the render loop's frame rate and the board's per-node stats.

Stopping (SIGTERM in a pod): the render loop ends and blanks the device (joined within
2 s; a device hung in a write is left alone), then ``offline`` is published and
confirmed (within 2 s) and the connection closes — inside the chart's 10 s grace period
(Kubernetes' default is 30 s), with the broker up or down.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import socket
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from bus.connection import BusConnection, Message
from bus.health import Health, Metric
from bus.topics import Topics, validate_agent_id
from bus.urls import BrokerAddress
from led_agent.backends import Device
from led_agent.board import DEFAULT_MAX_PODS, Board, Counters
from led_agent.pacing import DEFAULT_FPS, STALL_SECONDS, RenderLoop
from led_agent.rendering import Frame

log = logging.getLogger(__name__)

DEFAULT_LEDS = 8
DEFAULT_BRIGHTNESS = 0.2


HOST_CHARS = 100


def default_agent_id(*, nodes: Sequence[str], device: str, prefix: str = "", host: str | None = None) -> str:
    """``<host>-<8 hex>``: the host name fit for a topic level, and a digest of what the agent shows.

    The digest covers the nodes (in order: they are the rows), the device and the topic
    prefix, so the id is the same on every restart with the same options and differs for
    any other agent on the host.
    """
    name = re.sub(r"[^A-Za-z0-9_-]", "-", host if host is not None else socket.gethostname())
    name = name.strip("_-")[:HOST_CHARS].rstrip("_-") or "led-agent"
    shows = "\n".join([f"device={device}", f"prefix={prefix}", *(f"node={node}" for node in nodes)])
    return validate_agent_id(f"{name}-{hashlib.sha256(shows.encode()).hexdigest()[:8]}")


@dataclass(frozen=True)
class AgentConfig:
    broker: BrokerAddress
    nodes: tuple[str, ...]
    agent_id: str
    leds: int = DEFAULT_LEDS
    brightness: float = DEFAULT_BRIGHTNESS
    topics: Topics = field(default_factory=Topics)
    publish_frames: bool = False
    fps: float = DEFAULT_FPS
    max_pods: int = DEFAULT_MAX_PODS


class Agent:
    """Subscribe to the configured nodes and render them on ``device``."""

    def __init__(self, config: AgentConfig, device: Device, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._clock = clock
        self.board = Board(config.nodes, leds=config.leds, topics=config.topics, clock=clock,
                           max_pods=config.max_pods)
        self.connection = BusConnection(
            config.broker,
            client_id=validate_agent_id(config.agent_id),
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
        node = self.board.handle(message.topic, message.payload, retained=message.retain)
        if node is not None:
            self._resync(node)

    def _resync(self, node: str) -> None:
        """Have the broker send the retained snapshot again, never dropping the live subscription.

        A new subscription gets the retained messages it matches, and ``<state>/#`` matches
        ``<state>`` itself (MQTT 3.1.1 §4.7.1.2), so we add that filter and drop it again.
        Unsubscribing ``<state>`` first would open a window in which the watcher's live
        snapshot arrives only as a retained copy, which is judged by its seq.
        """
        again = f"{self.config.topics.state(node)}/#"
        log.info("%s: missed events; asking the broker for the retained snapshot again", node)
        self.connection.subscribe(again, 1)
        self.connection.unsubscribe(again)

    def _publish_frames(self, frames: Mapping[str, Frame]) -> None:
        payload = {"agent": self.config.agent_id, "brightness": self.config.brightness,
                   "frames": {node: list(frame) for node, frame in frames.items()}}
        topic = self.config.topics.agent_frame(self.config.agent_id)
        self.connection.publish(topic, json.dumps(payload).encode(), qos=0, retain=True)

    # -- health and metrics (bus.health.Monitored) --------------------------------------

    def health(self) -> Health:
        not_live = {} if self.loop.alive() else {"render": f"the render loop has not turned for {STALL_SECONDS:g} s"}
        not_ready = {}
        if not self.connection.connected:
            not_ready["broker"] = f"not connected to {self.config.broker.redacted()}"
        if self.loop.device_error is not None:
            not_ready["device"] = f"the last write failed: {self.loop.device_error}"
        return Health(live=not not_live, not_live=not_live, not_ready=not_ready)

    def metrics(self) -> Iterator[Metric]:
        c, stats, now = self.counters, self.board.stats(), self._clock()
        yield Metric.single("shinealight_messages_received", "bus messages received", "counter", c.messages)
        yield Metric.by_label("shinealight_messages_dropped", "bad input dropped, by reason", "counter",
                              "reason", c.bad)
        yield Metric.single("shinealight_events_applied", "pod events applied", "counter", c.events_applied)
        yield Metric.single("shinealight_events_ignored", "pod events ignored (duplicates, old)", "counter",
                            c.events_ignored)
        yield Metric.single("shinealight_snapshots_applied", "snapshots taken", "counter", c.snapshots_applied)
        yield Metric.single("shinealight_snapshots_ignored", "retained snapshots older than the list", "counter",
                            c.snapshots_ignored)
        yield Metric.single("shinealight_snapshots_cleared", "empty retained snapshots", "counter",
                            c.snapshots_cleared)
        yield Metric.single("shinealight_resyncs", "retained snapshots asked for again after a gap", "counter",
                            c.resyncs)
        yield Metric.single("shinealight_frames_rendered", "frames computed by the render loop", "counter", c.renders)
        yield Metric.single("shinealight_frames_per_second", "frames computed per second, recently", "gauge",
                            self.loop.frame_rate)
        yield Metric.single("shinealight_device_writes", "frames written to the device", "counter", c.device_writes)
        yield Metric.single("shinealight_device_errors", "device writes that failed", "counter", c.device_errors)
        yield Metric.single("shinealight_broker_connected", "1 while connected to the broker", "gauge",
                            float(self.connection.connected))
        yield Metric.by_label("shinealight_pods_tracked", "pods held per node", "gauge", "node",
                              {node: s.tracked for node, s in stats.items()})
        yield Metric.by_label("shinealight_pods_hidden", "pods beyond --max-pods per node, counted only", "gauge",
                              "node", {node: s.hidden for node, s in stats.items()})
        yield Metric.by_label("shinealight_last_event_age_seconds",
                              "seconds since the node's last event or snapshot was applied", "gauge", "node",
                              {node: now - s.taken_at for node, s in stats.items() if s.taken_at is not None})
