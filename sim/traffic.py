"""Services and weighted routes: where a request to the demo app ends up.

Pure: records and choices with an injected ``random.Random``. The cluster keeps the
records and hands in the pods.

- A ``Service`` selects pods by labels in its namespace, like a Kubernetes Service;
  its endpoints are the *ready* pods that are not terminating (the EndpointSlice
  controller's "ready" endpoints), so a request never reaches a starting or leaving pod.
- A ``WeightedRoute`` splits requests between services by integer weights, the model
  of an HTTPRoute's ``backendRefs[].weight`` (or an Ingress canary weight). As in the
  Gateway API a weight may be 0, and a route whose weights are all 0 fails every
  request. A request whose chosen service has no ready endpoint fails too (a 503): it
  is *not* retried on another service, so a canary with no ready pod shows up as errors.

Errors: ``TrafficError`` (a ``ValueError``) for an invalid service or route.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from sim.lifecycle import is_terminating
from sim.pods import Pod, is_ready
from sim.selectors import LabelSelector, Operator, PodSelector, Requirement


class TrafficError(ValueError):
    """An invalid service or route."""


@dataclass(frozen=True)
class Service:
    name: str
    namespace: str
    selector: Mapping[str, str]

    def pod_selector(self) -> PodSelector:
        requirements = tuple(Requirement(k, Operator.EQUALS, frozenset({v})) for k, v in sorted(self.selector.items()))
        return PodSelector(self.namespace, LabelSelector(requirements))


def endpoints(pods: Sequence[Pod]) -> list[Pod]:
    """The pods that receive traffic: ready and not terminating, by name."""
    ready = [p for p in pods if is_ready(p) and not is_terminating(p)]
    return sorted(ready, key=lambda p: str(p["metadata"]["name"]))


@dataclass(frozen=True)
class WeightedRoute:
    name: str
    weights: Mapping[str, int]  # service name → weight

    def __post_init__(self) -> None:
        if not self.weights:
            raise TrafficError(f"route {self.name!r} needs at least one backend service")
        bad = {s: w for s, w in self.weights.items() if isinstance(w, bool) or not isinstance(w, int) or w < 0}
        if bad:
            raise TrafficError(f"route {self.name!r}: weights must be integers >= 0, got {bad}")

    def pick(self, rng: random.Random) -> str | None:
        """A service with probability weight/total; None when every weight is 0."""
        total = sum(self.weights.values())
        if total == 0:
            return None
        point = rng.randrange(total)
        for service, weight in sorted(self.weights.items()):
            if point < weight:
                return service
            point -= weight
        raise AssertionError("unreachable: point < total")


class Backend(NamedTuple):
    """Where one request went."""

    service: str
    pod: str
    version: str | None


@dataclass
class RouteStats:
    """Counts of requests through one route since it was set."""

    requests: int = 0
    failures: int = 0
    by_service: Counter[str] = field(default_factory=Counter)
    by_version: Counter[str] = field(default_factory=Counter)

    def record(self, backend: Backend | None) -> None:
        self.requests += 1
        if backend is None:
            self.failures += 1
            return
        self.by_service[backend.service] += 1
        self.by_version[backend.version or ""] += 1


def choose_pod(service: str, pods: Sequence[Pod], rng: random.Random) -> Backend | None:
    """A ready endpoint of ``service`` picked uniformly, or None (the request fails)."""
    ready = endpoints(pods)
    if not ready:
        return None
    pod = rng.choice(ready)
    labels = pod["metadata"].get("labels") or {}
    return Backend(service, str(pod["metadata"]["name"]), labels.get("version"))
