"""A 3-server NATS cluster loses a server to SIGKILL in the middle of a rolling upgrade.

Watchers (one per node, as the DaemonSet runs them) publish through the first server,
LED agents (one per node) subscribe through the second; each has the whole cluster as
its failover list. Killing the watchers' server moves the publishers: they republish
their snapshots on the next server, and QoS 1 events paho held while no server
answered go there too. Killing the agents' server moves the subscribers to a server
that has their session. Either way every agent must end on the API's truth (every v2
pod, ready, in its colour), nothing lost, and no pod may ever be shown twice.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from bus.topics import Topics
from led_agent.agent import Agent
from sim.apiserver import ApiServer
from sim.clock import RealClock
from sim.cluster import Cluster
from sim.rollout import RollingUpdate
from tests.engines.conftest import StartAgent, StartWatcher
from tests.sim.history import V1, V2
from tests.support.engines import DOTTED_NODES, EngineUnderTest, agent_shows, api_truth, shown_once
from tests.support.waiting import wait_until

SPEED = 8.0  # cluster seconds per real second
REPLICAS = 6
TIMEOUT = 60.0


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    cluster = Cluster(nodes=DOTTED_NODES, clock=RealClock(speed=SPEED), tick=0.02, seed="nats")
    cluster.apply_deployment("whoami", replicas=REPLICAS, pod_labels=V1, strategy=RollingUpdate(1, 0))
    ticking = cluster.start()
    try:
        yield cluster
    finally:
        ticking.stop()


@pytest.fixture
def apiserver(cluster: Cluster) -> Iterator[ApiServer]:  # the suite's, over the simulated cluster's store
    server = ApiServer(cluster.store, bookmark_interval=0.2).start()
    try:
        yield server
    finally:
        server.stop()


class TwiceWatch:
    """Samples every agent's lists every 10 ms while the rollout runs: a key twice is a failure."""

    def __init__(self, agents: dict[str, Agent]) -> None:
        self.doubles: list[tuple[str, list[str]]] = []
        self._agents = agents
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            for node, agent in self._agents.items():
                if not shown_once(agent, node):
                    self.doubles.append((node, [e.key for e in agent.board.entries(node)]))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.mark.parametrize("engine", ["nats"], indirect=True)
@pytest.mark.parametrize("victim", [0, 1], ids=["watchers-server", "agents-server"])
def test_a_server_killed_during_a_rolling_upgrade_loses_nothing(
    engine: EngineUnderTest, cluster: Cluster, apiserver: ApiServer, start_watcher: StartWatcher,
    start_agent: StartAgent, topic_prefix: str, victim: int,
) -> None:
    from broker.nats_cluster import NatsCluster

    nats = engine.engine
    assert isinstance(nats, NatsCluster)
    agents = {node: start_agent([node])[0] for node in DOTTED_NODES}
    for node in DOTTED_NODES:
        start_watcher(node)

    def converged() -> bool:
        return all(agent_shows(agent, node) == api_truth(apiserver.store, node) for node, agent in agents.items())

    wait_until(lambda: cluster.deployment_status("whoami").settled and converged(), timeout=TIMEOUT,
               what="v1 shown everywhere")
    twice = TwiceWatch(agents)
    try:
        cluster.apply_deployment("whoami", replicas=REPLICAS, pod_labels=V2, strategy=RollingUpdate(1, 0))
        wait_until(lambda: sum(v == V2["version"] for v in _versions(apiserver)) >= 2, timeout=TIMEOUT,
                   what="the rollout under way")
        nats.kill(victim)
        wait_until(lambda: cluster.deployment_status("whoami").settled, timeout=TIMEOUT, what="the rollout done")
        wait_until(converged, timeout=TIMEOUT,
                   what=f"every agent on the truth: {[(n, agent_shows(a, n)) for n, a in agents.items()]}")
    finally:
        twice.stop()
        nats.restart(victim)  # the next test gets the whole cluster again
    assert twice.doubles == []
    assert set(_versions(apiserver)) == {V2["version"]} and len(_versions(apiserver)) == REPLICAS
    for node, agent in agents.items():
        assert agent.counters.bad == {}, (node, agent.counters.bad)
        assert agent.board.status(node) == "online"
        assert all(color == V2["blinktColor"] and state == "ready" for _k, color, state in agent_shows(agent, node))
    moved = [a for a in agents.values() if a.connection.connects > 1]
    assert (len(moved) == len(agents)) if victim == 1 else not moved  # only the victim's clients moved
    assert Topics(topic_prefix).state(DOTTED_NODES[0]).count(".") == 0


def _versions(apiserver: ApiServer) -> list[str]:
    pods = apiserver.store.select()[0]
    return [p["metadata"]["labels"]["version"] for p in pods if not p["metadata"].get("deletionTimestamp")]
