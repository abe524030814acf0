"""One watch stream: the sequence of watch events a client receives, as dicts.

No sockets here: ``watch_events`` yields wire-ready dicts and the server writes each as
one JSON line in one HTTP chunk. The stream follows the real API server:

- no resourceVersion (or ``"0"``), or ``sendInitialEvents=true``: synthetic ADDED for
  every matching pod first (with sendInitialEvents and bookmarks allowed, a BOOKMARK
  annotated ``k8s.io/initial-events-end`` marks their end), then changes after the
  version that state was read at;
- otherwise: changes after the given version, or one ERROR event with a 410 Expired
  Status when that version has left the history (also mid-stream, if the history
  overtakes a stalled stream);
- ``allowWatchBookmarks``: a BOOKMARK with the current version every
  ``bookmark_interval`` seconds, so clients can resume without a relist;
- ``timeoutSeconds``: the stream ends after that long, cleanly.

A ``WatchSession`` is the server's handle on one open stream: ``end()`` finishes it
cleanly (server stop), ``drop()`` cuts it without a proper end (a crashed API server or
a broken network), ``stall()`` keeps it open but silent until ``resume()`` (a half-open
connection that only the client's own read timeout can detect).
"""

from __future__ import annotations

import contextlib
import math
import socket
import threading
import time
from collections.abc import Callable, Generator, Iterator
from enum import StrEnum

from sim.pods import JsonDict
from sim.podstore import Expired, PodStore, WatchEvent
from sim.routes import PodQuery, status_body

INITIAL_EVENTS_END = "k8s.io/initial-events-end"


class SessionState(StrEnum):
    OPEN = "open"
    STALLED = "stalled"
    ENDING = "ending"
    DROPPED = "dropped"


class WatchSession:
    """The control handle of one open watch stream; thread-safe."""

    def __init__(self, connection: socket.socket | None = None) -> None:
        self._connection = connection
        self._changed = threading.Condition()
        self._state = SessionState.OPEN

    @property
    def state(self) -> SessionState:
        with self._changed:
            return self._state

    @property
    def active(self) -> bool:
        return self.state in (SessionState.OPEN, SessionState.STALLED)

    def end(self) -> None:
        self._set(SessionState.ENDING, unless=(SessionState.DROPPED,))

    def stall(self) -> None:
        self._set(SessionState.STALLED, unless=(SessionState.ENDING, SessionState.DROPPED))

    def resume(self) -> None:
        self._set(SessionState.OPEN, unless=(SessionState.ENDING, SessionState.DROPPED))

    def drop(self) -> None:
        """Cut the connection under the stream: the client sees it break mid-body."""
        self._set(SessionState.DROPPED, unless=())
        if self._connection is not None:
            with contextlib.suppress(OSError):  # already closed by the client: dropped either way
                self._connection.shutdown(socket.SHUT_RDWR)

    def wait_while_stalled(self) -> None:
        with self._changed:
            self._changed.wait_for(lambda: self._state != SessionState.STALLED)

    def _set(self, state: SessionState, *, unless: tuple[SessionState, ...]) -> None:
        with self._changed:
            if self._state not in unless:
                self._state = state
            self._changed.notify_all()


# Not an event: it tells the writer that nothing more is ready now, so it can send what it
# has in one write instead of one system call per event. Never sent on the wire.
FLUSH: JsonDict = {"type": "_flush"}


def watch_events(
    store: PodStore,
    query: PodQuery,
    session: WatchSession,
    *,
    bookmark_interval: float,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[JsonDict]:
    """The events of one watch, until timeoutSeconds, an Expired version, or the session ends."""
    deadline = math.inf if query.timeout_seconds is None else clock() + query.timeout_seconds
    try:
        cursor = yield from _initial_events(store, query)
        yield from _changes(store, query, session, cursor, deadline=deadline, interval=bookmark_interval, clock=clock)
    except Expired as e:
        yield {"type": "ERROR", "object": status_body(410, "Expired", str(e))}


def _initial_events(store: PodStore, query: PodQuery) -> Generator[JsonDict, None, int]:
    if query.resource_version is not None and not query.send_initial_events:
        store.events_since(query.resource_version)  # raises Expired before anything is sent
        return query.resource_version
    items, version = store.select(query.selector)
    for pod in items:
        yield {"type": "ADDED", "object": wire_pod(pod)}
    if query.send_initial_events and query.allow_bookmarks:
        yield bookmark(version, initial_events_end=True)
    return version


def _changes(
    store: PodStore,
    query: PodQuery,
    session: WatchSession,
    cursor: int,
    *,
    deadline: float,
    interval: float,
    clock: Callable[[], float],
) -> Iterator[JsonDict]:
    next_bookmark = clock() + interval if query.allow_bookmarks else math.inf
    while session.active:
        session.wait_while_stalled()
        if not session.active:
            return
        events, cursor = store.events_since(cursor, query.selector)
        yield from (wire_event(e) for e in events)
        now = clock()
        if now >= next_bookmark:
            yield bookmark(cursor)
            next_bookmark = now + interval
        if now >= deadline:
            return
        wait = min(deadline, next_bookmark) - now
        yield FLUSH
        store.wait_for_change(cursor, None if math.isinf(wait) else wait, interrupted=lambda: not session.active)


def wire_pod(pod: JsonDict) -> JsonDict:
    """A stored pod as a standalone object on the wire: kind and apiVersion first."""
    return {"kind": "Pod", "apiVersion": "v1", **pod}


def wire_event(event: WatchEvent) -> JsonDict:
    return {"type": str(event.type), "object": wire_pod(event.object)}


def bookmark(resource_version: int, *, initial_events_end: bool = False) -> JsonDict:
    metadata: JsonDict = {"resourceVersion": str(resource_version)}
    if initial_events_end:
        metadata["annotations"] = {INITIAL_EVENTS_END: "true"}
    return {"type": "BOOKMARK", "object": {"kind": "Pod", "apiVersion": "v1", "metadata": metadata}}
