"""Fan-out of console messages to every open browser (Server-Sent Events).

Messages come from three threads — the wall flusher (every :data:`FLUSH_SECONDS`), the
plan runner's event callback, the traffic ticker (about once per second) — and go to
each subscriber's bounded ``asyncio.Queue`` on the server's event loop, handed over with
``call_soon_threadsafe``. A browser that cannot keep up (its queue is full) is cut off
and counted: its ``EventSource`` reconnects on its own and starts again from the full
state, which is cheaper and more honest than queueing without bound.

Consistency of the wall: removal slots in a node update refer to the list last flushed
(see ``console.wall``). So a new subscriber gets the wall's last flushed view and is
registered *under the same lock* as the flusher uses: it sees exactly the updates that
follow the state it started from.

The step log and the latest run and traffic messages are kept, so a browser that opens
the page mid-rollout gets the whole story in its first message; so is the timeline
(``console.timeline``), whose samples are taken and sent under the same lock, so a new
browser gets each sample exactly once: in its first message or after it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from console.messages import (
    ControlsState,
    Message,
    NodesMessage,
    RunMessage,
    StateMessage,
    TimelineMessage,
    TimelineSample,
    TrafficMessage,
)
from console.wall import Wall

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.075
QUEUE_LIMIT = 2000
LOG_LIMIT = 500


class Closing:
    """The sentinel that ends a stream (server shutdown, or a browser cut off)."""


CLOSE: Final = Closing()
Queued = Message | Closing


@dataclass(eq=False)  # identity: each browser is itself
class Subscriber:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[Queued] = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT + 1))
    cut: bool = False

    def offer(self, message: Queued) -> None:
        """Runs on the subscriber's loop: enqueue, or cut off a browser that lags too far."""
        if self.cut:
            return
        if self.queue.qsize() >= QUEUE_LIMIT:
            self.cut = True
            message = CLOSE
        self.queue.put_nowait(message)


class Hub:
    """The subscribers, the step log, and the last run/traffic message; thread-safe."""

    def __init__(
        self,
        wall: Wall,
        *,
        controls: Callable[[], ControlsState] | None = None,
        timeline: Callable[[], tuple[TimelineSample, ...]] | None = None,
    ) -> None:
        self.wall = wall
        self._controls = controls
        self._timeline = timeline
        self._subscribers: set[Subscriber] = set()
        self._log: deque[RunMessage] = deque(maxlen=LOG_LIMIT)
        self._run: RunMessage | None = None
        self._traffic: TrafficMessage | None = None
        self._lock = threading.Lock()
        self.cut_off = 0

    def subscribe(self, loop: asyncio.AbstractEventLoop) -> Subscriber:
        """A new browser: its first message is the full state, then every later message."""
        subscriber = Subscriber(loop)
        with self._lock:
            subscriber.queue.put_nowait(self._state())  # we are on the subscriber's loop: no handover needed
            self._subscribers.add(subscriber)
        return subscriber

    def state(self) -> StateMessage:
        """The message a new browser starts from (the wall as last flushed, the log, the latest)."""
        with self._lock:
            return self._state()

    def _state(self) -> StateMessage:
        controls = self._controls() if self._controls is not None else None
        timeline = self._timeline() if self._timeline is not None else ()
        return StateMessage(nodes=self.wall.view(), log=tuple(self._log), controls=controls, run=self._run,
                            traffic=self._traffic, timeline=timeline)  # fmt: skip

    def unsubscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            self._subscribers.discard(subscriber)
            if subscriber.cut:
                self.cut_off += 1
                log.warning("a browser fell %d messages behind and was cut off; it will reconnect", QUEUE_LIMIT)

    def flush_wall(self) -> int:
        """Send the wall's coalesced node updates; returns how many nodes changed."""
        with self._lock:
            updates = self.wall.flush()
            if updates:
                self._send(NodesMessage(nodes=tuple(updates)))
            return len(updates)

    def publish_run(self, message: RunMessage) -> None:
        """Send a run message; keep it in the step log and as the latest run for new browsers."""
        with self._lock:
            self._log.append(message)
            self._run = message
            self._send(message)

    def publish_traffic(self, message: TrafficMessage) -> None:
        """Send a traffic message; keep it as the latest for new browsers."""
        with self._lock:
            self._traffic = message
            self._send(message)

    def publish_timeline(self, take: Callable[[], TimelineSample]) -> TimelineSample:
        """Take a timeline sample and send it, under the lock new browsers subscribe under."""
        with self._lock:
            sample = take()
            self._send(TimelineMessage(sample=sample))
            return sample

    def close_all(self) -> None:
        """End every open stream (server shutdown)."""
        with self._lock:
            self._send(CLOSE)

    @property
    def count(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def _send(self, message: Queued) -> None:
        for subscriber in list(self._subscribers):
            try:
                subscriber.loop.call_soon_threadsafe(subscriber.offer, message)
            except RuntimeError:  # its loop is closed: the server is gone
                self._subscribers.discard(subscriber)


class Ticker:
    """Calls ``action`` every ``interval`` seconds on a daemon thread; errors are logged and counted."""

    def __init__(self, action: Callable[[], object], *, interval: float, name: str) -> None:
        self._action = action
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.errors = 0

    def start(self) -> Ticker:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._action()
            except Exception:  # one bad tick must not stop the wall or the traffic display
                self.errors += 1
                log.exception("%s failed (%d so far)", self._thread.name, self.errors)
