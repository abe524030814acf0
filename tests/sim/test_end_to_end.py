"""End to end: the real API server over the cluster's store, the official client watching a rolling update."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import kubernetes
from kubernetes.client import CoreV1Api

from sim.apiserver import ApiServer
from sim.cluster import Cluster
from sim.kubeconfig import write_kubeconfig
from sim.lifecycle import Timings
from sim.rollout import RollingUpdate
from tests.sim.history import V1, V2, settle

SELECTOR = "app=whoami,blinkt=show"


def watch_until_rolled(core: CoreV1Api, since: str, live: dict[str, Any], seen: list[tuple[str, str, str]]) -> None:
    """Follow the watch, keeping ``live`` (name → pod) current, until only ready v2 pods are left."""
    watch: Any = kubernetes.watch.Watch()
    stream = watch.stream(core.list_namespaced_pod, "default", label_selector=SELECTOR, resource_version=since,
                          timeout_seconds=30)  # fmt: skip
    for event in stream:
        pod = event["object"]
        name, version = pod.metadata.name, pod.metadata.labels["version"]
        ready = any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])
        leaving = pod.metadata.deletion_timestamp is not None
        seen.append((event["type"], name, "terminating" if leaving else "ready" if ready else "pending"))
        if event["type"] == "DELETED":
            live.pop(name, None)
        else:
            live[name] = (version, seen[-1][2], pod.spec.node_name)
        if live and {v[:2] for v in live.values()} == {("v2", "ready")} and len(live) == 3:
            watch.stop()


def test_the_official_client_watches_pods_come_and_go(tmp_path: Path) -> None:
    cluster = Cluster(seed=5, timings=Timings(startup=(1.0, 2.0), grace=1.0))
    cluster.apply_deployment("whoami", replicas=3, pod_labels=V1, strategy=RollingUpdate(1, 0))
    settle(cluster)
    with ApiServer(cluster.store, bookmark_interval=0.5) as server:
        config = write_kubeconfig(tmp_path / "kubeconfig", server.url)
        client = kubernetes.config.new_client_from_config(config_file=str(config))
        with client:
            core = CoreV1Api(client)
            listed: Any = core.list_namespaced_pod("default", label_selector=SELECTOR)
            live: dict[str, Any] = {p.metadata.name: ("v1", "ready", p.spec.node_name) for p in listed.items}
            old = set(live)
            seen: list[tuple[str, str, str]] = []
            args = (core, listed.metadata.resource_version, live, seen)
            watcher = threading.Thread(target=watch_until_rolled, args=args, daemon=True)
            watcher.start()
            assert server.wait_for_watches(1, timeout=10)
            cluster.apply_deployment("whoami", replicas=3, pod_labels=V2, strategy=RollingUpdate(1, 0))
            settle(cluster)
            watcher.join(timeout=30)
            assert not watcher.is_alive(), seen
    assert len(old) == 3
    for name in old:  # each old pod: marked terminating, then deleted
        assert [(t, s) for t, n, s in seen if n == name] == [("MODIFIED", "terminating"), ("DELETED", "terminating")]
    new = {n for _, n, _ in seen} - old
    for name in new:
        assert [(t, s) for t, n, s in seen if n == name] == [("ADDED", "pending"), ("MODIFIED", "ready")]
    expected = {p["metadata"]["name"]: ("v2", "ready", p["spec"]["nodeName"]) for p in cluster.store.select()[0]}
    assert live == expected and set(expected) == new
