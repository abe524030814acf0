"""What the agent shows: per node the ordered list and its scene, fed by raw payloads.

The board is the meeting point of two threads and does no I/O itself:

- paho's network thread calls :meth:`Board.handle` with each raw message. Decoding,
  validation (``bus.messages``), the subscriber algorithm (``ordering``) and the scene
  update (``rendering.Scene``) take microseconds under one lock; nothing here waits for
  a device or a frame. The return value tells the caller whether to resync a node.
- the render loop calls :meth:`Board.frames` at most once per frame period; it holds the
  lock only to compute the frames (a few tuples), never while writing to a device.

Bad input — not UTF-8, not JSON, wrong types, unknown action or version, oversized,
garbage snapshot, a message for a node we do not show, an event or snapshot naming
another node than its topic — is counted per ``BadMessage.kind``, logged at most once per
kind per interval (:class:`bus.ratelimit.RateLimitedLog`), and dropped before it can
touch the list: what is shown never changes because of it.

An empty payload on ``nodes/<node>/state`` clears a retained topic (a node that left the
cluster). It is not bad input, but it does not say which pods are gone either, so the
board keeps showing the last list (counted as ``snapshots_cleared``). A node whose
watcher is ``offline`` also keeps showing its last list: the pods most likely still run,
and the watcher's successor reconciles on start. The status is kept for the curious.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

from bus.messages import OFFLINE, ONLINE, BadMessage, NodeSnapshot, PodEntry, PodEvent, decode_event, decode_snapshot
from bus.ratelimit import RateLimitedLog
from bus.topics import NodeTopic, TopicError, Topics
from led_agent.ordering import NodeList, Outcome
from led_agent.rendering import Frame, Scene, animated, render

log = logging.getLogger(__name__)

RESYNC_RETRY_SECONDS = 2.0
DETAIL_CHARS = 200


@dataclass
class Counters:
    """Everything the agent counts, for tests, benchmarks and curious operators.

    ``renders`` counts frame computations (one per render-loop turn), ``device_writes``
    the frames actually written (only changed ones), ``bad`` dropped input per kind.
    """

    events_applied: int = 0
    events_ignored: int = 0
    snapshots_applied: int = 0
    snapshots_ignored: int = 0
    snapshots_cleared: int = 0
    resyncs: int = 0
    renders: int = 0
    device_writes: int = 0
    device_errors: int = 0
    bad: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["bad"] = dict(self.bad)
        return data


@dataclass
class _Node:
    items: NodeList = field(default_factory=NodeList)
    scene: Scene = field(default_factory=Scene)
    status: str | None = None
    resync_at: float | None = None


class Board:
    """The lists and scenes of the shown nodes, safe to feed and read from two threads."""

    def __init__(
        self,
        nodes: Sequence[str],
        *,
        leds: int,
        topics: Topics | None = None,
        clock: Callable[[], float] = time.monotonic,
        bad_log: RateLimitedLog | None = None,
    ) -> None:
        self.leds = leds
        self.topics = topics or Topics()
        self._clock = clock
        self._nodes = {node: _Node() for node in nodes}
        self._bad = bad_log or RateLimitedLog(log, clock=clock)
        self.counters = Counters(bad=self._bad.counts)  # one set of books
        self._lock = threading.Lock()
        self._changed = threading.Event()

    # -- input (network thread) ------------------------------------------------------

    def handle(self, topic: str, payload: bytes) -> str | None:
        """Take one raw message; return the node to resync from its snapshot, if any."""
        try:
            parsed = self.topics.parse(topic)
        except TopicError as e:
            self._report(BadMessage("unexpected_topic", str(e)), topic)
            return None
        if parsed.node not in self._nodes:
            self._report(BadMessage("unexpected_topic", f"node {parsed.node!r} is not shown here"), topic)
            return None
        try:
            with self._lock:
                return self._dispatch(parsed.node, parsed.kind, payload)
        except BadMessage as e:
            self._report(e, topic)
            return None

    def _dispatch(self, node: str, kind: NodeTopic, payload: bytes) -> str | None:
        if kind is NodeTopic.PODS:
            return self._take_event(node, decode_event(payload))
        if kind is NodeTopic.STATE:
            if not payload:
                self.counters.snapshots_cleared += 1
                log.info("retained snapshot of %s cleared; keeping what is shown", node)
                return None
            self._take_snapshot(node, decode_snapshot(payload))
        else:
            self._take_status(node, payload)
        return None

    def _take_event(self, node: str, event: PodEvent) -> str | None:
        if event.node is not None and event.node != node:
            raise BadMessage("wrong_node", f"event for node {event.node!r} on the topic of {node!r}")
        state = self._nodes[node]
        outcome = state.items.apply_event(event)
        if not outcome.applied:
            self.counters.events_ignored += 1
            return None
        self.counters.events_applied += 1
        self._show(state, outcome)
        return node if outcome.resync and self._resync_due(state) else None

    def _take_snapshot(self, node: str, snapshot: NodeSnapshot) -> None:
        if snapshot.node != node:
            raise BadMessage("wrong_node", f"snapshot of node {snapshot.node!r} on the topic of {node!r}")
        state = self._nodes[node]
        state.resync_at = None  # whatever its age, the resync we asked for has arrived
        outcome = state.items.apply_snapshot(snapshot)
        if not outcome.applied:
            self.counters.snapshots_ignored += 1
            return
        self.counters.snapshots_applied += 1
        self._show(state, outcome)

    def _take_status(self, node: str, payload: bytes) -> None:
        if payload not in (ONLINE, OFFLINE, b""):
            raise BadMessage("bad_status", f"status must be online or offline, got {payload[:40]!r}")
        status = payload.decode() or None
        state = self._nodes[node]
        if status != state.status:
            log.info("watcher of %s is %s", node, status or "unknown (status cleared)")
        state.status = status

    def _show(self, state: _Node, outcome: Outcome) -> None:
        if outcome.changes:
            state.scene.apply(outcome.changes, live_count=len(state.items.entries), now=self._clock())
            self._changed.set()

    def _resync_due(self, state: _Node) -> bool:
        """One resync in flight per node; ask again only if it has not come in time."""
        now = self._clock()
        if state.resync_at is not None and now - state.resync_at < RESYNC_RETRY_SECONDS:
            return False
        state.resync_at = now
        self.counters.resyncs += 1
        return True

    def _report(self, error: BadMessage, topic: str) -> None:
        with self._lock:
            self._bad.report(error.kind, "dropped a message on %s: %s", topic, error.detail[:DETAIL_CHARS])

    # -- output (render thread) ------------------------------------------------------

    def frames(self) -> dict[str, Frame]:
        """Every node's frame now (and forget finished animations)."""
        with self._lock:
            self._changed.clear()
            now = self._clock()
            frames = {}
            for name, state in self._nodes.items():
                state.scene.prune(now)
                frames[name] = render(state.items.entries, state.scene, leds=self.leds, now=now)
            return frames

    def animated(self) -> bool:
        """Whether frames change with time alone (animations running)."""
        with self._lock:
            now = self._clock()
            return any(animated(s.items.entries, s.scene, leds=self.leds, now=now) for s in self._nodes.values())

    def wait_changed(self, timeout: float) -> bool:
        """Block until a message changed something (or ``timeout``); for an idle render loop."""
        return self._changed.wait(timeout)

    def wake(self) -> None:
        """Release a render loop waiting in :meth:`wait_changed` (on stop)."""
        self._changed.set()

    # -- inspection ------------------------------------------------------------------

    @property
    def nodes(self) -> tuple[str, ...]:
        return tuple(self._nodes)

    def entries(self, node: str) -> tuple[PodEntry, ...]:
        with self._lock:
            return self._nodes[node].items.entries

    def status(self, node: str) -> str | None:
        with self._lock:
            return self._nodes[node].status
