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
:class:`bus.ratelimit.RateLimitedLog`, and dropped before it can touch a list. Nothing a
message carries raises out of :meth:`NodeFeed.handle`: besides the decoder's kinds, an
event jumping too far ahead (``seq_jump``, see ``bus.ordering``) is dropped and answered
with a (paced) resync, a new node beyond ``max_nodes`` on an open feed is
``too_many_nodes``, and an unexpected exception — a bug, not the sender's fault — is
counted as ``internal_error`` and logged with its traceback, rate-limited like the rest.

Bounds, so that no stream grows a subscriber without limit: ``max_pods`` per node (the
list's cap, ``bus.ordering``), ``max_nodes`` for an open feed (default 5,000, the
largest cluster Kubernetes supports), the ordering journal, and the payload size.

``retained`` tells a snapshot delivered from the broker's store (on (re)subscribe) from a
live one: the watcher's live snapshot always wins (``bus.ordering``). Owners pass MQTT's
retain flag; without it a snapshot is judged as a retained one (by its ``seq``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from bus.messages import STATUSES, BadMessage, NodeSnapshot, PodEvent, decode_event, decode_snapshot
from bus.ordering import DEFAULT_MAX_PODS, NodeList, Outcome, Verdict
from bus.ratelimit import RateLimitedLog
from bus.topics import NodeTopic, TopicError, Topics

log = logging.getLogger(__name__)

RESYNC_RETRY_SECONDS = 2.0
DETAIL_CHARS = 200
MAX_NODES = 5000


@dataclass
class FeedCounters:
    """The counts the feed keeps; an owner's counters extend them (one set of books).

    ``messages`` counts every message handled, good or bad; the bad ones are counted per
    kind by the feed's :class:`bus.ratelimit.RateLimitedLog`.
    """

    messages: int = 0
    events_applied: int = 0
    events_ignored: int = 0
    snapshots_applied: int = 0
    snapshots_ignored: int = 0
    resyncs: int = 0


@dataclass
class FeedNode:
    """One node as fed: its ordered list, its watcher's status, its resync in flight.

    ``taken_at``: when an event or snapshot for the node was last applied (feed's clock).
    """

    items: NodeList = field(default_factory=NodeList)
    status: str | None = None
    resync_at: float | None = None  # when we last asked for a resync not yet answered
    taken_at: float | None = None


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
        max_pods: int = DEFAULT_MAX_PODS,
        max_nodes: int = MAX_NODES,
    ) -> None:
        self.topics = topics
        self.fixed = nodes is not None
        self.max_pods = max_pods
        self.max_nodes = max_nodes
        self._nodes = {node: self._new_node() for node in nodes or ()}
        self.counters = counters if counters is not None else FeedCounters()
        self.bad = bad_log or RateLimitedLog(log, clock=clock)
        self._clock = clock
        self._on_taken = on_taken
        self.lock = threading.Lock()

    @property
    def nodes(self) -> Mapping[str, FeedNode]:
        """The nodes held now, in order of arrival; read it under :attr:`lock`."""
        return self._nodes

    def handle(self, topic: str, payload: bytes, *, retained: bool = True) -> str | None:
        """Take one raw message; return the node to resync from its snapshot, if any.

        ``retained``: MQTT's retain flag (True: a stored copy, judged by ``seq``). Never raises.
        """
        self.counters.messages += 1
        try:
            return self._handle(topic, payload, live=not retained)
        except BadMessage as e:
            self._report(e, topic)
        except Exception as e:  # a bug of ours or an owner's, not the sender's fault: never kill the caller
            with self.lock:
                self.bad.report("internal_error", "failed on a message on %s: %r", topic, e, exc_info=e)
        return None

    def _handle(self, topic: str, payload: bytes, *, live: bool) -> str | None:
        try:
            parsed = self.topics.parse(topic)
        except TopicError as e:
            raise BadMessage("unexpected_topic", str(e)) from e
        if self.fixed and parsed.node not in self._nodes:
            raise BadMessage("unexpected_topic", f"node {parsed.node!r} is not shown here")
        with self.lock:
            taken, resync = self._dispatch(parsed.node, parsed.kind, payload, live=live)
            self._on_taken(taken)
            return parsed.node if resync else None

    def _dispatch(self, node: str, kind: NodeTopic, payload: bytes, *, live: bool) -> tuple[Taken, bool]:
        if kind is NodeTopic.PODS:
            return self._take_event(node, decode_event(payload))
        if kind is NodeTopic.STATE and not payload:
            return self._clear(node), False
        if kind is NodeTopic.STATE:
            return self._take_snapshot(node, decode_snapshot(payload), live=live), False
        return self._take_status(node, payload), False

    def _take_event(self, node: str, event: PodEvent) -> tuple[Taken, bool]:
        if event.node is not None and event.node != node:
            raise BadMessage("wrong_node", f"event for node {event.node!r} on the topic of {node!r}")
        state = self._node(node)
        outcome = state.items.apply_event(event)
        if outcome.verdict is Verdict.JUMP:
            self.bad.report("seq_jump", "dropped an event of %s: seq %d is too far ahead of %s; resyncing",
                            node, event.seq, state.items.last)
        elif not outcome.applied:
            self.counters.events_ignored += 1
        else:
            self.counters.events_applied += 1
            state.taken_at = self._clock()
        return Taken(node, state, outcome), outcome.resync and self._resync_due(state)

    def _take_snapshot(self, node: str, snapshot: NodeSnapshot, *, live: bool) -> Taken:
        if snapshot.node != node:
            raise BadMessage("wrong_node", f"snapshot of node {snapshot.node!r} on the topic of {node!r}")
        state = self._node(node)
        state.resync_at = None  # whatever its age, the resync we asked for has arrived
        outcome = state.items.apply_snapshot(snapshot, live=live)
        if outcome.applied:
            self.counters.snapshots_applied += 1
            state.taken_at = self._clock()
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
        """The node's state; a new one for an open feed, within ``max_nodes``."""
        state = self._nodes.get(node)
        if state is not None:
            return state  # a fixed feed holds all of its nodes already
        if len(self._nodes) >= self.max_nodes:
            raise BadMessage("too_many_nodes", f"already {len(self._nodes)} nodes, the most this feed holds")
        state = self._nodes[node] = self._new_node()
        return state

    def _new_node(self) -> FeedNode:
        return FeedNode(NodeList(max_pods=self.max_pods))

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
