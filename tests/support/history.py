"""The pod store's write history replayed, and the rolling-update bounds written from the docs.

Shared by the cluster tests and the strategy tests. Invariants are checked after every
single store write, so they hold for every state a watcher (and so every LED) could
show, not only between two cluster steps.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sim.podstore import EventType, PodStore, WatchEvent

Pod = dict[str, Any]


@dataclass(frozen=True)
class Mark:
    """The store at one moment: where a replay starts, with the pods that exist then."""

    version: int
    pods: tuple[Pod, ...]

    @classmethod
    def of(cls, store: PodStore) -> Mark:
        pods, version = store.select()
        return cls(version, tuple(pods))


def replay(store: PodStore, since: Mark) -> Iterator[tuple[WatchEvent, Mapping[str, Pod]]]:
    """Every write after ``since`` with the pods that exist right after it, by name."""
    events, _ = store.events_since(since.version)
    pods = {str(p["metadata"]["name"]): p for p in since.pods}
    for event in events:
        name = str(event.object["metadata"]["name"])
        if event.type == EventType.DELETED:
            pods.pop(name, None)
        else:
            pods[name] = event.object
        yield event, pods


def version(pod: Pod) -> str:
    return str(pod["metadata"]["labels"]["version"])


def rolling_bounds(replicas: int, max_surge: int | str, max_unavailable: int | str) -> tuple[int, int]:
    """(most pods not terminating, fewest ready pods) during a rolling update, written down
    from the Kubernetes documentation independently of ``sim.rollout``: surge rounds up,
    unavailable rounds down, both 0 → 1 unavailable."""

    def resolve(value: int | str, round_up: bool) -> int:
        if isinstance(value, int):
            return value
        exact = float(value.rstrip("%")) * replicas / 100
        return math.ceil(exact) if round_up else math.floor(exact)

    surge, unavailable = resolve(max_surge, True), resolve(max_unavailable, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return replicas + surge, replicas - min(unavailable, replicas)
