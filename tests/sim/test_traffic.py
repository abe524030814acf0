"""Services and weighted routes: requests split by weight, and only ever to ready pods."""

from __future__ import annotations

import pytest

from sim.cluster import Cluster, UnknownName
from sim.lifecycle import Timings
from sim.traffic import TrafficError
from tests.sim.history import V1, V2, settle, state

REQUESTS = 2000


def canary_cluster() -> Cluster:
    """Stable v1 (4 pods) and canary v2 (1 pod), a service each, as a canary chart deploys them."""
    cluster = Cluster(timings=Timings(startup=(2.0, 2.0), grace=1.0))
    cluster.apply_deployment("whoami", replicas=4, pod_labels={**V1, "track": "stable"})
    cluster.apply_deployment("whoami-canary", replicas=1, pod_labels={**V2, "track": "canary"})
    settle(cluster)
    settle(cluster, "whoami-canary")
    cluster.apply_service("stable", {"app": "whoami", "track": "stable"})
    cluster.apply_service("canary", {"app": "whoami", "track": "canary"})
    return cluster


def test_a_95_5_split_over_2000_requests() -> None:
    cluster = canary_cluster()
    cluster.set_route("web", {"stable": 95, "canary": 5})
    backends = [cluster.route_request("web") for _ in range(REQUESTS)]
    assert None not in backends
    stats = cluster.route_stats("web")
    assert (stats.requests, stats.failures) == (REQUESTS, 0)
    # binomial: mean 100, standard deviation ~9.7; 4 deviations either way
    assert 60 <= stats.by_version["v2"] <= 140
    assert stats.by_version["v1"] == REQUESTS - stats.by_version["v2"]
    assert stats.by_service == {"stable": stats.by_version["v1"], "canary": stats.by_version["v2"]}
    stable_pods = {b.pod for b in backends if b is not None and b.service == "stable"}
    assert stable_pods == set(cluster.service_endpoints("stable")) and len(stable_pods) == 4


def test_shifting_weights_moves_all_traffic() -> None:
    cluster = canary_cluster()
    cluster.set_route("web", {"stable": 0, "canary": 100})
    assert {cluster.route_request("web").version for _ in range(200)} == {"v2"}  # type: ignore[union-attr]
    cluster.set_route("web", {"stable": 1, "canary": 0})
    assert {cluster.route_request("web").version for _ in range(200)} == {"v1"}  # type: ignore[union-attr]
    assert cluster.route_stats("web", reset=True).requests == 400
    assert cluster.route_stats("web").requests == 0


def canary_states(cluster: Cluster) -> list[str]:
    return sorted(state(p) for p in cluster.store.list(label_selector="track=canary")[0])


def test_requests_fail_without_ready_pods_and_never_reach_leaving_or_starting_ones() -> None:
    cluster = canary_cluster()
    cluster.set_route("web", {"canary": 1})
    cluster.apply_deployment("whoami-canary", replicas=1, pod_labels={**V1, "track": "canary"})
    # rolling 25 %/25 % of 1: a new pod starts, the old one keeps serving
    assert canary_states(cluster) == ["pending", "ready"]
    served = {cluster.route_request("web").version for _ in range(50)}  # type: ignore[union-attr]
    assert served == {"v2"}
    cluster.scale("whoami-canary", 0)
    assert canary_states(cluster) == ["terminating", "terminating"]
    assert cluster.route_request("web") is None
    assert cluster.route_stats("web").failures == 1
    cluster.set_route("web", {"canary": 0})
    assert cluster.route_request("web") is None  # all weights 0: every request fails
    assert cluster.route_stats("web").failures == 2


def test_routing_does_not_change_pod_names() -> None:
    quiet, busy = canary_cluster(), canary_cluster()
    busy.set_route("web", {"stable": 1})
    for _ in range(100):
        busy.route_request("web")
    for cluster in (quiet, busy):
        cluster.scale("whoami", 6)
    assert [p["metadata"]["name"] for p in quiet.store.select()[0]] == [
        p["metadata"]["name"] for p in busy.store.select()[0]
    ]


def test_bad_routes_and_services_are_refused() -> None:
    cluster = canary_cluster()
    with pytest.raises(UnknownName, match="nope"):
        cluster.set_route("web", {"stable": 1, "nope": 1})
    with pytest.raises(TrafficError, match="integers >= 0"):
        cluster.set_route("web", {"stable": -1})
    with pytest.raises(TrafficError, match="at least one"):
        cluster.set_route("web", {})
    for bad in ("Bad Name", "web_1", "a" * 64):
        with pytest.raises(TrafficError, match="DNS-1123"):
            cluster.apply_service(bad, {"app": "whoami"})
    with pytest.raises(TrafficError, match="empty"):
        cluster.apply_service("empty", {})
    with pytest.raises(UnknownName):
        cluster.route_request("web")
    with pytest.raises(UnknownName):
        cluster.service_endpoints("nope")
