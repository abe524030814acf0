"""The suite's MQTT engines (``broker.engines``) as the bus tests use them, and the truth they check.

One engine of each kind per session (RabbitMQ takes ~12 s to start, a NATS cluster ~6 s):
``tests/engines/conftest.py`` parametrises the ``engine`` fixture over them, and pytest
runs every test of one engine before it starts the next, so only one runs at a time.
The Mosquitto engine is the session's shared ``mosquitto``.

On a cluster (NATS), publishers get the servers in order and subscribers the list
rotated by one: watchers connect to the first server, agents to the second, and both
fail over to the rest.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from broker.engines import Engine
from bus.captures import Capture, CapturedMessage
from bus.topics import TopicError, Topics
from bus.urls import Brokers, parse_brokers
from led_agent.agent import Agent
from sim.podstore import PodStore
from tests.support.brokers import BrokerEndpoint
from watcher.podviews import view_pod

# Kubernetes node names as clouds hand them out: NATS < 2.10 refuses the dots, RabbitMQ splits at them.
DOTTED_NODES = tuple(f"ip-10-0-1-{n}.eu-west-1.compute.internal" for n in (23, 24, 25))

Shown = list[tuple[str, str | None, str]]  # (key, colour, state), sorted


@dataclass
class EngineUnderTest:
    kind: str
    urls: tuple[str, ...]
    engine: Engine | None = None  # None: the session's Mosquitto, not ours to stop

    @property
    def publishers(self) -> Brokers:
        """The failover list of watchers and replays: the first server first."""
        return parse_brokers([",".join(self.urls)])

    @property
    def subscribers(self) -> Brokers:
        """The failover list of agents and consoles: on a cluster, another server first."""
        return parse_brokers([",".join(self.urls[1:] + self.urls[:1])])

    def endpoint(self, index: int = 0) -> BrokerEndpoint:
        parts = urlsplit(self.urls[index])
        assert parts.hostname and parts.port
        return BrokerEndpoint(parts.hostname, parts.port)


def api_truth(store: PodStore, node: str, *, selector: tuple[str, str] = ("blinkt", "show")) -> Shown:
    """What every subscriber must show for ``node``: the API's shown, unfinished pods on it."""
    pods: list[dict[str, Any]] = list(store.select()[0])
    views = [view_pod(p, color_label="blinktColor") for p in pods
             if (p["metadata"].get("labels") or {}).get(selector[0]) == selector[1]]
    return sorted((v.key, v.color, v.state.value) for v in views if v.node == node and not v.finished)


def agent_shows(agent: Agent, node: str) -> Shown:
    entries = agent.board.entries(node)
    return sorted((e.key, e.color, e.state.value if e.state else "ready") for e in entries)


def shown_once(agent: Agent, node: str) -> bool:
    keys = [e.key for e in agent.board.entries(node)]
    return len(keys) == len(set(keys))


def with_nodes(capture: Capture, names: Mapping[str, str]) -> Capture:
    """``capture`` as if its nodes had been called ``names[node]``: topics and payloads alike."""
    topics = Topics()

    def rename(message: CapturedMessage) -> CapturedMessage:
        try:
            parsed = topics.parse(message.topic)
        except TopicError:
            return message
        topic = topics.node(names.get(parsed.node, parsed.node), parsed.kind)
        payload = message.payload
        if payload.startswith(b"{"):
            data = json.loads(payload)
            if data.get("node") in names:
                data["node"] = names[data["node"]]
            payload = json.dumps(data, separators=(",", ":")).encode()
        return replace(message, topic=topic, payload=payload)

    return replace(capture, messages=tuple(rename(m) for m in capture.messages))
