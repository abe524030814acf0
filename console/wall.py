"""The wall: every node's ordered pods as the browser shows them, fed by raw bus messages.

Pure-ish: no paho, no HTTP; one lock, because paho's network thread feeds it
(:meth:`Wall.handle`) while the console's broadcaster drains it (:meth:`Wall.flush`).

The subscriber contract is not re-implemented here: the intake is the LED agents' own
:class:`bus.intake.NodeFeed` (an *open* one: any node under the prefix), and each
node's list a :class:`bus.ordering.NodeList`, so decoding, seq, epoch, snapshot,
journal and resync rules are exactly those of the LED agents, and what the wall shows for
a node is what every agent showing that node shows. The wall keeps only its own
bookkeeping (dirty and gone nodes, what was last sent), updated in the feed's
``on_taken`` callback under the feed's lock.

Coalescing: a 100-node rolling update produces hundreds of events per second; the
browser needs a handful of repaints. So :meth:`handle` only marks nodes dirty, and
:meth:`flush` (called every 50-100 ms) returns one update per dirty node: its whole
ordered list plus the pods removed *since the last flush*, each with its slot in the
list the browser was last sent (``bus.ordering.diff`` of the two). The browser
turns those slots into red-flashing ghosts, as ``led_agent.rendering.Scene`` does, and
closes the gap after the flash. Because slots refer to the last *flushed* list, a new
browser must start from that same list: :meth:`view` returns it, and the caller takes
``view()`` and registers for the following flushes under one lock (``console.broadcasting``).

Nodes appear when their first message arrives (usually the retained ``online`` status
or snapshot of their watcher); a node whose watcher says ``offline`` keeps its last list
and is marked offline. An empty retained snapshot clears a node that left the cluster:
the node is removed from the wall.

Bad input (wrong topic, not JSON, wrong types, a snapshot naming another node, a status
the bus does not define) is counted per kind, logged rate-limited, and dropped: it
never changes what is shown. A status is passed on as the bus names it (``online``,
``offline``, ``degraded``); the page shows every one but ``online`` as stale.

Bounded, whatever the bus carries: at most ``max_pods`` pods per node (the rest are
counted, sent as ``hidden`` and shown by the page as "+N more") and ``max_nodes``
nodes (a new node beyond is dropped as ``too_many_nodes``), as ``bus.intake`` documents.

Kill a pod picks its victim here (:func:`choose_victim`): among the pods every browser
shows (:meth:`Wall.pods`, the last flushed lists), never one that is terminating already,
a ready one when there is one — the one whose red flash and return is worth watching.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bus.intake import MAX_NODES, RESYNC_RETRY_SECONDS, FeedCounters, NodeFeed, Taken
from bus.messages import PodEntry, PodState
from bus.ordering import DEFAULT_MAX_PODS, diff
from bus.ratelimit import RateLimitedLog
from bus.topics import Topics
from console.messages import Light, NodeChange, NodeGone, NodeUpdate, NodeView, Removal

__all__ = ["RESYNC_RETRY_SECONDS", "NoVictim", "Wall", "choose_victim", "natural_key"]

log = logging.getLogger(__name__)

_DIGITS = re.compile(r"(\d+)")


@dataclass(frozen=True)
class _Sent:
    """A node as last flushed: browsers know it and slots refer to this list."""

    entries: dict[str, PodEntry]
    status: str | None
    hidden: int = 0


class Wall:
    """All nodes seen on the bus under one prefix; thread-safe."""

    def __init__(
        self,
        topics: Topics | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        bad_log: RateLimitedLog | None = None,
        max_pods: int = DEFAULT_MAX_PODS,
        max_nodes: int = MAX_NODES,
    ) -> None:
        self.topics = topics or Topics()
        self._sent: dict[str, _Sent] = {}  # flushed at least once; always nodes the feed holds
        self._gone: set[str] = set()  # cleared nodes the browser still shows
        self._dirty: set[str] = set()  # nodes that took a message since the last flush
        bad = bad_log or RateLimitedLog(log, clock=clock)
        self.bad = bad.counts
        self.counters = FeedCounters()
        self._feed = NodeFeed(self.topics, counters=self.counters, bad_log=bad, clock=clock, on_taken=self._took,
                              max_pods=max_pods, max_nodes=max_nodes)
        self._lock = self._feed.lock

    # -- input (network thread) ------------------------------------------------------

    def handle(self, topic: str, payload: bytes, *, retained: bool = True) -> str | None:
        """Take one raw message; return a node to resync from its retained snapshot, if any.

        ``retained``: MQTT's retain flag; a live snapshot always wins (``bus.ordering``).
        """
        return self._feed.handle(topic, payload, retained=retained)

    def _took(self, taken: Taken) -> None:
        """The wall's part of a message, under the feed's lock: dirty, gone and sent books."""
        node = taken.node
        if taken.cleared:
            log.info("node %s left the cluster (retained snapshot cleared)", node)
            self._sent.pop(node, None)
            self._gone.add(node)
        elif taken.state is not None:
            self._gone.discard(node)
        self._dirty.add(node)

    # -- output (broadcaster) ------------------------------------------------------------

    def view(self) -> tuple[NodeView, ...]:
        """Every node as last flushed, sorted by name: the starting point of a new browser."""
        with self._lock:
            shown = sorted(self._sent.items(), key=lambda item: natural_key(item[0]))
            return tuple(_node_view(name, sent) for name, sent in shown)

    def pods(self) -> list[tuple[str, PodEntry]]:
        """Every pod as last flushed, with its node: what the browsers show now."""
        with self._lock:
            return [(name, entry) for name, sent in self._sent.items() for entry in sent.entries.values()]

    def flush(self) -> list[NodeUpdate]:
        """One update per node changed since the last flush (with removals and their slots)."""
        with self._lock:
            updates: list[NodeUpdate] = [NodeGone(node=name) for name in sorted(self._gone)]
            nodes = self._feed.nodes
            dirty = sorted((name for name in self._dirty if name in nodes), key=natural_key)
            self._gone.clear()
            self._dirty.clear()
            for name in dirty:
                state = nodes[name]
                current = _Sent({entry.key: entry for entry in state.items.entries}, state.status, state.items.hidden)
                sent = self._sent.get(name)
                if current == sent:
                    continue
                removed = diff(sent.entries if sent is not None else {}, current.entries).removed
                slots = tuple(Removal(slot=slot, key=key) for slot, key in removed)
                updates.append(NodeChange(**dict(_node_view(name, current)), removed=slots))
                self._sent[name] = current
            return updates


def _node_view(name: str, sent: _Sent) -> NodeView:
    return NodeView(node=name, status=sent.status, pods=tuple(map(Light.of, sent.entries.values())),
                    hidden=sent.hidden)


class NoVictim(LookupError):
    """No pod to kill: none shown, or not the one asked for."""


def choose_victim(
    pods: Sequence[tuple[str, PodEntry]], rng: random.Random, *, pod: str | None = None,
    namespace: str | None = None,
) -> tuple[str, PodEntry]:
    """A pod to kill, with its node: ``pod`` (and ``namespace``) if given, else a random ready one."""
    if pod is not None:
        named = [(n, e) for n, e in pods if e.pod == pod and (namespace is None or e.namespace == namespace)]
        if not named:
            raise NoVictim(f"pod {pod} is not on the wall (as a pod of the demo app)")
        if named[0][1].state is PodState.TERMINATING:
            raise NoVictim(f"pod {pod} is terminating already")
        return named[0]
    alive = [(n, e) for n, e in pods if e.state is not PodState.TERMINATING]
    ready = [(n, e) for n, e in alive if e.state in (None, PodState.READY)]
    if not alive:
        raise NoVictim("no pod to kill: the wall shows none of the demo app's that is not terminating already")
    return rng.choice(ready or alive)


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """``node-2`` before ``node-10``: digit runs compare as numbers."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in _DIGITS.split(name) if part)
