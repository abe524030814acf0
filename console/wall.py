"""The wall: every node's ordered pods as the browser shows them, fed by raw bus messages.

Pure-ish: no paho, no HTTP; one lock, because paho's network thread feeds it
(:meth:`Wall.handle`) while the console's broadcaster drains it (:meth:`Wall.flush`).

The subscriber contract is not re-implemented here: each node's list is a
:class:`led_agent.ordering.NodeList`, so seq, epoch, snapshot and journal rules are
exactly those of the LED agents, and what the wall shows for a node is what every agent
showing that node shows.

Coalescing: a 100-node rolling update produces hundreds of events per second; the
browser needs a handful of repaints. So :meth:`handle` only marks nodes dirty, and
:meth:`flush` (called every 50-100 ms) returns one update per dirty node: its whole
ordered list plus the pods removed *since the last flush*, each with its slot in the
list the browser was last sent (``led_agent.ordering.diff`` of the two). The browser
turns those slots into red-flashing ghosts, as ``led_agent.rendering.Scene`` does, and
closes the gap after the flash. Because slots refer to the last *flushed* list, a new
browser must start from that same list: :meth:`view` returns it, and the caller takes
``view()`` and registers for the following flushes under one lock (``console.broadcasting``).

Nodes appear when their first message arrives (usually the retained ``online`` status
or snapshot of their watcher); a node whose watcher says ``offline`` keeps its last list
and is marked offline. An empty retained snapshot clears a node that left the cluster:
the node is removed from the wall.

Bad input (wrong topic, not JSON, wrong types, a snapshot naming another node, a status
other than online/offline) is counted per kind, logged rate-limited, and dropped: it
never changes what is shown.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bus.messages import OFFLINE, ONLINE, BadMessage, NodeSnapshot, PodEntry, PodEvent, decode_event, decode_snapshot
from bus.ratelimit import RateLimitedLog
from bus.topics import NodeTopic, TopicError, Topics
from led_agent.ordering import NodeList, Outcome, diff

log = logging.getLogger(__name__)

RESYNC_RETRY_SECONDS = 2.0
_DIGITS = re.compile(r"(\d+)")
DETAIL_CHARS = 200

JsonDict = dict[str, Any]


def light(entry: PodEntry) -> JsonDict:
    """One pod as the browser needs it; a missing state counts as ready (the rendering rule)."""
    state = entry.state.value if entry.state is not None else "ready"
    return {"key": entry.key, "pod": entry.pod, "color": entry.shown_color, "state": state}


@dataclass
class _Node:
    items: NodeList = field(default_factory=NodeList)
    status: str | None = None
    sent: dict[str, PodEntry] = field(default_factory=dict)  # the list as last flushed
    sent_status: str | None = None
    shown: bool = False  # flushed at least once: browsers know the node
    resync_at: float | None = None


@dataclass
class WallCounters:
    events_applied: int = 0
    events_ignored: int = 0
    snapshots_applied: int = 0
    snapshots_ignored: int = 0
    resyncs: int = 0
    flushes: int = 0


class Wall:
    """All nodes seen on the bus under one prefix; thread-safe."""

    def __init__(
        self,
        topics: Topics | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        bad_log: RateLimitedLog | None = None,
    ) -> None:
        self.topics = topics or Topics()
        self._clock = clock
        self._nodes: dict[str, _Node] = {}
        self._gone: set[str] = set()  # cleared nodes the browser still shows
        self._dirty: set[str] = set()  # nodes that took a message since the last flush
        self._bad = bad_log or RateLimitedLog(log, clock=clock)
        self.bad = self._bad.counts
        self.counters = WallCounters()
        self._lock = threading.Lock()

    # -- input (network thread) ------------------------------------------------------

    def handle(self, topic: str, payload: bytes) -> str | None:
        """Take one raw message; return a node to resync from its retained snapshot, if any."""
        try:
            parsed = self.topics.parse(topic)
        except TopicError as e:
            self._report(BadMessage("unexpected_topic", str(e)), topic)
            return None
        try:
            with self._lock:
                resync = self._dispatch(parsed.node, parsed.kind, payload)
                self._dirty.add(parsed.node)
                return resync
        except BadMessage as e:
            self._report(e, topic)
            return None

    def _dispatch(self, node: str, kind: NodeTopic, payload: bytes) -> str | None:
        if kind is NodeTopic.PODS:
            return self._take_event(node, decode_event(payload))
        if kind is NodeTopic.STATE and not payload:
            self._clear(node)
        elif kind is NodeTopic.STATE:
            self._take_snapshot(node, decode_snapshot(payload))
        else:
            self._take_status(node, payload)
        return None

    def _take_event(self, node: str, event: PodEvent) -> str | None:
        if event.node is not None and event.node != node:
            raise BadMessage("wrong_node", f"event for node {event.node!r} on the topic of {node!r}")
        state = self._node(node)
        outcome = state.items.apply_event(event)
        if not outcome.applied:
            self.counters.events_ignored += 1
            return None
        self.counters.events_applied += 1
        return node if outcome.resync and self._resync_due(state) else None

    def _take_snapshot(self, node: str, snapshot: NodeSnapshot) -> None:
        if snapshot.node != node:
            raise BadMessage("wrong_node", f"snapshot of node {snapshot.node!r} on the topic of {node!r}")
        state = self._node(node)
        state.resync_at = None
        outcome: Outcome = state.items.apply_snapshot(snapshot)
        if outcome.applied:
            self.counters.snapshots_applied += 1
        else:
            self.counters.snapshots_ignored += 1

    def _take_status(self, node: str, payload: bytes) -> None:
        if payload not in (ONLINE, OFFLINE, b""):
            raise BadMessage("bad_status", f"status must be online or offline, got {payload[:40]!r}")
        status = payload.decode() or None
        if status is None and node not in self._nodes:
            return  # clearing the status of a node we never saw: nothing to show
        self._node(node).status = status

    def _clear(self, node: str) -> None:
        """An empty retained snapshot: the node left the cluster."""
        if self._nodes.pop(node, None) is not None:
            log.info("node %s left the cluster (retained snapshot cleared)", node)
            self._gone.add(node)

    def _node(self, node: str) -> _Node:
        self._gone.discard(node)
        return self._nodes.setdefault(node, _Node())

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

    # -- output (broadcaster) ------------------------------------------------------------

    def view(self) -> list[JsonDict]:
        """Every node as last flushed, sorted by name: the starting point of a new browser."""
        with self._lock:
            shown = [(name, state) for name, state in self._sorted() if state.shown]
            return [_node_view(name, state.sent_status, state.sent) for name, state in shown]

    def flush(self) -> list[JsonDict]:
        """One update per node changed since the last flush (with removals and their slots)."""
        with self._lock:
            updates = [{"node": name, "gone": True} for name in sorted(self._gone)]
            dirty = sorted((name for name in self._dirty if name in self._nodes), key=natural_key)
            self._gone.clear()
            self._dirty.clear()
            for name in dirty:
                state = self._nodes[name]
                current = {entry.key: entry for entry in state.items.entries}
                if state.shown and current == state.sent and state.status == state.sent_status:
                    continue
                removed = diff(state.sent, current).removed
                view = _node_view(name, state.status, current)
                view["removed"] = [{"slot": slot, "key": key} for slot, key in removed]
                updates.append(view)
                state.sent, state.sent_status, state.shown = current, state.status, True
            if updates:
                self.counters.flushes += 1
            return updates

    def _sorted(self) -> list[tuple[str, _Node]]:
        return sorted(self._nodes.items(), key=lambda item: natural_key(item[0]))


def _node_view(name: str, status: str | None, entries: dict[str, PodEntry]) -> JsonDict:
    return {"node": name, "status": status, "pods": [light(e) for e in entries.values()]}


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """``node-2`` before ``node-10``: digit runs compare as numbers."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in _DIGITS.split(name) if part)
