"""What can go wrong between the watcher and the Kubernetes API: one tree for this boundary.

The adapter (``kube.py``) turns every failure of the official client and of the wire
into one of these, chained with ``raise … from``; the list/watch loop (``watching.py``)
decides what each means, without knowing the adapter::

    KubeError            anything that went wrong talking to the API server
    ├── Expired          410 Gone / "too old resource version": relist
    ├── TooManyRequests  429, with the server's Retry-After
    ├── ApiRejected      any other HTTP error status (4xx/5xx), also as a watch ERROR event
    └── StreamBroken     connection refused/reset, unreadable body, garbled stream
        ├── Stalled      no event or bookmark for longer than the stall timeout
        └── EndedAtOnce  a watch that ended at once without delivering anything

``kind`` is a short, stable label per class, for counting (metrics) and log lines.
Pure: no I/O, no third-party imports.
"""

from __future__ import annotations


class KubeError(Exception):
    """Anything that went wrong talking to the API server."""

    kind = "api_error"


class Expired(KubeError):
    """The resourceVersion we asked for is gone from the server's history (410)."""

    kind = "expired"


class TooManyRequests(KubeError):
    """429: the server is overloaded and says when to come back (``retry_after`` seconds)."""

    kind = "too_many_requests"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ApiRejected(KubeError):
    """Any other HTTP error status; ``status`` is the code (0 if the server gave none)."""

    kind = "rejected"

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class StreamBroken(KubeError):
    """The connection failed, timed out or carried something that is not a watch event."""

    kind = "stream_broken"


class Stalled(StreamBroken):
    """The stream stayed open but silent (no event, no bookmark) past the stall timeout."""

    kind = "stalled"


class EndedAtOnce(StreamBroken):
    """A watch that ended at once without an event: a misbehaving server must not make us spin."""

    kind = "ended_at_once"


INTERNAL = "internal"
"""The ``kind`` counted for an exception that is not a :class:`KubeError` (a bug on our side)."""

KINDS = (Expired.kind, TooManyRequests.kind, ApiRejected.kind, StreamBroken.kind, Stalled.kind, EndedAtOnce.kind,
         INTERNAL)


def kind_of(error: BaseException) -> str:
    return error.kind if isinstance(error, KubeError) else INTERNAL
