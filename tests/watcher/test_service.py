"""The watcher service in-process with a real Mosquitto: malformed pods, the degraded status, probes and metrics.

The API side is the simulated API server where it can be (faults steer it), and a
scripted source where the API server would refuse the object (a pod whose name is a
number cannot be stored, but a broken or hostile server can send one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from broker.launching import free_port, start_mosquitto
from bus.health import HealthServer
from bus.topics import Topics
from bus.urls import parse_broker_url
from sim.apiserver import ApiServer
from tests.support.brokers import BrokerEndpoint
from tests.support.clocks import FakeClock
from tests.support.http import http_get
from tests.support.probes import Probe
from tests.support.waiting import wait_until
from watcher.service import Watcher, WatcherConfig

from .conftest import Nodes, metric, payloads, retained_messages, show_pod
from .pods import raw_pod
from .scripts import Listed, ScriptedSource, Watched

Messages = list[Any]


def statuses(messages: Messages) -> dict[str, bytes]:
    """The last status per topic."""
    return {m.topic: m.payload for m in messages if m.topic.endswith("/status")}


def pods_shown(messages: Messages, topic: str) -> list[str]:
    return [e["pod"] for e in payloads(messages, topic)]


@pytest.fixture
def served() -> Iterator[Callable[[Watcher], str]]:
    servers: list[HealthServer] = []

    def serve(watcher: Watcher) -> str:
        servers.append(HealthServer(watcher, port=0, host="127.0.0.1").start())
        return servers[-1].url

    yield serve
    for server in servers:
        server.stop()


# -- malformed pods: one validation, skipped and counted, the watch goes on -------------------


def numbered(name: str) -> dict[str, Any]:
    pod = raw_pod(name)
    pod["metadata"]["name"] = 42
    return pod


def test_a_pod_whose_name_is_a_number_is_skipped_and_counted_and_the_watch_goes_on(
    mosquitto: BrokerEndpoint, probe: Callable[[str], Probe], topic_prefix: str
) -> None:
    """The issue's bug: the second replace of the old code raised out of the loop and the thread died."""
    bus = probe(f"{topic_prefix}nodes/node-1/pods")
    later = raw_pod("d")
    later["metadata"]["resourceVersion"] = "12"
    source = ScriptedSource([
        Listed([raw_pod("a"), numbered("b")], "10"),
        Watched([("ADDED", numbered("c")), ("ADDED", later)]),
    ], FakeClock())
    config = WatcherConfig(broker=parse_broker_url(mosquitto.url), nodes=frozenset({"node-1"}),
                           topics=Topics(topic_prefix), snapshot_interval=0.05)
    watcher = Watcher(config, source)
    watcher.start()
    try:
        bus.wait_for(lambda m: pods_shown(m, f"{topic_prefix}nodes/node-1/pods") == ["a", "d"])
        assert watcher.malformed_pods == 2  # one in the list, one in a watch event
        [loop] = watcher.list_watchers
        assert sum(loop.stats.errors.values()) == 0  # skipped, not an error of the loop
        assert watcher.health().live and all(t.is_alive() for t in watcher.threads if t.name != "start")
        values = {m.name: m.samples for m in watcher.metrics()}
        assert values["shinealight_watcher_malformed_pods"] == (({}, 2),)
    finally:
        watcher.stop()


def test_malformed_pods_from_the_api_server_are_skipped_on_the_wire(
    cluster: ApiServer, start_watcher: Callable[..., Watcher], probe: Callable[[str], Probe], topic_prefix: str
) -> None:
    """A pod the store accepts but the watcher cannot read (conditions not a list): in the list and in an event."""
    garbage = show_pod("bad")
    garbage["status"]["conditions"] = "Ready"
    cluster.store.create(show_pod("a"))
    cluster.store.create(garbage)
    bus = probe(f"{topic_prefix}nodes/node-1/pods")
    watcher = start_watcher()
    bus.wait_for(lambda m: pods_shown(m, f"{topic_prefix}nodes/node-1/pods") == ["a"])
    cluster.store.update("default", "a", lambda p: p["status"].update(conditions={"Ready": "True"}))
    cluster.store.create(show_pod("c"))
    bus.wait_for(lambda m: pods_shown(m, f"{topic_prefix}nodes/node-1/pods") == ["a", "c"])
    assert watcher.malformed_pods == 2
    assert cluster.requests.count("list") == 1  # not an error, no relist


# -- the degraded status -----------------------------------------------------------------


def test_a_node_says_degraded_while_its_watcher_cannot_reach_the_api_and_online_when_it_can(
    cluster: ApiServer, start_watcher: Callable[..., Watcher], probe: Callable[[str], Probe], topic_prefix: str,
    served: Callable[[Watcher], str],
) -> None:
    cluster.store.create(show_pod("a"))
    status = f"{topic_prefix}nodes/node-1/status"
    bus = probe(status)
    watcher = start_watcher(degraded_after=0.5)
    url = served(watcher)
    assert watcher.wait_synced(10)
    wait_until(lambda: http_get(url + "/readyz")[0] == 200, what="ready")
    cluster.faults.fail_next(100_000, status=500, kind="any")
    cluster.drop_watches()
    bus.wait_for(lambda m: statuses(m).get(status) == b"degraded", timeout=15)
    code, body = http_get(url + "/readyz")
    assert code == 503 and "pods in all: not watching" in body
    assert http_get(url + "/healthz")[0] == 200  # alive: the loops run, they just cannot reach the API
    text = http_get(url + "/metrics")[1]
    assert metric(text, "shinealight_watcher_degraded") == 1 and metric(text, "shinealight_watcher_api_connected") == 0
    assert 'shinealight_watcher_api_errors_total{kind="rejected"}' in text
    cluster.faults.clear()
    bus.wait_for(lambda m: statuses(m).get(status) == b"online", timeout=20)
    assert [m.payload for m in bus.messages] == [b"online", b"degraded", b"online"]
    wait_until(lambda: http_get(url + "/readyz")[0] == 200, what="ready again")


def test_an_all_nodes_watcher_says_degraded_for_every_node_it_announced(
    cluster: ApiServer, start_watcher: Callable[..., Watcher], probe: Callable[[str], Probe], topic_prefix: str
) -> None:
    cluster.store.create(show_pod("a", node="node-1"))
    cluster.store.create(show_pod("b", node="node-2"))
    bus = probe(f"{topic_prefix}#")
    watcher = start_watcher(nodes=None, degraded_after=0.5)
    own = f"{topic_prefix}watchers/{watcher.watcher_id}/status"
    topics = [f"{topic_prefix}nodes/node-1/status", f"{topic_prefix}nodes/node-2/status", own]
    bus.wait_for(lambda m: [statuses(m).get(t) for t in topics] == [b"online"] * 3)
    cluster.faults.fail_next(100_000, status=503, kind="any", retry_after=None)
    cluster.drop_watches()
    bus.wait_for(lambda m: [statuses(m).get(t) for t in topics] == [b"degraded"] * 3, timeout=15)
    cluster.faults.clear()
    bus.wait_for(lambda m: [statuses(m).get(t) for t in topics] == [b"online"] * 3, timeout=20)


def retained(endpoint: BrokerEndpoint, topic: str) -> list[bytes]:
    """What a fresh subscriber gets retained on ``topic`` (waits up to a second for it)."""
    return list(retained_messages(endpoint, topic).values())


def test_a_broker_that_returns_while_the_api_is_down_hears_degraded_not_online(
    cluster: ApiServer, start_watcher: Callable[..., Watcher], tmp_path: Path, topic_prefix: str
) -> None:
    """On every connect the connection says ``online`` by itself; the watcher corrects it at once."""
    port = free_port()
    broker = start_mosquitto(port=port, workdir=tmp_path, persistence=False)
    try:
        watcher = start_watcher(broker=f"mqtt://127.0.0.1:{port}", degraded_after=0.5)
        assert watcher.wait_synced(10)
        cluster.faults.fail_next(100_000, status=500, kind="any")
        cluster.drop_watches()
        wait_until(lambda: watcher.status == b"degraded", timeout=15, what="degraded")
        broker.kill()
        broker = start_mosquitto(port=port, workdir=tmp_path, persistence=False)  # its retained state is gone
        endpoint = BrokerEndpoint("127.0.0.1", port)
        wait_until(lambda: watcher.connection.connects == 2, timeout=40, what="the watcher reconnected")
        wait_until(lambda: retained(endpoint, f"{topic_prefix}nodes/node-1/status") == [b"degraded"], timeout=20,
                   what="a device that starts now is told degraded")
    finally:
        broker.stop()


# -- nodes that leave ------------------------------------------------------------------------


def test_an_empty_node_the_cluster_no_longer_has_is_cleared(
    cluster: ApiServer, start_watcher: Callable[..., Watcher], mosquitto: BrokerEndpoint, topic_prefix: str
) -> None:
    cluster.store.create(show_pod("a"))
    nodes = Nodes("node-1")
    watcher = start_watcher(node_source=nodes, node_check_interval=0.1)
    assert watcher.wait_synced(10)
    cluster.store.delete("default", "a")  # empty, and still in the cluster
    wait_until(lambda: len(nodes.asked) >= 3, what="a few checks")
    assert set(nodes.asked) == {"node-1"}, "a node watcher asks about its own node only"
    assert len(retained_messages(mosquitto, f"{topic_prefix}nodes/#")) == 2 and watcher.stats.nodes_cleared == 0
    nodes.names.clear()
    wait_until(lambda: watcher.stats.nodes_cleared == 1, what="cleared")
    assert retained_messages(mosquitto, f"{topic_prefix}nodes/#") == {}
    watcher.stop()
    assert retained_messages(mosquitto, f"{topic_prefix}nodes/#") == {}, "no offline for a node that is gone"
    assert {m.name: m.samples for m in watcher.metrics()}["shinealight_watcher_nodes_cleared"] == (({}, 1),)


def test_a_node_watcher_stopped_because_its_node_is_deleted_clears_instead_of_saying_offline(
    cluster: ApiServer, start_watcher: Callable[..., Watcher], mosquitto: BrokerEndpoint, topic_prefix: str,
    probe: Callable[[str], Probe],
) -> None:
    """The DaemonSet case: the node goes, its pods with it, the watcher is told to stop before it saw them go."""
    cluster.store.create(show_pod("a"))
    nodes = Nodes("node-1")
    watcher = start_watcher(node_source=nodes, homeassistant=True, homeassistant_prefix=f"{topic_prefix}ha")
    assert watcher.wait_synced(10)
    wait_until(lambda: len(retained_messages(mosquitto, f"{topic_prefix}#")) == 7, what="state, status, 5 configs")
    status = probe(f"{topic_prefix}nodes/node-1/status")
    nodes.names.clear()
    watcher.stop()
    assert retained_messages(mosquitto, f"{topic_prefix}#") == {}
    assert nodes.asked == ["node-1"], "asked once, at the stop, about its own node only"
    with pytest.raises(AssertionError):  # a disconnect with the clears still in flight would bring it
        status.wait_for(lambda m: any(x.payload == b"offline" for x in m), timeout=1)


def test_a_node_that_is_still_there_says_offline_at_the_stop(
    cluster: ApiServer, start_watcher: Callable[..., Watcher], mosquitto: BrokerEndpoint, topic_prefix: str
) -> None:
    nodes = Nodes("node-1")
    watcher = start_watcher(node_source=nodes, node_check_interval=0.1)
    assert watcher.wait_synced(10)
    wait_until(lambda: len(nodes.asked) >= 2, what="an empty node is asked about")
    watcher.stop()
    status = f"{topic_prefix}nodes/node-1/status"
    assert retained_messages(mosquitto, status) == {status: b"offline"}
    assert watcher.stats.nodes_cleared == 0


def test_without_the_right_to_list_nodes_nothing_is_cleared_and_the_failures_are_counted(
    cluster: ApiServer, start_watcher: Callable[..., Watcher], mosquitto: BrokerEndpoint, topic_prefix: str,
    served: Callable[[Watcher], str],
) -> None:
    nodes = Nodes()
    nodes.forbidden = True
    watcher = start_watcher(node_source=nodes, node_check_interval=0.1)
    url = served(watcher)
    assert watcher.wait_synced(10)
    wait_until(lambda: len(nodes.asked) >= 3, what="a few checks")
    assert metric(http_get(url + "/metrics")[1], "shinealight_watcher_node_check_errors_total") >= 3
    watcher.stop()
    status = f"{topic_prefix}nodes/node-1/status"
    assert retained_messages(mosquitto, status) == {status: b"offline"}
    assert watcher.stats.nodes_cleared == 0


def test_no_checks_with_an_interval_of_zero(cluster: ApiServer, start_watcher: Callable[..., Watcher]) -> None:
    nodes = Nodes("node-1")
    watcher = start_watcher(nodes=None, node_source=nodes, node_check_interval=0)
    assert watcher.wait_synced(10)
    assert "nodes" not in [t.name for t in watcher.threads]
    watcher.stop()
    assert nodes.asked == [], "an --all-nodes watcher does not ask at the stop either"
