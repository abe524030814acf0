"""The controllers at work on a virtual clock: scale, rolling update step by step, recreate, rollback."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from sim.clock import RealClock, VirtualClock
from sim.cluster import Cluster, UnknownName
from sim.deployments import SpecError
from sim.lifecycle import Timings
from sim.rollout import Recreate, RollingUpdate, RolloutError
from sim.scheduling import node_names
from tests.sim.history import V1, V2, settle, state, version

# Fixed delays make the timelines below exact: ready 2 s after creation, gone 1 s after deletion.
FIXED = Timings(startup=(2.0, 2.0), grace=1.0)


def pods(cluster: Cluster) -> list[dict[str, Any]]:
    return cluster.store.select()[0]


def states(cluster: Cluster) -> Counter[tuple[str, str]]:
    return Counter((version(p), state(p)) for p in pods(cluster))


def timeline(cluster: Cluster) -> list[tuple[float, int, int, int, int]]:
    """(time, replicas, updated, available, terminating) after every timer until nothing is pending."""
    seen = []
    while True:
        s = cluster.deployment_status("whoami")
        seen.append((cluster.clock.now(), s.replicas, s.updated, s.available, s.terminating))
        if not cluster.step_to_next():
            return seen


def test_a_new_deployment_spreads_pending_pods_that_become_ready() -> None:
    cluster = Cluster(timings=FIXED)
    status = cluster.apply_deployment("whoami", replicas=3, pod_labels=V1)
    assert (status.replicas, status.ready, status.revision, status.complete) == (3, 0, 1, False)
    assert states(cluster) == {("v1", "pending"): 3}
    assert sorted(p["spec"]["nodeName"] for p in pods(cluster)) == ["node-1", "node-2", "node-3"]
    cluster.advance(1.9)
    assert states(cluster) == {("v1", "pending"): 3}
    cluster.advance(0.1)
    assert states(cluster) == {("v1", "ready"): 3}
    assert cluster.deployment_status("whoami").settled


def test_scale_up_spreads_and_scale_down_removes_unready_pods_first() -> None:
    cluster = Cluster(timings=FIXED)
    cluster.apply_deployment("whoami", replicas=3, pod_labels=V1)
    settle(cluster)
    ready = {p["metadata"]["name"] for p in pods(cluster)}
    cluster.scale("whoami", 7)
    assert Counter(p["spec"]["nodeName"] for p in pods(cluster)) == {"node-1": 3, "node-2": 2, "node-3": 2}
    status = cluster.scale("whoami", 4)  # three of the four new pods are still starting: they go
    assert (status.replicas, status.terminating) == (4, 3)
    terminating = {p["metadata"]["name"] for p in pods(cluster) if state(p) == "terminating"}
    assert not terminating & ready
    cluster.advance(1.0)
    assert len(pods(cluster)) == 4 and not terminating & {p["metadata"]["name"] for p in pods(cluster)}
    cluster.scale("whoami", 0)
    settle(cluster)
    assert pods(cluster) == []


def test_rolling_update_surge_1_unavailable_0_replaces_one_pod_at_a_time() -> None:
    cluster = Cluster(timings=FIXED)
    cluster.apply_deployment("whoami", replicas=4, pod_labels=V1, strategy=RollingUpdate(1, 0))
    settle(cluster)
    start = cluster.clock.now()
    cluster.apply_deployment("whoami", replicas=4, pod_labels=V2, strategy=RollingUpdate(1, 0))
    seen = [(t - start, *rest) for t, *rest in timeline(cluster)]
    assert seen == [
        (0.0, 5, 1, 4, 0),  # one surge pod starting
        (2.0, 5, 2, 4, 1),  # it is ready: one old pod goes, the next new one starts
        (3.0, 5, 2, 4, 0),
        (4.0, 5, 3, 4, 1),
        (5.0, 5, 3, 4, 0),
        (6.0, 5, 4, 4, 1),
        (7.0, 5, 4, 4, 0),
        (8.0, 4, 4, 4, 1),  # the last old pod goes: complete
        (9.0, 4, 4, 4, 0),
    ]
    assert states(cluster) == {("v2", "ready"): 4}
    assert cluster.deployment_status("whoami").revision == 2


def test_rolling_update_25_25_of_4_replaces_two_at_a_time() -> None:
    cluster = Cluster(timings=FIXED)
    cluster.apply_deployment("whoami", replicas=4, pod_labels=V1)
    settle(cluster)
    start = cluster.clock.now()
    cluster.apply_deployment("whoami", replicas=4, pod_labels=V2)
    seen = [(t - start, *rest) for t, *rest in timeline(cluster)]
    assert seen == [
        (0.0, 5, 2, 3, 1),  # surge 1, then one old pod down (unavailable 1), so one more new pod
        (1.0, 5, 2, 3, 0),
        (2.0, 5, 4, 3, 2),  # two new ready: two old go, two new start
        (3.0, 5, 4, 3, 0),
        (4.0, 4, 4, 4, 1),
        (5.0, 4, 4, 4, 0),
    ]


def test_recreate_removes_every_old_pod_before_creating_new_ones() -> None:
    cluster = Cluster(timings=FIXED)
    cluster.apply_deployment("whoami", replicas=3, pod_labels=V1, strategy=Recreate())
    settle(cluster)
    cluster.apply_deployment("whoami", replicas=3, pod_labels=V2, strategy=Recreate())
    assert states(cluster) == {("v1", "terminating"): 3}
    cluster.advance(1.0)
    assert states(cluster) == {("v2", "pending"): 3}
    cluster.advance(2.0)
    assert states(cluster) == {("v2", "ready"): 3}


def test_applying_the_same_template_only_scales_and_an_old_one_rolls_back() -> None:
    cluster = Cluster(timings=FIXED)
    cluster.apply_deployment("whoami", replicas=2, pod_labels=V1)
    settle(cluster)
    [(v1_rs, _, _)] = cluster.replica_sets("whoami")
    assert cluster.apply_deployment("whoami", replicas=3, pod_labels=V1).revision == 1
    cluster.apply_deployment("whoami", replicas=3, pod_labels=V2)
    settle(cluster)
    assert cluster.apply_deployment("whoami", replicas=3, pod_labels=V1).revision == 3
    settle(cluster)
    assert cluster.replica_sets("whoami")[0] == (v1_rs, 3, 3)  # the v1 ReplicaSet is back
    assert len(cluster.replica_sets("whoami")) == 2
    assert all(p["metadata"]["name"].startswith(f"{v1_rs}-") for p in pods(cluster))


def test_min_ready_seconds_holds_the_rollout_until_new_pods_are_available() -> None:
    cluster = Cluster(timings=FIXED)
    cluster.apply_deployment("whoami", replicas=2, pod_labels=V1, strategy=RollingUpdate(1, 0), min_ready_seconds=5)
    settle(cluster)
    cluster.apply_deployment("whoami", replicas=2, pod_labels=V2, strategy=RollingUpdate(1, 0), min_ready_seconds=5)
    cluster.advance(2.0)
    assert states(cluster) == {("v1", "ready"): 2, ("v2", "ready"): 1}  # ready, not yet available
    cluster.advance(4.9)
    assert cluster.deployment_status("whoami").terminating == 0
    cluster.advance(0.1)
    assert cluster.deployment_status("whoami").terminating == 1


def test_delete_deployment_terminates_its_pods_gracefully() -> None:
    cluster = Cluster(timings=FIXED)
    cluster.apply_deployment("whoami", replicas=3, pod_labels=V1)
    settle(cluster)
    cluster.delete_deployment("whoami")
    assert states(cluster) == {("v1", "terminating"): 3}
    assert cluster.deployment_names() == []
    with pytest.raises(UnknownName):
        cluster.deployment_status("whoami")
    cluster.advance(1.0)
    assert pods(cluster) == []


def test_a_pod_deleted_behind_the_controllers_back_is_replaced() -> None:
    cluster = Cluster(timings=FIXED)
    cluster.apply_deployment("whoami", replicas=2, pod_labels=V1)
    settle(cluster)
    victim = pods(cluster)[0]["metadata"]["name"]
    cluster.store.delete("default", victim)
    cluster.step()
    names = {p["metadata"]["name"] for p in pods(cluster)}
    assert len(names) == 2 and victim not in names
    settle(cluster)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"replicas": -1}, SpecError),
        ({"replicas": 1.5}, SpecError),
        ({"pod_labels": {**V2, "bad key!": "x"}}, SpecError),
        ({"pod_labels": {**V2, "version": "not valid/"}}, SpecError),
        ({"pod_labels": {"blinkt": "show"}}, SpecError),  # no longer matches the selector app=whoami
        ({"selector": {"app": "other"}}, SpecError),  # the selector is immutable
        ({"strategy": "Recreate"}, SpecError),
        ({"min_ready_seconds": -1}, SpecError),
        ({"image": ""}, SpecError),
    ],
)
def test_bad_specs_are_refused_and_change_nothing(change: dict[str, object], error: type[Exception]) -> None:
    cluster = Cluster(timings=FIXED)
    cluster.apply_deployment("whoami", replicas=2, pod_labels=V1)
    before = cluster.store.resource_version
    spec: dict[str, object] = {"replicas": 2, "pod_labels": V2, **change}
    with pytest.raises(error):
        cluster.apply_deployment("whoami", **spec)  # type: ignore[arg-type]
    assert cluster.store.resource_version == before
    assert cluster.replica_sets("whoami")[0][1:] == (1, 2) and len(cluster.replica_sets("whoami")) == 1


def test_other_bad_input_gets_a_clear_error() -> None:
    cluster = Cluster()
    with pytest.raises(SpecError, match="DNS-1123"):
        cluster.apply_deployment("Who_Ami", replicas=1, pod_labels=V1)
    with pytest.raises(RolloutError, match="maxSurge"):
        cluster.apply_deployment("whoami", replicas=1, pod_labels=V1, strategy=RollingUpdate(0, "0%"))
    with pytest.raises(UnknownName, match="nothing"):
        cluster.scale("nothing", 2)
    with pytest.raises(TypeError, match="VirtualClock"):
        Cluster(clock=RealClock()).advance(1)
    with pytest.raises(ValueError, match="DNS-1123"):
        node_names(["node_1"])
    with pytest.raises(ValueError, match="unique"):
        node_names(["a", "a"])
    with pytest.raises(ValueError, match="at least one"):
        node_names(0)
    with pytest.raises(ValueError, match="startup"):
        Timings(startup=(3.0, 1.0))
    with pytest.raises(ValueError, match="back"):
        VirtualClock().advance(-1)
    with pytest.raises(ValueError, match="back"):
        cluster.advance(-1)


def test_named_nodes_are_used() -> None:
    cluster = Cluster(nodes=["pi-a", "pi-b"], timings=FIXED)
    cluster.apply_deployment("whoami", replicas=4, pod_labels=V1)
    assert Counter(p["spec"]["nodeName"] for p in pods(cluster)) == {"pi-a": 2, "pi-b": 2}


def test_real_clock_runs_the_controllers_in_a_thread() -> None:
    # 100 cluster seconds per real second: startup 2-4 s and grace 3 s take a few hundredths.
    cluster = Cluster(clock=RealClock(speed=100.0), tick=0.01)
    running = cluster.start()
    try:
        cluster.apply_deployment("whoami", replicas=3, pod_labels=V1)
        assert cluster.wait_until(lambda: cluster.deployment_status("whoami").settled, timeout=300)
        cluster.apply_deployment("whoami", replicas=3, pod_labels=V2)
        assert cluster.wait_until(lambda: cluster.deployment_status("whoami").settled, timeout=300)
    finally:
        running.stop()
    assert not running.thread.is_alive()
    assert states(cluster) == {("v2", "ready"): 3}
    assert cluster.errors == 0
