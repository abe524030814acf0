"""Helpers for the cluster tests: the demo app's labels, and the store's history replayed.

Invariants are checked on the store's watch history, one event at a time, so they hold
for every state a watcher could see, not only between two cluster steps.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sim.cluster import Cluster
from sim.podstore import EventType, PodStore, WatchEvent
from watcher.podviews import pod_state

Pod = dict[str, Any]
V1_COLOR, V2_COLOR = "ffff00", "a81399"


def demo_labels(version: str, color: str) -> dict[str, str]:
    return {"app": "whoami", "blinkt": "show", "blinktColor": color, "version": version}


V1 = demo_labels("v1", V1_COLOR)
V2 = demo_labels("v2", V2_COLOR)


@dataclass(frozen=True)
class Mark:
    """The store at one moment: its version and its pods, where a replay starts."""

    version: int
    pods: tuple[Pod, ...]

    @classmethod
    def of(cls, store: PodStore) -> Mark:
        pods, version = store.select()
        return cls(version, tuple(pods))


def replay(store: PodStore, since: Mark) -> Iterator[tuple[WatchEvent, Mapping[str, Pod]]]:
    """Every event after ``since`` with the pods that exist right after it (by name)."""
    events, _ = store.events_since(since.version)
    pods: dict[str, Pod] = {p["metadata"]["name"]: p for p in since.pods}
    for event in events:
        name = event.object["metadata"]["name"]
        if event.type == EventType.DELETED:
            pods.pop(name, None)
        else:
            pods[name] = event.object
        yield event, pods


def version(pod: Pod) -> str:
    return str(pod["metadata"]["labels"]["version"])


def state(pod: Pod) -> str:
    """The watcher's reading of the pod: pending / ready / unready / terminating."""
    return str(pod_state(pod).value)


def bounds_by_rule(replicas: int, max_surge: int | str, max_unavailable: int | str) -> tuple[int, int]:
    """(most non-terminating pods, fewest ready pods) during a rolling update, written down
    from the Kubernetes documentation independently of ``sim.rollout``."""

    def resolve(value: int | str, round_up: bool) -> int:
        if isinstance(value, int):
            return value
        exact = float(value.rstrip("%")) * replicas / 100
        return math.ceil(exact) if round_up else math.floor(exact)

    surge, unavailable = resolve(max_surge, True), resolve(max_unavailable, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return replicas + surge, replicas - min(unavailable, replicas)


def settle(cluster: Cluster, name: str = "whoami", timeout: float = 600.0) -> None:
    assert cluster.wait_until(lambda: cluster.deployment_status(name).settled, timeout), cluster.deployment_status(name)
