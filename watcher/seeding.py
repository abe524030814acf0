"""Read the retained snapshots a previous watcher incarnation left on the broker.

A restarted watcher must continue ``seq`` and keep the order of pods that stayed, so it
reads ``nodes/<node>/state`` before it lists the API. MQTT has no "end of retained
messages" marker, so we make one: after subscribing to the snapshots we publish to a
private topic we also subscribe to. The broker handles our packets in order, so when
that marker comes back every retained snapshot has already been delivered — no fixed
sleep, no guessing. If the marker does not come back in time (a broker that reorders)
we go on with what arrived and say so.
"""

from __future__ import annotations

import logging
import threading
import uuid

from bus.connection import BusConnection, Message
from bus.messages import BadMessage, NodeSnapshot, decode_snapshot
from bus.topics import NodeTopic, TopicError, Topics

log = logging.getLogger(__name__)


class SnapshotReader:
    """Collects retained snapshots; feed it messages via :meth:`handle`."""

    def __init__(self, topics: Topics, *, watcher_id: str, nodes: frozenset[str] | None) -> None:
        self._topics = topics
        self._nodes = nodes
        self._sync_topic = topics.watcher_sync(watcher_id)
        self._marker = uuid.uuid4().hex.encode()
        self._done = threading.Event()
        self.snapshots: dict[str, NodeSnapshot] = {}
        self.rejected = 0

    def handle(self, message: Message) -> bool:
        """Take a message if it is ours; returns whether it was."""
        if message.topic == self._sync_topic:
            if message.payload == self._marker:
                self._done.set()
            return True
        try:
            parsed = self._topics.parse(message.topic)
        except TopicError:
            return False
        if parsed.kind is not NodeTopic.STATE or not message.payload:
            return parsed.kind is NodeTopic.STATE
        if self._nodes is None or parsed.node in self._nodes:
            self._take(parsed.node, message.payload)
        return True

    def _take(self, node: str, payload: bytes) -> None:
        try:
            snapshot = decode_snapshot(payload)
        except BadMessage as e:
            self.rejected += 1
            log.warning("ignoring unreadable retained snapshot of %s: %s", node, e)
            return
        if snapshot.node != node:
            self.rejected += 1
            log.warning("ignoring snapshot on %s's topic that names node %s", node, snapshot.node)
            return
        self.snapshots[node] = snapshot

    def abort(self) -> None:
        """End a :meth:`read` that is waiting (the watcher is stopping)."""
        self._done.set()

    def read(self, connection: BusConnection, *, timeout: float) -> dict[str, NodeSnapshot]:
        """Subscribe, wait for the marker, unsubscribe; returns the snapshots by node."""
        filters = [self._topics.state(n) for n in sorted(self._nodes)] if self._nodes else [self._topics.state_filter()]
        for topic_filter in [*filters, self._sync_topic]:
            connection.subscribe(topic_filter, qos=1)
        connection.publish(self._sync_topic, self._marker, qos=1)
        if not self._done.wait(timeout):
            log.warning("retained snapshots not confirmed within %.1f s; continuing with %d", timeout,
                        len(self.snapshots))
        for topic_filter in [*filters, self._sync_topic]:
            connection.unsubscribe(topic_filter)
        return dict(self.snapshots)
