"""Retained state for a subscriber of every node, on brokers that keep it from wildcards.

A subscriber of ``nodes/+/+`` (the console's wall) bootstraps from the retained
snapshots and statuses the broker sends when it subscribes. RabbitMQ (3.10) sends a
retained message only to a subscription of exactly its topic, so such a subscriber
would start empty and stay empty for every quiet node. The remedy: also subscribe to
``nodes/<node>/state`` and ``nodes/<node>/status`` of every node the subscriber knows,
and keep those subscriptions (the connection renews them on every reconnect, which
brings the retained messages again; RabbitMQ delivers a message matching two
subscriptions of one client once). Subscribing and unsubscribing at once is not
enough there: RabbitMQ may process the unsubscribe before it looks up the retained
message.

:class:`RetainedBootstrap` decides which: the nodes the subscriber was told of
(``python -m console --node``) from the start, any other from its first live message.
As soon as a retained message arrives for a node without exact subscriptions — so
through the wildcard — the broker is one that delivers them (Mosquitto, amqtt, NATS):
the exact subscriptions are dropped and no new ones are made, so on those brokers this
costs nothing but the first moments. Pure and
thread-safe; the caller subscribes and unsubscribes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from bus.topics import NodeTopic, TopicError, Topics

EXACT = (NodeTopic.STATE, NodeTopic.STATUS)


@dataclass(frozen=True)
class Change:
    """Exact subscriptions to make and to drop now."""

    subscribe: list[str] = field(default_factory=list)
    unsubscribe: list[str] = field(default_factory=list)


class RetainedBootstrap:
    """Which exact-topic subscriptions a subscriber of every node needs, and when."""

    def __init__(self, topics: Topics, *, nodes: Iterable[str] = ()) -> None:
        self._topics = topics
        self._lock = threading.Lock()
        self._seen: set[str] = set(nodes)
        self._held: dict[str, None] = dict.fromkeys(self._seen)  # nodes with exact subscriptions
        self.wildcards_retain: bool | None = None  # None: not known yet

    def initial(self) -> list[str]:
        """The exact subscriptions to make from the start (the nodes given)."""
        with self._lock:
            return self._exact(list(self._held))

    def holds(self, node: str) -> bool:
        """Whether ``node`` has exact subscriptions (a resync must then unsubscribe first)."""
        with self._lock:
            return node in self._held

    def on_message(self, topic: str, *, retained: bool) -> Change:
        """What to subscribe or unsubscribe because of this message (usually nothing)."""
        try:
            node = self._topics.parse(topic).node
        except TopicError:
            return Change()
        with self._lock:
            if retained and not self.wildcards_retain and node not in self._held:  # so it came by wildcard
                self.wildcards_retain = True
                dropped, self._held = list(self._held), {}
                return Change(unsubscribe=self._exact(dropped))
            if node in self._seen:
                return Change()
            self._seen.add(node)
            if self.wildcards_retain:
                return Change()
            self._held[node] = None
            return Change(subscribe=self._exact([node]))

    def _exact(self, nodes: list[str]) -> list[str]:
        return [self._topics.node(node, kind) for node in nodes for kind in EXACT]
