"""The list-then-watch loop for one scope, correct the way client-go's reflector is.

1. List with ``resourceVersion=0`` (served from the API server's watch cache) and hand
   the whole list to the sink, which diffs it against its store.
2. Watch from the list's resourceVersion, with bookmarks and a jittered server-side
   ``timeoutSeconds``; every event and bookmark advances our resourceVersion.
3. When the stream ends (timeout, dropped connection), watch again from where we were.
4. ``410 Gone`` (on the watch or as an ERROR event): relist, this time a consistent
   read (``resourceVersion=""``) so the list is not older than what we already saw,
   and let the sink diff (tombstones for what we missed).
5. Errors back off exponentially with jitter (429 honours Retry-After); a watch that
   ends at once without delivering anything backs off too, so a misbehaving server
   cannot make us spin.

No polling: between events we block on the stream, bounded by the read timeout and
the inactivity watchdog in ``kube.py``.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from watcher.backoff import Backoff, jittered_watch_timeout
from watcher.kube import Expired, KubeError, PodApi, PodQuery, TooManyRequests
from watcher.podviews import resource_version

log = logging.getLogger(__name__)

QUICK_WATCH_SECONDS = 1.0


class Sink(Protocol):
    def replaced(self, namespace: str | None, pods: list[dict[str, Any]]) -> None: ...

    def event(self, event_type: str, pod: dict[str, Any]) -> None: ...


@dataclass
class WatchStats:
    lists: int = 0
    watches: int = 0
    events: int = 0
    bookmarks: int = 0
    expired: int = 0
    errors: int = 0


@dataclass
class ListWatcher:
    api: PodApi
    query: PodQuery
    sink: Sink
    stop: threading.Event
    min_watch_timeout: float = 300.0
    backoff: Backoff = field(default_factory=Backoff)
    rng: random.Random = field(default_factory=random.Random)
    clock: Callable[[], float] = time.monotonic
    stats: WatchStats = field(default_factory=WatchStats)
    synced: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        """Loop until ``stop`` is set."""
        list_rv: str | None = "0"
        rv = ""
        while not self.stop.is_set():
            try:
                if list_rv is not None:
                    rv = self._relist(list_rv)
                    list_rv = None
                rv = self._watch(rv)
            except Expired as e:
                self.stats.expired += 1
                log.info("%s: %s; relisting", self._scope, e)
                list_rv = ""
            except KubeError as e:
                if self.stop.is_set():  # our own shutdown closed the stream
                    break
                self._wait_after(e)

    @property
    def _scope(self) -> str:
        return f"pods in {self.query.namespace or 'all namespaces'}"

    def _relist(self, resource_version: str) -> str:
        pods, rv = self.api.list(self.query, resource_version=resource_version)
        self.stats.lists += 1
        log.info("%s: listed %d (resourceVersion %s)", self._scope, len(pods), rv)
        self.sink.replaced(self.query.namespace, pods)
        self.synced.set()
        self.backoff.reset()
        return rv

    def _watch(self, rv: str) -> str:
        started, delivered = self.clock(), 0
        timeout = jittered_watch_timeout(self.min_watch_timeout, self.rng)
        self.stats.watches += 1
        with self.api.watch(self.query, resource_version=rv, timeout_seconds=timeout) as events:
            for event_type, obj in events:
                delivered += 1
                rv = resource_version(obj) or rv
                if event_type == "BOOKMARK":
                    self.stats.bookmarks += 1
                    continue
                self.stats.events += 1
                self.sink.event(event_type, obj)
                if self.stop.is_set():
                    break
        if delivered == 0 and self.clock() - started < QUICK_WATCH_SECONDS:
            self._wait_after(KubeError("watch ended at once without events"))
        else:
            self.backoff.reset()
        return rv

    def _wait_after(self, error: KubeError) -> None:
        self.stats.errors += 1
        at_least = error.retry_after if isinstance(error, TooManyRequests) else 0.0
        delay = self.backoff.next_delay(at_least=at_least)
        log.warning("%s: %s; retrying in %.1f s", self._scope, error, delay)
        self.stop.wait(delay)
