"""The watcher against the project's API server and a real Mosquitto."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from broker.launching import free_port, start_mosquitto
from bus.messages import decode_snapshot
from sim.apiserver import ApiServer
from sim.pods import set_ready
from tests.support.brokers import BrokerEndpoint
from tests.support.probes import Probe
from tests.support.waiting import wait_until
from watcher.service import Watcher

from .conftest import WatcherProcess, payloads, show_pod

Messages = list[Any]


def events(messages: Messages, prefix: str, node: str = "node-1") -> list[dict[str, Any]]:
    return payloads(messages, f"{prefix}nodes/{node}/pods")


def last_snapshot(messages: Messages, prefix: str, node: str = "node-1") -> dict[str, Any]:
    return payloads(messages, f"{prefix}nodes/{node}/state")[-1]


def shown(messages: Messages, prefix: str, node: str = "node-1") -> list[str]:
    snaps = payloads(messages, f"{prefix}nodes/{node}/state")
    return [p["pod"] for p in snaps[-1]["pods"]] if snaps else []


def test_publishes_the_pods_of_its_node(
    cluster: ApiServer, start_watcher: Callable[..., Watcher], probe: Any, topic_prefix: str
) -> None:
    store = cluster.store
    store.create(show_pod("a", color="#A81399"))
    store.create(show_pod("b", phase="Pending", ready=False))
    store.create(show_pod("elsewhere", node="node-2"))
    store.create(show_pod("hidden", labels={"blinkt": "hide"}))
    bus = probe(f"{topic_prefix}#")
    watcher = start_watcher()
    assert watcher.wait_synced(10)
    bus.wait_for(lambda m: shown(m, topic_prefix) == ["a", "b"])

    first = events(bus.messages, topic_prefix)
    assert [(e["action"], e["pod"], e["seq"]) for e in first] == [("add", "a", 1), ("add", "b", 2)]
    a = first[0]
    assert a["color"] == "a81399" and a["state"] == "ready" and a["node"] == "node-1" and a["v"] == 1
    assert a["namespace"] == "default" and a["uid"] and a["ts"].endswith("Z") and a["epoch"] == watcher.epoch
    assert first[1]["state"] == "pending"
    late = probe(f"{topic_prefix}nodes/node-1/+")  # what a device that starts now gets: the retained messages
    late.wait_for(lambda m: {x.topic.rsplit("/", 1)[1]: x.payload for x in m if x.retain}.keys() == {"state", "status"})
    assert next(x.payload for x in late.messages if x.topic.endswith("/status")) == b"online"

    store.update("default", "b", lambda p: set_ready(p | {"status": p["status"] | {"phase": "Running"}}, True))
    store.update("default", "a", lambda p: p["metadata"]["labels"].update(blinktColor="00ff00"))
    store.create(show_pod("c"))
    store.update("default", "a", lambda p: p["metadata"]["labels"].update(blinkt="no"))
    store.update("default", "c", lambda p: p["status"].update(phase="Succeeded"))
    store.delete("default", "b")
    bus.wait_for(lambda m: len(events(m, topic_prefix)) >= 8)
    bus.wait_for(lambda m: shown(m, topic_prefix) == [])
    later = [(e["action"], e["pod"], e.get("state"), e.get("color")) for e in events(bus.messages, topic_prefix)[2:]]
    assert later == [
        ("update", "b", "ready", "ffff00"),
        ("update", "a", "ready", "00ff00"),
        ("add", "c", "ready", "ffff00"),
        ("remove", "a", "ready", "00ff00"),  # stopped matching the selector
        ("remove", "c", "ready", "ffff00"),  # finished
        ("remove", "b", "ready", "ffff00"),  # deleted
    ]
    assert [e["seq"] for e in events(bus.messages, topic_prefix)] == list(range(1, 9))
    assert last_snapshot(bus.messages, topic_prefix)["seq"] == 8


def test_terminating_pods_stay_until_gone(
    cluster: ApiServer, start_watcher: Callable[..., Watcher], probe: Any, topic_prefix: str
) -> None:
    cluster.store.create(show_pod("a"))
    bus = probe(f"{topic_prefix}nodes/+/pods")
    start_watcher()
    bus.wait_for(lambda m: len(m) == 1)
    cluster.store.update("default", "a", lambda p: p["metadata"].update(deletionTimestamp="2026-11-27T00:00:00Z"))
    cluster.store.delete("default", "a")
    bus.wait_for(lambda m: len(m) == 3)
    assert [(e["action"], e["state"]) for e in events(bus.messages, topic_prefix)] == [
        ("add", "ready"), ("update", "terminating"), ("remove", "terminating"),
    ]


def test_kill_9_and_restart_publishes_exactly_the_differences(
    cluster: ApiServer, kubeconfig: Path, mosquitto: Any, probe: Any, topic_prefix: str, tmp_path: Path
) -> None:
    store = cluster.store
    for name in "abcd":
        store.create(show_pod(name))
    args = ["--node", "node-1", "--kubeconfig", str(kubeconfig), "--broker", mosquitto.url,
            "--topic-prefix", topic_prefix, "--snapshot-interval", "0.05"]
    bus = probe(f"{topic_prefix}nodes/node-1/#")
    first = WatcherProcess(*args, log=tmp_path / "first.log")
    try:
        bus.wait_for(lambda m: shown(m, topic_prefix) == list("abcd"), timeout=20)
    finally:
        first.stop(signal.SIGKILL)
    bus.wait_for(lambda m: m[-1].topic.endswith("/status") and m[-1].payload == b"offline")  # the last will
    before = len(bus.messages)

    store.delete("default", "b")  # while the watcher is down
    store.create(show_pod("e"))
    store.update("default", "c", lambda p: p["metadata"]["labels"].update(blinktColor="a81399"))
    second = WatcherProcess(*args, log=tmp_path / "second.log")
    try:
        bus.wait_for(lambda m: shown(m, topic_prefix) == ["a", "c", "d", "e"], timeout=20)
        time.sleep(0.5)  # anything more it would wrongly publish arrives now
    finally:
        assert second.stop() == 0, second.stderr()
    after = events(bus.messages[before:], topic_prefix)
    assert [(e["action"], e["pod"], e["seq"]) for e in after] == [
        ("remove", "b", 5), ("update", "c", 6), ("add", "e", 7),
    ]
    snapshot = last_snapshot(bus.messages, topic_prefix)
    assert snapshot["seq"] == 7
    assert [p["color"] for p in snapshot["pods"]] == ["ffff00", "a81399", "ffff00", "ffff00"]
    status = [m.payload for m in bus.messages[before:] if m.topic.endswith("/status")]
    assert status == [b"online", b"offline"]  # graceful stop says offline itself


def test_relists_and_diffs_after_410(
    cluster: ApiServer, start_watcher: Callable[..., Watcher], probe: Any, topic_prefix: str
) -> None:
    store = cluster.store
    for name in "abc":
        store.create(show_pod(name))
    bus = probe(f"{topic_prefix}nodes/node-1/pods")
    start_watcher()
    bus.wait_for(lambda m: len(m) == 3)
    cluster.stall_watches()  # the watch misses what happens next
    store.delete("default", "a")
    store.create(show_pod("d"))
    store.compact()  # ... and its resourceVersion is gone from history
    cluster.drop_watches()
    bus.wait_for(lambda m: len(m) == 5, timeout=15)
    assert [(e["action"], e["pod"]) for e in events(bus.messages, topic_prefix)[3:]] == [("remove", "a"), ("add", "d")]
    assert cluster.requests.count("list") == 2
    relist = cluster.requests.records("list")[-1]
    assert relist.params.get("resourceVersion", "") == ""  # a consistent read, not the cache


def test_first_list_is_served_from_cache_and_watch_uses_bookmarks_and_jittered_timeout(
    cluster: ApiServer, start_watcher: Callable[..., Watcher]
) -> None:
    watcher = start_watcher()
    assert watcher.wait_synced(10)
    [listing] = cluster.requests.records("list")
    assert listing.params["resourceVersion"] == "0"
    assert listing.params["labelSelector"] == "blinkt=show"
    assert listing.params["fieldSelector"] == "spec.nodeName=node-1"
    watch = cluster.requests.wait_for("watch", 1, timeout=5)[0]
    assert watch.params["allowWatchBookmarks"] == "true"
    assert 5 <= int(watch.params["timeoutSeconds"]) < 10
    wait_until(lambda: watcher.list_watchers[0].stats.bookmarks >= 2, what="two bookmarks")


def test_a_stalled_watch_is_detected_within_two_bookmark_intervals_and_rewatched(
    cluster: ApiServer, start_watcher: Callable[..., Watcher], probe: Any, topic_prefix: str
) -> None:
    bus = probe(f"{topic_prefix}nodes/node-1/pods")
    watcher = start_watcher()  # the default 120 s until it has seen the server's (0.2 s) bookmarks
    assert watcher.wait_synced(10)
    [loop] = watcher.list_watchers
    wait_until(lambda: loop.stall.timeout() == 2.0, what="the bookmark interval learned (2 x 0.2 s, at least 2 s)")
    cluster.stall_watches()  # half-open: the connection stays, nothing arrives, not even bookmarks
    cluster.store.create(show_pod("a"))
    bus.wait_for(lambda m: len(m) == 1, timeout=30)  # stalled after 2 s → re-watch from the last rv
    assert cluster.requests.count("list") == 1
    assert loop.stats.errors["stalled"] == 1


def test_all_nodes_publishes_each_nodes_topics(
    cluster: ApiServer, start_watcher: Callable[..., Watcher], probe: Any, topic_prefix: str
) -> None:
    cluster.store.create(show_pod("a", node="node-1"))
    cluster.store.create(show_pod("b", node="node-2"))
    cluster.store.create(show_pod("unscheduled", node=None, phase="Pending", ready=False))
    bus = probe(f"{topic_prefix}nodes/#")
    start_watcher(nodes=None)
    bus.wait_for(lambda m: shown(m, topic_prefix, "node-1") == ["a"] and shown(m, topic_prefix, "node-2") == ["b"])
    bus.wait_for(lambda m: len([x for x in m if x.topic.endswith("/status")]) == 2)
    statuses = {m.topic: m.payload for m in bus.messages if m.topic.endswith("/status")}
    assert statuses == {f"{topic_prefix}nodes/{n}/status": b"online" for n in ("node-1", "node-2")}
    assert {e["node"] for e in events(bus.messages, topic_prefix, "node-2")} == {"node-2"}


def test_namespaces_limit_what_is_watched(
    cluster: ApiServer, start_watcher: Callable[..., Watcher], probe: Any, topic_prefix: str
) -> None:
    cluster.store.create(show_pod("a", namespace="one"))
    cluster.store.create(show_pod("b", namespace="two"))
    cluster.store.create(show_pod("c", namespace="three"))
    bus = probe(f"{topic_prefix}nodes/node-1/state")
    start_watcher(namespaces=("one", "two"))
    bus.wait_for(lambda m: sorted(shown(m, topic_prefix)) == ["a", "b"])
    assert {r.path for r in cluster.requests.records("list")} == {
        "/api/v1/namespaces/one/pods", "/api/v1/namespaces/two/pods",
    }


def test_waits_for_a_broker_that_is_down_and_heals_one_that_lost_its_retained_state(
    cluster: ApiServer, start_watcher: Callable[..., Watcher], tmp_path: Path, topic_prefix: str
) -> None:
    cluster.store.create(show_pod("a"))
    port = free_port()
    watcher = start_watcher(broker=f"mqtt://127.0.0.1:{port}")  # returns at once; connecting goes on behind
    time.sleep(1.5)  # the watcher is retrying against nothing
    assert not watcher.wait_synced(0) and cluster.requests.count("list") == 0  # nothing listed before seeding
    broker = start_mosquitto(port=port, workdir=tmp_path, persistence=False)
    try:
        assert watcher.wait_synced(20)
        endpoint = BrokerEndpoint("127.0.0.1", port)
        first = Probe(endpoint, f"{topic_prefix}nodes/node-1/+")
        first.wait_for(lambda m: any(x.topic.endswith("/state") for x in m), timeout=10)
        first.close()
        broker.kill()  # no persistence: retained snapshot and status are gone
        broker = start_mosquitto(port=port, workdir=tmp_path, persistence=False)
        second = Probe(endpoint, f"{topic_prefix}nodes/node-1/+")
        second.wait_for(lambda m: {x.topic.rsplit("/", 1)[1] for x in m} >= {"state", "status"}, timeout=15)
        snapshot = decode_snapshot(next(bytes(x.payload) for x in second.messages if x.topic.endswith("/state")))
        assert [p.pod for p in snapshot.pods] == ["a"]
        second.close()
    finally:
        broker.stop()


def test_snapshot_payload_is_the_contract(
    cluster: ApiServer, start_watcher: Callable[..., Watcher], probe: Any, topic_prefix: str
) -> None:
    cluster.store.create(show_pod("a"))
    bus = probe(f"{topic_prefix}nodes/node-1/state")
    start_watcher()
    bus.wait_for(lambda m: len(m) >= 1)
    snapshot = json.loads(bus.messages[-1].payload)
    assert list(snapshot)[:3] == ["v", "node", "seq"]
    assert snapshot["pods"][0].keys() >= {"pod", "namespace", "uid", "color", "state"}
    late = probe(f"{topic_prefix}nodes/node-1/state")
    late.wait_for(lambda m: len(m) == 1 and m[0].retain)
