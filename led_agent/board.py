"""What the agent shows: per node the ordered list and its scene, fed by raw payloads.

The board is the meeting point of two threads and does no I/O itself:

- paho's network thread calls :meth:`Board.handle` with each raw message. The intake
  shared with the console (:class:`bus.intake.NodeFeed`: decoding, validation,
  the subscriber algorithm of ``ordering``, resync pacing, counting) and the scene update
  (``rendering.Scene``, in the feed's ``on_taken`` callback) take microseconds under the
  feed's one lock; nothing here waits for a device or a frame. The return value tells the
  caller whether to resync a node.
- the render loop calls :meth:`Board.frames` at most once per frame period; it holds the
  lock only to compute the frames (a few tuples), never while writing to a device.

The board shows a fixed set of nodes. Bad input — not UTF-8, not JSON, nested too deep,
numbers out of range, wrong types, unknown action or version, oversized, garbage
snapshot, a message for a node we do not show, an event or snapshot naming another node
than its topic, an event jumping too far ahead — is counted per ``BadMessage.kind``,
logged at most once per kind per interval (:class:`bus.ratelimit.RateLimitedLog`), and
dropped before it can touch the list: what is shown never changes because of it.

Each node holds at most ``max_pods`` pods (``bus.ordering``); the ones beyond are
counted as hidden and make the last LED signal overflow, as any pods beyond the strip do.
A frame reads only the first ``leds`` pods of a node.

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
from dataclasses import dataclass, field

from bus.intake import RESYNC_RETRY_SECONDS, FeedCounters, FeedNode, NodeFeed, Taken
from bus.messages import PodEntry
from bus.ordering import DEFAULT_MAX_PODS
from bus.ratelimit import RateLimitedLog
from bus.topics import Topics
from led_agent.rendering import Frame, Scene, animated, render

__all__ = ["DEFAULT_MAX_PODS", "RESYNC_RETRY_SECONDS", "Board", "Counters", "NodeStats"]

log = logging.getLogger(__name__)


@dataclass
class Counters(FeedCounters):
    """Everything the agent counts: its metrics (``led_agent.agent``), tests and benchmarks.

    The intake's counts (messages, events and snapshots applied or ignored, resyncs) come
    from :class:`bus.intake.FeedCounters`; ``snapshots_cleared`` counts empty retained
    snapshots (what is shown stays), ``renders`` frame computations (one per render-loop
    turn), ``device_writes`` the frames actually written (only changed ones),
    ``device_errors`` the writes that failed, ``bad`` dropped input per kind.
    """

    snapshots_cleared: int = 0
    renders: int = 0
    device_writes: int = 0
    device_errors: int = 0
    bad: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class NodeStats:
    """One node as its metrics show it: pods stored and hidden, when a message was last taken."""

    tracked: int
    hidden: int
    taken_at: float | None


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
        max_pods: int = DEFAULT_MAX_PODS,
    ) -> None:
        self.leds = leds
        self.topics = topics or Topics()
        self._clock = clock
        self._scenes = {node: Scene() for node in nodes}
        bad = bad_log or RateLimitedLog(log, clock=clock)
        self.counters = Counters(bad=bad.counts)  # one set of books
        self._feed = NodeFeed(self.topics, nodes=nodes, counters=self.counters, bad_log=bad,
                              clock=clock, on_taken=self._took, max_pods=max_pods)
        self._lock = self._feed.lock
        self._changed = threading.Event()

    # -- input (network thread) ------------------------------------------------------

    def handle(self, topic: str, payload: bytes, *, retained: bool = True) -> str | None:
        """Take one raw message; return the node to resync from its snapshot, if any.

        ``retained``: MQTT's retain flag; a live snapshot always wins (``bus.ordering``).
        """
        return self._feed.handle(topic, payload, retained=retained)

    def _took(self, taken: Taken) -> None:
        """The board's part of a message, under the feed's lock: the scene and the logs."""
        state = taken.state
        assert state is not None, "a fixed feed holds every node it takes"
        if taken.cleared:
            self.counters.snapshots_cleared += 1
            log.info("retained snapshot of %s cleared; keeping what is shown", taken.node)
        elif taken.status_changed:
            log.info("watcher of %s is %s", taken.node, state.status or "unknown (status cleared)")
        outcome = taken.outcome
        if outcome is not None and outcome.applied and outcome.changes:
            scene = self._scenes[taken.node]
            scene.apply(outcome.changes, live_count=state.items.count, now=self._clock())
            self._changed.set()

    # -- output (render thread) ------------------------------------------------------

    def frames(self) -> dict[str, Frame]:
        """Every node's frame now (and forget finished animations)."""
        with self._lock:
            self._changed.clear()
            now = self._clock()
            frames = {}
            for name, state in self._feed.nodes.items():
                scene = self._scenes[name]
                scene.prune(now)
                first, more = self._shown(state)
                frames[name] = render(first, scene, leds=self.leds, now=now, more=more)
            return frames

    def animated(self) -> bool:
        """Whether frames change with time alone (animations running)."""
        with self._lock:
            now = self._clock()
            return any(self._animated(name, state, now) for name, state in self._feed.nodes.items())

    def _animated(self, name: str, state: FeedNode, now: float) -> bool:
        first, more = self._shown(state)
        return animated(first, self._scenes[name], leds=self.leds, now=now, more=more)

    def _shown(self, state: FeedNode) -> tuple[tuple[PodEntry, ...], int]:
        """The pods a frame can show (the first ``leds``), and how many more the node has."""
        first = state.items.first(self.leds)
        return first, state.items.count - len(first) + state.items.hidden

    def wait_changed(self, timeout: float) -> bool:
        """Block until a message changed something (or ``timeout``); for an idle render loop."""
        return self._changed.wait(timeout)

    def wake(self) -> None:
        """Release a render loop waiting in :meth:`wait_changed` (on stop)."""
        self._changed.set()

    # -- inspection ------------------------------------------------------------------

    @property
    def nodes(self) -> tuple[str, ...]:
        return tuple(self._scenes)

    def entries(self, node: str) -> tuple[PodEntry, ...]:
        with self._lock:
            return self._feed.nodes[node].items.entries

    def status(self, node: str) -> str | None:
        with self._lock:
            return self._feed.nodes[node].status

    def stats(self) -> dict[str, NodeStats]:
        """Every node's pods stored and hidden, and when it last took an event or snapshot."""
        with self._lock:
            return {name: NodeStats(state.items.count, state.items.hidden, state.taken_at)
                    for name, state in self._feed.nodes.items()}
