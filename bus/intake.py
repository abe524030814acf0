"""Message intake for every subscriber: raw bus payloads in, per-node ordered lists out.

The LED agent's board and the console's wall read the same topics the same way, so the
way lives here once: parse the topic (``bus.topics``), decode and validate the payload
once (``bus.messages``), refuse an event or snapshot naming another node than its topic
(``wrong_node``), apply it to the node's :class:`bus.ordering.NodeList`, count
applied and ignored messages, pace resync requests, keep the watcher's status
(``online`` / ``offline`` / ``degraded`` / cleared, anything else is ``bad_status``; owners
show ``offline`` and ``degraded`` as stale) and notice an empty retained snapshot (a node
that left the cluster).

Pure: no paho, no I/O. Thread-safe the way its owners need it: paho's network thread
calls :meth:`NodeFeed.handle`, a render or flush thread reads the lists, both under
:attr:`NodeFeed.lock`. What an owner does with a message — animate a scene, mark a node
dirty for the browsers — it does in its ``on_taken`` callback, which runs under that same
lock right after the message was applied, so readers never see a list without its
bookkeeping.

Two ways to know nodes, because the two owners differ:

- a *fixed* feed (``nodes=[...]``, the agent) shows exactly those nodes; a message for
  another node is ``unexpected_topic``, and a cleared snapshot keeps the node and its
  last list (it does not say which pods are gone);
- an *open* feed (``nodes=None``, the console) adds a node with its first message and
  forgets it when its retained snapshot is cleared.

Resync pacing: a gap asks for a resync from the retained snapshot, but one request per
node is in flight at a time; it is asked again only after ``RESYNC_RETRY_SECONDS``
without a snapshot. Time comes from an injected clock.

Bad input is counted per ``BadMessage.kind``, logged rate-limited through the owner's
:class:`bus.ratelimit.RateLimitedLog`, and dropped before it can touch a list.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from bus.messages import STATUSES, BadMessage, NodeSnapshot, PodEvent, decode_event, decode_snapshot
from bus.ordering import NodeList, Outcome
from bus.ratelimit import RateLimitedLog
from bus.topics import NodeTopic, TopicError, Topics

log = logging.getLogger(__name__)

RESYNC_RETRY_SECONDS = 2.0
DETAIL_CHARS = 200


@dataclass
class FeedCounters:
    """The counts the feed keeps; an owner's counters extend them (one set of books)."""

    events_applied: int = 0
    events_ignored: int = 0
    snapshots_applied: int = 0
    snapshots_ignored: int = 0
    resyncs: int = 0


@dataclass
class FeedNode:
    """One node as fed: its ordered list, its watcher's status, its resync in flight."""

    items: NodeList = field(default_factory=NodeList)
    status: str | None = None
    resync_at: float | None = None  # when we last asked for a resync not yet answered


@dataclass(frozen=True)
class Taken:
    """What one good message did, for the owner's bookkeeping.

    ``state`` is the node after the message, ``None`` if the feed does not hold it (an
    open feed's cleared node, or a status cleared for a node never seen). ``outcome`` is
    the list's verdict and changes for an event or snapshot; ``cleared`` says an empty
    retained snapshot arrived for a node the feed held.
    """

    node: str
    state: FeedNode | None
    outcome: Outcome | None = None
    cleared: bool = False
    status_changed: bool = False


def _ignore(taken: Taken) -> None:
    """The default ``on_taken``: an owner with no bookkeeping of its own."""


class NodeFeed:
    """Per-node lists fed from raw messages; the owner reads them under :attr:`lock`."""

    def __init__(
        self,
        topics: Topics,
        *,
        nodes: Iterable[str] | None = None,
        counters: FeedCounters | None = None,
        bad_log: RateLimitedLog | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_taken: Callable[[Taken], None] = _ignore,
    ) -> None:
        self.topics = topics
        self.fixed = nodes is not None
        self._nodes = {node: FeedNode() for node in nodes or ()}
        self.counters = counters if counters is not None else FeedCounters()
        self.bad = bad_log or RateLimitedLog(log, clock=clock)
        self._clock = clock
        self._on_taken = on_taken
        self.lock = threading.Lock()

    @property
    def nodes(self) -> Mapping[str, FeedNode]:
        """The nodes held now, in order of arrival; read it under :attr:`lock`."""
        return self._nodes

    def handle(self, topic: str, payload: bytes) -> str | None:
        """Take one raw message; return the node to resync from its snapshot, if any."""
        try:
            parsed = self.topics.parse(topic)
        except TopicError as e:
            self._report(BadMessage("unexpected_topic", str(e)), topic)
            return None
        if self.fixed and parsed.node not in self._nodes:
            self._report(BadMessage("unexpected_topic", f"node {parsed.node!r} is not shown here"), topic)
            return None
        try:
            with self.lock:
                taken, resync = self._dispatch(parsed.node, parsed.kind, payload)
                self._on_taken(taken)
                return parsed.node if resync else None
        except BadMessage as e:
            self._report(e, topic)
            return None

    def _dispatch(self, node: str, kind: NodeTopic, payload: bytes) -> tuple[Taken, bool]:
        if kind is NodeTopic.PODS:
            return self._take_event(node, decode_event(payload))
        if kind is NodeTopic.STATE and not payload:
            return self._clear(node), False
        if kind is NodeTopic.STATE:
            return self._take_snapshot(node, decode_snapshot(payload)), False
        return self._take_status(node, payload), False

    def _take_event(self, node: str, event: PodEvent) -> tuple[Taken, bool]:
        if event.node is not None and event.node != node:
            raise BadMessage("wrong_node", f"event for node {event.node!r} on the topic of {node!r}")
        state = self._node(node)
        outcome = state.items.apply_event(event)
        if not outcome.applied:
            self.counters.events_ignored += 1
            return Taken(node, state, outcome), False
        self.counters.events_applied += 1
        return Taken(node, state, outcome), outcome.resync and self._resync_due(state)

    def _take_snapshot(self, node: str, snapshot: NodeSnapshot) -> Taken:
        if snapshot.node != node:
            raise BadMessage("wrong_node", f"snapshot of node {snapshot.node!r} on the topic of {node!r}")
        state = self._node(node)
        state.resync_at = None  # whatever its age, the resync we asked for has arrived
        outcome = state.items.apply_snapshot(snapshot)
        if outcome.applied:
            self.counters.snapshots_applied += 1
        else:
            self.counters.snapshots_ignored += 1
        return Taken(node, state, outcome)

    def _take_status(self, node: str, payload: bytes) -> Taken:
        if payload not in (*STATUSES, b""):
            raise BadMessage("bad_status", f"status must be online, offline or degraded, got {payload[:40]!r}")
        status = payload.decode() or None
        if status is None and node not in self._nodes:
            return Taken(node, None)  # clearing the status of a node never seen: nothing to hold
        state = self._node(node)
        changed = status != state.status
        state.status = status
        return Taken(node, state, status_changed=changed)

    def _clear(self, node: str) -> Taken:
        """An empty retained snapshot: a fixed feed keeps the node, an open one forgets it."""
        if self.fixed:
            return Taken(node, self._nodes[node], cleared=True)
        return Taken(node, None, cleared=self._nodes.pop(node, None) is not None)

    def _node(self, node: str) -> FeedNode:
        return self._nodes.setdefault(node, FeedNode())  # a fixed feed holds it already

    def _resync_due(self, state: FeedNode) -> bool:
        """One resync in flight per node; ask again only if it has not come in time."""
        now = self._clock()
        if state.resync_at is not None and now - state.resync_at < RESYNC_RETRY_SECONDS:
            return False
        state.resync_at = now
        self.counters.resyncs += 1
        return True

    def _report(self, error: BadMessage, topic: str) -> None:
        with self.lock:  # the rate-limited log is not thread-safe by itself
            self.bad.report(error.kind, "dropped a message on %s: %s", topic, error.detail[:DETAIL_CHARS])
