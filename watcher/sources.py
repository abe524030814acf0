"""What the list/watch loop needs from an API server: the :class:`PodSource` protocol.

``kube.py`` implements it over the official client; the tests implement it with a
script (``tests/watcher/sources.py``), so every rule of the loop is checked without a
socket or a real second passing. Pure: types and protocols only.

A source raises only :mod:`watcher.errors` (``KubeError`` and its children). A watch is
a context manager around a :class:`WatchStream`: entering it means the server accepted
the watch (HTTP 200); iterating reads events until the server ends the stream; leaving
it releases the connection.

A :class:`NodeSource` tells which nodes the cluster has: the watcher asks it before it
clears the topics of a node it thinks has left (``service.py``), so nothing is cleared
on a guess. ``kube.py`` implements both protocols on one client.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

RawObject = dict[str, Any]
WatchEvent = tuple[str, RawObject]
"""``(type, object)``: ``ADDED``, ``MODIFIED``, ``DELETED`` or ``BOOKMARK``, and the raw object."""


@dataclass(frozen=True)
class PodQuery:
    """One scope of pods: a namespace (None: all), a label selector and an optional field selector."""

    namespace: str | None
    label_selector: str
    field_selector: str | None

    @property
    def scope(self) -> str:
        """A short label for logs and metrics: the namespace, or ``all``."""
        return self.namespace or "all"


class WatchStream(Protocol):
    def __iter__(self) -> Iterator[WatchEvent]:
        """Events until the server ends the stream; raises a KubeError when it breaks."""
        ...

    def stall_after(self, seconds: float) -> None:
        """From now on, raise ``Stalled`` when no event or bookmark arrives for ``seconds``."""
        ...


class PodSource(Protocol):
    def list(self, query: PodQuery, *, resource_version: str) -> tuple[list[RawObject], str]:
        """The matching pods and the list's resourceVersion."""
        ...

    def watch(
        self, query: PodQuery, *, resource_version: str, timeout_seconds: int, stall_after: float
    ) -> AbstractContextManager[WatchStream]:
        """A watch from ``resource_version``; the server ends it after ``timeout_seconds``."""
        ...

    def close(self) -> None:
        """Interrupt every open watch (a blocked read wakes up with ``StreamBroken``); refuse new calls."""
        ...


class NodeSource(Protocol):
    def node_names(self, name: str | None = None, *, timeout: float) -> frozenset[str]:
        """The names of the cluster's nodes (only ``name``, if given, when it exists). Raises a KubeError.

        Answers even after :meth:`PodSource.close` (a stopping watcher asks it once more);
        ``timeout`` bounds the whole call.
        """
        ...
