"""The list-then-watch loop for one scope, correct the way client-go's reflector is.

1. List with ``resourceVersion=0`` (served from the API server's watch cache) and hand
   the whole list to the sink, which diffs it against its store.
2. Watch from the list's resourceVersion, with bookmarks and a jittered server-side
   ``timeoutSeconds``; every event and bookmark advances our resourceVersion.
3. When the stream ends (timeout, dropped connection), watch again from where we were.
4. ``410 Gone`` (on the watch or as an ERROR event): relist, this time a consistent
   read (``resourceVersion=""``) so the list is not older than what we already saw,
   and let the sink diff (tombstones for what we missed). At once — unless no watch
   has delivered anything since the last list: then a server that expires every
   version it hands out is backed off like any other failure, not relisted in a loop.
5. Errors back off exponentially with jitter; 429 waits what Retry-After says; a watch
   that ends at once without delivering anything backs off too, so a misbehaving
   server cannot make us spin.
6. Anything else that goes wrong — a bug, a sink that raises — is logged with its
   traceback, counted (``internal``), backed off, and followed by a consistent relist:
   no exception ends the loop, only ``stop`` does. Bugs back off on their own
   schedule (up to ``BUG_BACKOFF_CAP``, reset after ``BUG_BACKOFF_CAP`` without one), so
   a bug that strikes on every event cannot turn into a list per second.

Healthy: a stream that delivered an event or bookmark, or stayed open
``SETTLED_SECONDS``, has proven the server works. That resets the backoff (so a drop
after hours of watching is retried within a second, whatever happened before; a list
alone does not, or list-then-fail would never back off) and ends the scope's unhealthy
spell (:class:`ScopeHealth`, which the service turns into
the node's ``degraded`` status, its probes and metrics).

Stalls: a half-open connection delivers nothing, not even bookmarks. The server sends
a bookmark every interval (about a minute for kube-apiserver, ``bookmark_interval`` for
the simulated one); :class:`StallPolicy` learns that interval from the bookmarks it sees
and calls a stream stalled after ``intervals`` of them (default 2) of silence — on the
open stream too, as soon as it knows. Until then, the ceiling (``--watch-read-timeout``).

Time is injected: ``clock`` (monotonic seconds) and ``pause`` (wait that long, or less
if stopped), so every rule above is a fast table test over a scripted source
(``tests/watcher/test_watching.py``). Pure: no I/O here; the source does it.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from watcher.backoff import Backoff, jittered_watch_timeout
from watcher.errors import EndedAtOnce, Expired, KubeError, TooManyRequests, kind_of
from watcher.podviews import resource_version
from watcher.sources import PodQuery, PodSource, WatchStream

log = logging.getLogger(__name__)

SETTLED_SECONDS = 1.0
BUG_BACKOFF_CAP = 300.0


class Sink(Protocol):
    def replaced(self, namespace: str | None, pods: list[dict[str, Any]]) -> None: ...

    def event(self, event_type: str, pod: dict[str, Any]) -> None: ...


@dataclass
class WatchStats:
    """What one scope's loop counted; the service's metrics read these."""

    lists: int = 0
    watches: int = 0
    events: int = 0
    bookmarks: int = 0
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def relists(self) -> int:
        return max(0, self.lists - 1)

    @property
    def watch_restarts(self) -> int:
        return max(0, self.watches - 1)


@dataclass
class StallPolicy:
    """How long a watch may be silent: ``intervals`` times the server's bookmark interval, bounded."""

    ceiling: float = 120.0
    intervals: float = 2.0
    floor: float = 2.0
    _gaps: deque[float] = field(default_factory=lambda: deque(maxlen=5))
    _last: float | None = None

    def stream_started(self) -> None:
        self._last = None

    def bookmark(self, now: float) -> bool:
        """Note a bookmark; True if the stall timeout changed."""
        before = self.timeout()
        if self._last is not None:
            self._gaps.append(now - self._last)
        self._last = now
        return self.timeout() != before

    def timeout(self) -> float:
        if not self._gaps:
            return self.ceiling
        return min(self.ceiling, max(self.floor, self.intervals * max(self._gaps)))


@dataclass
class ScopeHealth:
    """Is this scope listing and watching? Unhealthy from start until listed, and after errors."""

    since: float
    healthy: bool = False
    reason: str = "not listed yet"
    last_heard: float | None = None
    open_since: float | None = None

    def unhealthy_for(self, now: float) -> float:
        """Seconds of the current unhealthy spell (0 when healthy, or once an open stream settled)."""
        if self.healthy or (self.open_since is not None and now - self.open_since >= SETTLED_SECONDS):
            return 0.0
        return now - self.since

    def heard(self, now: float) -> None:
        self.last_heard = now
        self.healthy = True

    def failed(self, now: float, reason: str) -> None:
        if self.healthy:
            self.since = now
        self.healthy, self.reason = False, reason


@dataclass
class ListWatcher:
    source: PodSource
    query: PodQuery
    sink: Sink
    stop: threading.Event
    min_watch_timeout: float = 300.0
    stall: StallPolicy = field(default_factory=StallPolicy)
    backoff: Backoff = field(default_factory=Backoff)
    rng: random.Random = field(default_factory=random.Random)
    clock: Callable[[], float] = time.monotonic
    pause: Callable[[float], object] | None = None
    stats: WatchStats = field(default_factory=WatchStats)
    synced: threading.Event = field(default_factory=threading.Event)
    resource_version: str = ""
    health: ScopeHealth = field(init=False)
    _wait: Callable[[float], object] = field(init=False, repr=False)
    _bugs: Backoff = field(init=False, repr=False)
    _last_bug: float = field(init=False, repr=False, default=float("-inf"))
    _delivered_since_list: bool = field(init=False, repr=False, default=False)

    def __post_init__(self) -> None:
        self.health = ScopeHealth(since=self.clock())
        self._wait = self.pause or self.stop.wait
        self._bugs = Backoff(initial=1.0, cap=BUG_BACKOFF_CAP, factor=2.0, rng=self.rng)

    def run(self) -> None:
        """Loop until ``stop`` is set; never raises."""
        self.health.since = self.clock()  # not listed yet counts from now, not from construction
        list_rv: str | None = "0"
        while not self.stop.is_set():
            try:
                if list_rv is not None:
                    self._relist(list_rv)
                    list_rv = None
                self._watch()
            except Expired as e:
                self._failed(e)
                list_rv = ""
            except KubeError as e:
                if self.stop.is_set():  # our own shutdown closed the stream
                    break
                self._failed(e)
            except Exception as e:  # a bug must not end the loop: say so loudly, start over from a list
                log.exception("%s: unexpected error; relisting", self.scope)
                self._failed(e)
                list_rv = ""

    @property
    def scope(self) -> str:
        return f"pods in {self.query.namespace or 'all namespaces'}"

    def _relist(self, resource_version: str) -> None:
        pods, self.resource_version = self.source.list(self.query, resource_version=resource_version)
        self.stats.lists += 1
        log.info("%s: listed %d (resourceVersion %s)", self.scope, len(pods), self.resource_version)
        self._delivered_since_list = False
        self.sink.replaced(self.query.namespace, pods)
        self.health.heard(self.clock())
        self.synced.set()

    def _watch(self) -> None:
        timeout = jittered_watch_timeout(self.min_watch_timeout, self.rng)
        self.stats.watches += 1
        self.stall.stream_started()
        with self.source.watch(self.query, resource_version=self.resource_version, timeout_seconds=timeout,
                               stall_after=self.stall.timeout()) as stream:
            opened = self.health.open_since = self.clock()
            try:
                delivered = self._follow(stream)
            finally:
                self._closed(opened)
        if not delivered and not self.stop.is_set() and self.clock() - opened < SETTLED_SECONDS:
            raise EndedAtOnce("watch ended at once without events")

    def _follow(self, stream: WatchStream) -> int:
        delivered = 0
        for event_type, obj in stream:
            if not delivered:
                self.backoff.reset()
                self._delivered_since_list = True
            delivered += 1
            now = self.clock()
            self.health.heard(now)
            self.resource_version = resource_version(obj) or self.resource_version
            if event_type == "BOOKMARK":
                self.stats.bookmarks += 1
                if self.stall.bookmark(now):
                    stream.stall_after(self.stall.timeout())
                continue
            self.stats.events += 1
            self.sink.event(event_type, obj)
            if self.stop.is_set():
                break
        return delivered

    def _closed(self, opened: float) -> None:
        """The stream ended or broke; one that had settled counts as healthy."""
        if self.clock() - opened >= SETTLED_SECONDS:
            self.backoff.reset()
            self.health.healthy = True
        self.health.open_since = None

    def _failed(self, error: Exception) -> None:
        now = self.clock()
        self.stats.errors[kind_of(error)] += 1
        self.health.failed(now, f"{kind_of(error)}: {_describe(error)}")
        if isinstance(error, Expired) and self._delivered_since_list:
            log.info("%s: %s; relisting", self.scope, error)
            return
        delay = self._delay(error, now)
        log.warning("%s: %s; retrying in %.1f s", self.scope, _describe(error), delay)
        self._wait(delay)

    def _delay(self, error: Exception, now: float) -> float:
        if isinstance(error, TooManyRequests):
            return self.backoff.after_hint(error.retry_after)
        if isinstance(error, KubeError):
            return self.backoff.next_delay()
        if now - self._last_bug > BUG_BACKOFF_CAP:
            self._bugs.reset()
        self._last_bug = now
        return max(self.backoff.next_delay(), self._bugs.next_delay())


def _describe(error: Exception) -> str:
    return str(error) or type(error).__name__
