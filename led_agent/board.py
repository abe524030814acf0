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

The board shows a fixed set of nodes. Bad input — not UTF-8, not JSON, wrong types,
unknown action or version, oversized, garbage snapshot, a message for a node we do not
show, an event or snapshot naming another node than its topic — is counted per
``BadMessage.kind``, logged at most once per kind per interval
(:class:`bus.ratelimit.RateLimitedLog`), and dropped before it can touch the list: what
is shown never changes because of it.

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

from bus.intake import RESYNC_RETRY_SECONDS, FeedCounters, NodeFeed, Taken
from bus.messages import PodEntry
from bus.ratelimit import RateLimitedLog
from bus.topics import Topics
from led_agent.rendering import Frame, Scene, animated, render

__all__ = ["RESYNC_RETRY_SECONDS", "Board", "Counters"]

log = logging.getLogger(__name__)


@dataclass
class Counters(FeedCounters):
    """Everything the agent counts, for tests, benchmarks and curious operators.

    The intake's counts (events and snapshots applied or ignored, resyncs) come from
    :class:`bus.intake.FeedCounters`; ``snapshots_cleared`` counts empty retained
    snapshots (what is shown stays), ``renders`` frame computations (one per render-loop turn), ``device_writes``
    the frames actually written (only changed ones), ``bad`` dropped input per kind.
    """

    snapshots_cleared: int = 0
    renders: int = 0
    device_writes: int = 0
    device_errors: int = 0
    bad: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["bad"] = dict(self.bad)
        return data


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
        self._scenes = {node: Scene() for node in nodes}
        bad = bad_log or RateLimitedLog(log, clock=clock)
        self.counters = Counters(bad=bad.counts)  # one set of books
        self._feed = NodeFeed(self.topics, nodes=nodes, counters=self.counters, bad_log=bad,
                              clock=clock, on_taken=self._took)
        self._lock = self._feed.lock
        self._changed = threading.Event()

    # -- input (network thread) ------------------------------------------------------

    def handle(self, topic: str, payload: bytes) -> str | None:
        """Take one raw message; return the node to resync from its snapshot, if any."""
        return self._feed.handle(topic, payload)

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
            scene.apply(outcome.changes, live_count=len(state.items.entries), now=self._clock())
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
                frames[name] = render(state.items.entries, scene, leds=self.leds, now=now)
            return frames

    def animated(self) -> bool:
        """Whether frames change with time alone (animations running)."""
        with self._lock:
            now = self._clock()
            return any(animated(s.items.entries, self._scenes[name], leds=self.leds, now=now)
                       for name, s in self._feed.nodes.items())

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
