"""Home Assistant discovery (watcher/homeassistant.py): tables, and Home Assistant's own verdict.

Home Assistant is not installed beside the project; its MQTT integration is, in a venv
of its own (``tests/watcher/homeassistant/ensure-homeassistant``), and judges every
config the watcher would publish: the discovery topic, the sensor's ``DISCOVERY_SCHEMA``,
and the templates rendered by Home Assistant's template engine against real snapshots
and statuses. The test is skipped, with the reason printed, only when that venv cannot
be built here. On the wire, the watcher runs against the simulated cluster and the real
Mosquitto, and what a fresh subscriber finds retained is what Home Assistant is asked about.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bus.messages import NodeSnapshot, PodEntry, PodState
from bus.topics import TopicError, Topics
from sim.apiserver import ApiServer
from tests.support.brokers import BrokerEndpoint
from tests.support.probes import Probe
from tests.support.waiting import wait_until
from watcher.homeassistant import SENSOR_KEYS, Discovery, validate_discovery_prefix
from watcher.service import Watcher

from .conftest import Nodes, retained_messages, show_pod

HERE = Path(__file__).parent / "homeassistant"
ID_LEVEL = re.compile(r"^[a-zA-Z0-9_-]+$")


def snapshot(*states: PodState) -> bytes:
    pods = tuple(PodEntry(pod=f"p{i}", namespace="default", state=s) for i, s in enumerate(states))
    return NodeSnapshot(node="node-1", seq=len(pods), ts="2026-11-27T00:00:00.000Z", pods=pods).to_payload()


def configs(discovery: Discovery, node: str) -> dict[str, dict[str, Any]]:
    return {topic.split("/")[-2]: json.loads(payload) for topic, payload in discovery.configs(node)}


# -- tables ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("prefix", "node", "object_id"), [
    ("", "node-1", "shinealight_node-1"),
    ("sal/", "node-1", "shinealight_sal_node-1"),
    ("lab/lights/", "ip-10-0-0-1.ec2.internal", "shinealight_lab_lights_ip-10-0-0-1_ec2_internal"),
])
def test_object_ids_are_what_home_assistant_allows_and_name_the_topic_prefix(prefix: str, node: str,
                                                                           object_id: str) -> None:
    discovery = Discovery(Topics(prefix))
    assert discovery.object_id(node) == object_id
    for topic, _ in discovery.configs(node):
        component, object_level, key, config = topic.split("/")[1:]
        assert (component, object_level, config) == ("sensor", object_id, "config") and ID_LEVEL.match(key)


def test_each_node_is_one_device_with_unique_entities() -> None:
    discovery = Discovery(Topics("sal/"))
    one, two = configs(discovery, "node-1"), configs(discovery, "node-2")
    assert set(one) == set(SENSOR_KEYS) == {"pods", "ready", "pending", "unready", "status"}
    assert {json.dumps(c["device"]) for c in one.values()} == {json.dumps(one["pods"]["device"])}
    assert one["pods"]["device"]["identifiers"] != two["pods"]["device"]["identifiers"]
    ids = [c["unique_id"] for c in [*one.values(), *two.values()]]
    assert len(ids) == len(set(ids))


def test_counts_read_the_snapshot_and_are_available_while_the_node_is_online() -> None:
    discovery = Discovery(Topics("sal/"))
    for key, config in configs(discovery, "node-1").items():
        if key == "status":
            assert config["state_topic"] == "sal/nodes/node-1/status" and "availability" not in config
            continue
        assert config["state_topic"] == "sal/nodes/node-1/state"
        assert [a["topic"] for a in config["availability"]] == ["sal/nodes/node-1/status"]


def test_an_all_nodes_watchers_entities_also_follow_its_own_status() -> None:
    discovery = Discovery(Topics(), watcher_status="watchers/watcher-all-1/status")
    for key, config in configs(discovery, "node-1").items():
        topics = [a["topic"] for a in config["availability"]]
        expected = ["watchers/watcher-all-1/status"] if key == "status" else ["nodes/node-1/status",
                                                                             "watchers/watcher-all-1/status"]
        assert topics == expected


def test_removals_empty_every_config_topic() -> None:
    discovery = Discovery(Topics("sal/"), prefix="ha")
    removals = discovery.removals("node-1")
    assert [t for t, _ in removals] == [t for t, _ in discovery.configs("node-1")]
    assert {p for _, p in removals} == {b""}
    assert all(t.startswith("ha/sensor/") for t, _ in removals)


@pytest.mark.parametrize("prefix", ["homeassistant", "ha", "home/assistant"])
def test_discovery_prefixes(prefix: str) -> None:
    assert validate_discovery_prefix(prefix) == prefix


@pytest.mark.parametrize("prefix", ["", "/ha", "ha/", "ha/#", "ha/+/x", "h\0a", "home.assistant", "home assistant"])
def test_bad_discovery_prefixes(prefix: str) -> None:
    with pytest.raises(TopicError):
        validate_discovery_prefix(prefix)


# -- Home Assistant's verdict -----------------------------------------------------------------


def judged(python: str, discovery: Discovery, configs: list[tuple[str, bytes]], states: dict[str, list[bytes]],
           availability: list[bytes]) -> list[dict[str, Any]]:
    request = {"prefix": discovery.prefix, "configs": [(t, p.decode()) for t, p in configs],
               "states": {t: [p.decode() for p in ps] for t, ps in states.items()},
               "availability": [p.decode() for p in availability]}
    done = subprocess.run([python, str(HERE / "check_discovery.py")], input=json.dumps(request),
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize("watcher_status", [None, "sal/watchers/watcher-all-1/status"])
def test_home_assistant_accepts_every_config_and_counts_as_the_snapshot_says(home_assistant: str,
                                                                           watcher_status: str | None) -> None:
    discovery = Discovery(Topics("sal/"), watcher_status=watcher_status)
    node = "ip-10-0-0-1.ec2.internal"
    ready, pending, unready, terminating = PodState.READY, PodState.PENDING, PodState.UNREADY, PodState.TERMINATING
    snapshots = [snapshot(), snapshot(ready, pending, ready, unready, terminating, ready)]
    statuses = [b"online", b"degraded", b"offline", b""]
    states = {Topics("sal/").state(node): snapshots, Topics("sal/").status(node): statuses}
    verdicts = {v["topic"].split("/")[-2]: v for v in judged(home_assistant, discovery, discovery.configs(node),
                                                             states, statuses)}
    assert set(verdicts) == set(SENSOR_KEYS)
    for verdict in verdicts.values():
        assert (verdict["matched"], verdict["component"], verdict["error"]) == (True, "sensor", None), verdict
        assert verdict["device"]["name"] == node
    counts = {key: verdicts[key]["values"] for key in ("pods", "ready", "pending", "unready")}
    assert counts == {"pods": ["0", "6"], "ready": ["0", "3"], "pending": ["0", "1"], "unready": ["0", "1"]}
    assert verdicts["status"]["values"] == ["online", "degraded", "offline", ""]
    unavailable_unless_online = ["online", "offline", "offline", "offline"]
    for key in ("pods", "ready", "pending", "unready"):
        expected = {Topics("sal/").status(node): unavailable_unless_online}
        if watcher_status:
            expected[watcher_status] = unavailable_unless_online
        assert verdicts[key]["availability"] == expected
        assert verdicts[key]["availability_mode"] == "all"


def test_home_assistant_is_not_lenient(home_assistant: str) -> None:
    """The check can fail: a wrong type, an unknown state class, a topic Home Assistant would not read."""
    discovery = Discovery(Topics())
    [(topic, payload), *_] = discovery.configs("node-1")
    config = json.loads(payload)
    broken = [(topic, json.dumps({**config, "qos": "high"}).encode()),
              (topic, json.dumps({**config, "state_class": "sometimes"}).encode()),
              (topic.replace("shinealight_node-1", "shinealight.node-1"), payload)]
    verdicts = judged(home_assistant, discovery, broken, {}, [])
    assert [v["error"] is not None for v in verdicts[:2]] == [True, True]
    assert not verdicts[2]["matched"]


# -- on the wire ----------------------------------------------------------------------------


def test_no_discovery_unless_asked_for(cluster: ApiServer, start_watcher: Callable[..., Watcher],
                                       mosquitto: BrokerEndpoint, topic_prefix: str) -> None:
    cluster.store.create(show_pod("a"))
    assert start_watcher(homeassistant_prefix=f"{topic_prefix}homeassistant").wait_synced(10)
    assert retained_messages(mosquitto, f"{topic_prefix}homeassistant/#") == {}


def test_discovery_is_retained_and_home_assistant_reads_the_counts_and_availability_off_the_wire(
    cluster: ApiServer, start_watcher: Callable[..., Watcher], mosquitto: BrokerEndpoint,
    probe: Callable[[str], Probe], topic_prefix: str, home_assistant: str,
) -> None:
    prefix, topics = f"{topic_prefix}homeassistant", Topics(topic_prefix)
    cluster.store.create(show_pod("a"))
    cluster.store.create(show_pod("b", phase="Pending", ready=False))
    statuses = probe(topics.status("node-1"))
    watcher = start_watcher(homeassistant=True, homeassistant_prefix=prefix, degraded_after=0.5)
    expected = sorted(t for t, _ in Discovery(topics, prefix).configs("node-1"))
    wait_until(lambda: sorted(retained_messages(mosquitto, f"{prefix}/#")) == expected, what="five configs retained")
    configs = retained_messages(mosquitto, f"{prefix}/#")
    cluster.faults.fail_next(100_000, status=500, kind="any")  # the API goes away, and comes back
    cluster.drop_watches()
    statuses.wait_for(lambda m: [x.payload for x in m][-1:] == [b"degraded"], timeout=15)
    cluster.faults.clear()
    statuses.wait_for(lambda m: [x.payload for x in m][-1:] == [b"online"], timeout=20)
    watcher.stop()
    statuses.wait_for(lambda m: [x.payload for x in m][-1:] == [b"offline"])
    seen = [bytes(x.payload) for x in statuses.messages]
    assert seen == [b"online", b"degraded", b"online", b"offline"]
    snapshot = retained_messages(mosquitto, topics.state("node-1"))[topics.state("node-1")]
    verdicts = {v["topic"].split("/")[-2]: v for v in judged(
        home_assistant, Discovery(topics, prefix), list(configs.items()), {topics.state("node-1"): [snapshot],
                                                                            topics.status("node-1"): seen}, seen)}
    assert all(v["error"] is None and v["matched"] for v in verdicts.values()), verdicts
    assert [verdicts[k]["values"] for k in ("pods", "ready", "pending")] == [["2"], ["1"], ["1"]]
    assert verdicts["pods"]["availability"] == {topics.status("node-1"): ["online", "offline", "online", "offline"]}
    assert verdicts["status"]["values"] == ["online", "degraded", "online", "offline"]


def test_an_all_nodes_watcher_announces_each_node_once_and_follows_its_own_status(
    cluster: ApiServer, start_watcher: Callable[..., Watcher], mosquitto: BrokerEndpoint,
    probe: Callable[[str], Probe], topic_prefix: str,
) -> None:
    prefix = f"{topic_prefix}homeassistant"
    cluster.store.create(show_pod("a", node="node-1"))
    bus = probe(f"{prefix}/#")
    watcher = start_watcher(nodes=None, homeassistant=True, homeassistant_prefix=prefix)
    assert watcher.wait_synced(10)
    cluster.store.create(show_pod("b", node="node-2"))
    for name in "cde":
        cluster.store.create(show_pod(name, node="node-1"))
    state = f"{topic_prefix}nodes/node-1/state"
    wait_until(lambda: len(json.loads(retained_messages(mosquitto, state).get(state, b"{}")).get("pods", [])) == 4,
               what="the last snapshot out")
    configs = retained_messages(mosquitto, f"{prefix}/#")  # its marker reaches `bus` after all the watcher sent
    bus.wait_for(lambda m: m[-1].topic.startswith(f"{prefix}/probe-marker-"))
    assert {t.split("/")[3] for t in configs} == {f"shinealight_{topic_prefix[:-1]}_node-1",
                                                  f"shinealight_{topic_prefix[:-1]}_node-2"}
    own = f"{topic_prefix}watchers/{watcher.watcher_id}/status"
    assert all(own in [a["topic"] for a in json.loads(c)["availability"]] for c in configs.values())
    sent = [m.topic for m in bus.messages if m.topic.endswith("/config")]
    assert sorted(sent) == sorted(configs), "once per node, not per event or snapshot"


def test_configs_are_removed_when_the_node_leaves_and_come_back_with_it(
    cluster: ApiServer, start_watcher: Callable[..., Watcher], mosquitto: BrokerEndpoint, topic_prefix: str,
) -> None:
    prefix, topics, nodes = f"{topic_prefix}homeassistant", Topics(topic_prefix), Nodes("node-1", "node-2")
    cluster.store.create(show_pod("a", node="node-1"))
    cluster.store.create(show_pod("b", node="node-2"))
    watcher = start_watcher(nodes=None, node_source=nodes, node_check_interval=0.1, homeassistant=True,
                            homeassistant_prefix=prefix)
    assert watcher.wait_synced(10)
    wait_until(lambda: len(retained_messages(mosquitto, f"{prefix}/#")) == 10, what="both nodes announced")
    nodes.names.discard("node-2")  # kubectl delete node node-2: its pods go with it
    cluster.store.delete("default", "b")
    wait_until(lambda: watcher.stats.nodes_cleared == 1, what="node-2 cleared")
    left = retained_messages(mosquitto, f"{prefix}/#")
    assert {t.split("/")[3] for t in left} == {f"shinealight_{topic_prefix[:-1]}_node-1"} and len(left) == 5
    assert set(retained_messages(mosquitto, f"{topic_prefix}nodes/#")) == {topics.state("node-1"),
                                                                          topics.status("node-1")}
    nodes.names.add("node-2")  # it joins again, and a pod lands on it
    cluster.store.create(show_pod("c", node="node-2"))
    wait_until(lambda: len(retained_messages(mosquitto, f"{prefix}/#")) == 10, what="node-2 announced again")
    assert retained_messages(mosquitto, topics.status("node-2")) == {topics.status("node-2"): b"online"}
