"""A watch response body → watch events. Pure: bytes in, ``(type, object)`` out.

The API server frames a watch as one JSON object per line (``{"type": …, "object": …}``),
chunks split anywhere. Lines are reassembled here; an ``ERROR`` event becomes the
matching :mod:`watcher.errors` exception, anything that is not a watch event breaks
the stream (``StreamBroken``).

The watchdog: a socket read timeout catches a silent connection, but not one whose
bytes trickle in without ever completing an event (a broken proxy, a byte of keep-alive
padding). So the stream also gives up (``Stalled``) when no complete line has arrived
for ``stall_after()`` seconds — a function, because the loop tightens it once it has
learned the server's bookmark interval.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator

from watcher.errors import ApiRejected, Expired, Stalled, StreamBroken
from watcher.sources import WatchEvent


def iter_lines(chunks: Iterable[bytes], *, stall_after: Callable[[], float], clock: Callable[[], float]
               ) -> Iterator[bytes]:
    """Split byte chunks into lines; raise Stalled if no complete line for ``stall_after()`` s."""
    pending = b""
    last_line = clock()
    for chunk in chunks:
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if line.strip():
                last_line = clock()
                yield line
        if clock() - last_line > stall_after():
            raise Stalled(f"watch stream stalled: no complete event for {stall_after():g} s")
    if pending.strip():
        yield pending


def parse_event(line: bytes) -> WatchEvent:
    """One watch line → (type, object); an ERROR event becomes the matching KubeError."""
    try:
        event = json.loads(line)
        kind, obj = event["type"], event["object"]
    except (ValueError, KeyError, TypeError, RecursionError) as e:
        raise StreamBroken(f"not a watch event: {line[:200]!r}") from e
    if not isinstance(kind, str) or not isinstance(obj, dict):
        raise StreamBroken(f"not a watch event: {line[:200]!r}")
    if kind == "ERROR":
        raise _error_event(obj)
    return kind, obj


def _error_event(status: dict[str, object]) -> Expired | ApiRejected:
    code, message = status.get("code"), status.get("message", "")
    if code == 410 or status.get("reason") in {"Expired", "Gone"}:
        return Expired(f"410 Gone: {message}")
    return ApiRejected(f"watch error {code}: {message}", status=code if isinstance(code, int) else 0)


def read_events(chunks: Iterable[bytes], *, stall_after: Callable[[], float], clock: Callable[[], float]
                ) -> Iterator[WatchEvent]:
    """Watch events from a chunk stream."""
    for line in iter_lines(chunks, stall_after=stall_after, clock=clock):
        yield parse_event(line)
