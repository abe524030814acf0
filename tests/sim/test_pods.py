"""The pods' JSON as the watcher and the official client read it, and determinism under a seed."""

from __future__ import annotations

import re
from typing import Any

import kubernetes

from sim.clock import VirtualClock
from sim.cluster import Cluster
from sim.lifecycle import Timings
from sim.naming import ALPHANUMS, template_hash
from sim.podstore import EventType
from sim.rollout import RollingUpdate
from tests.sim.history import V1, V1_COLOR, V2, Mark, replay, settle
from watcher.podviews import view_pod

CHARS = f"[{ALPHANUMS}]"
POD_NAME = re.compile(rf"^whoami-(?P<hash>{CHARS}{{1,10}})-{CHARS}{{5}}$")


def history_of_one_pod(cluster: Cluster) -> list[tuple[EventType, dict[str, Any]]]:
    start = Mark.of(cluster.store)
    cluster.apply_deployment("whoami", replicas=1, pod_labels=V1)
    settle(cluster)
    cluster.delete_deployment("whoami")
    cluster.advance(10)
    return [(e.type, e.object) for e, _ in replay(cluster.store, start)]


def test_a_pods_life_as_the_watcher_reads_it() -> None:
    clock = VirtualClock()
    cluster = Cluster(clock=clock, timings=Timings(startup=(2.0, 2.0), grace=3.0))
    events = history_of_one_pod(cluster)
    assert [t for t, _ in events] == [EventType.ADDED, EventType.MODIFIED, EventType.MODIFIED, EventType.DELETED]
    views = [view_pod(pod, color_label="blinktColor") for _, pod in events]
    assert [v.state.value for v in views] == ["pending", "ready", "terminating", "terminating"]
    assert {(v.name, v.namespace, v.node, v.color) for v in views} == {(views[0].name, "default", "node-1", V1_COLOR)}
    assert len({v.uid for v in views}) == 1 and views[0].uid

    added, ready, leaving = (pod for _, pod in events[:3])
    meta = added["metadata"]
    named = POD_NAME.match(meta["name"])
    assert named is not None and meta["generateName"] == f"whoami-{named['hash']}-"
    assert meta["labels"] == {**V1, "pod-template-hash": named["hash"]}
    assert meta["ownerReferences"][0]["kind"] == "ReplicaSet" and meta["ownerReferences"][0]["controller"] is True
    assert meta["creationTimestamp"] == "2026-01-01T00:00:00Z"
    assert added["status"]["phase"] == "Pending" and added["spec"]["nodeName"] == "node-1"
    assert {c["type"]: c["status"] for c in added["status"]["conditions"]}["Ready"] == "False"
    assert ready["status"]["phase"] == "Running" and ready["status"]["podIP"].startswith("10.244.0.")
    assert ready["status"]["startTime"] == "2026-01-01T00:00:02Z"
    assert {c["type"]: c["status"] for c in ready["status"]["conditions"]}["Ready"] == "True"
    # deletionTimestamp is when the grace period ends, as the API server sets it
    assert leaving["metadata"]["deletionTimestamp"] == "2026-01-01T00:00:05Z"
    assert leaving["metadata"]["deletionGracePeriodSeconds"] == 3


def test_the_official_client_deserialises_the_pods() -> None:
    cluster = Cluster()
    cluster.apply_deployment("whoami", replicas=2, pod_labels=V2, strategy=RollingUpdate(1, 0))
    settle(cluster)
    client = kubernetes.client.ApiClient()
    for pod in cluster.store.select()[0]:
        model = client._ApiClient__deserialize(pod, "V1Pod")  # type: ignore[attr-defined]
        assert model.metadata.labels["blinktColor"] == "a81399"
        assert model.status.container_statuses[0].ready is True
        assert model.metadata.owner_references[0].name == f"whoami-{model.metadata.labels['pod-template-hash']}"


def run(seed: int) -> list[tuple[str, str, str, str, str]]:
    cluster = Cluster(seed=seed)
    start = Mark.of(cluster.store)
    cluster.apply_deployment("whoami", replicas=5, pod_labels=V1)
    settle(cluster)
    cluster.apply_deployment("whoami", replicas=6, pod_labels=V2)
    settle(cluster)
    return [
        (e.type.value, e.object["metadata"]["name"], e.object["metadata"]["uid"], e.object["spec"]["nodeName"],
         e.object["metadata"]["resourceVersion"])
        for e, _ in replay(cluster.store, start)
    ]  # fmt: skip


def test_the_same_seed_gives_the_same_run_and_another_seed_other_names() -> None:
    first, again, other = run(7), run(7), run(8)
    assert first == again
    assert len(first) == 5 * 4 + 6 * 2  # v1: added, ready, terminating, deleted; v2: added, ready
    assert {name for _, name, *_ in first}.isdisjoint({name for _, name, *_ in other})
    # Node placement depends on the rules, not on the seed: the same spread either way.
    assert sorted(node for *_, node, _ in first) == sorted(node for *_, node, _ in other)


def test_replica_set_names_come_from_the_template() -> None:
    cluster = Cluster()
    cluster.apply_deployment("whoami", replicas=1, pod_labels=V1)
    [(name, revision, _)] = cluster.replica_sets("whoami")
    other = Cluster(seed=99)
    other.apply_deployment("whoami", replicas=3, pod_labels=V1)
    assert other.replica_sets("whoami")[0][0] == name and revision == 1
    assert template_hash({"a": 1}) != template_hash({"a": 2})


def test_timestamps_follow_the_virtual_clock() -> None:
    clock = VirtualClock()
    cluster = Cluster(clock=clock)
    clock.advance(3600)
    cluster.apply_deployment("whoami", replicas=1, pod_labels=V1)
    [pod] = cluster.store.select()[0]
    assert pod["metadata"]["creationTimestamp"] == "2026-01-01T01:00:00Z"
