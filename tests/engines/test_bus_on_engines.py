"""The bus on every engine, with dotted node names: watchers → broker → LED agents and the console's wall;
a watcher killed and restarted; an agent away while its node changes; a 410 relist.

Every check compares what the subscribers show with the API's truth (``api_truth``): the
same pods, colours and states, in any engine, and no pod twice.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

from bus.urls import Brokers
from console.controlling import RunnerControls
from console.executors.simulated import SimulatedExecutor
from console.service import Console
from led_agent.agent import Agent
from sim.apiserver import ApiServer
from sim.clock import VirtualClock
from sim.cluster import Cluster
from sim.kubeconfig import write_kubeconfig
from sim.pods import set_ready
from tests.engines.conftest import StartAgent, StartWatcher
from tests.support.engines import DOTTED_NODES, EngineUnderTest, agent_shows, api_truth, shown_once
from tests.support.waiting import wait_until
from tests.watcher.conftest import WatcherProcess, show_pod

NODES = DOTTED_NODES[:2]
TIMEOUT = 30.0  # generous: a NATS cluster or a RabbitMQ node on two shared cores


def converged(apiserver: ApiServer, agent: Agent, nodes: tuple[str, ...] = NODES) -> bool:
    return all(agent_shows(agent, n) == api_truth(apiserver.store, n) and shown_once(agent, n) for n in nodes)


def wait_converged(apiserver: ApiServer, agent: Agent, what: str, nodes: tuple[str, ...] = NODES) -> None:
    try:
        wait_until(lambda: converged(apiserver, agent, nodes), timeout=TIMEOUT, what=what)
    except AssertionError as e:
        shown = [(n, agent_shows(agent, n), api_truth(apiserver.store, n)) for n in nodes]
        raise AssertionError(f"{e}: shown vs truth {shown}; {agent.counters}") from e


def make_ready(pod: dict[str, Any]) -> dict[str, Any]:
    return set_ready(pod | {"status": pod["status"] | {"phase": "Running"}}, True)


def test_watchers_reach_agents_and_the_wall_on_dotted_nodes(
    engine: EngineUnderTest, apiserver: ApiServer, start_watcher: StartWatcher, start_agent: StartAgent,
    topic_prefix: str,
) -> None:
    store = apiserver.store
    store.create(show_pod("a", node=NODES[0]))
    store.create(show_pod("b", node=NODES[0], phase="Pending", ready=False))
    store.create(show_pod("c", node=NODES[1], color="a81399"))
    agent, _device = start_agent(NODES)  # first, as deployed: see test_a_relist_... for why it matters on NATS
    for node in NODES:
        start_watcher(node)
    wait_converged(apiserver, agent, "first sync")

    store.update("default", "b", make_ready)
    store.update("default", "a", lambda p: p["metadata"]["labels"].update(blinktColor="00ff00"))
    store.delete("default", "c")
    store.create(show_pod("d", node=NODES[1]))
    wait_converged(apiserver, agent, "changes")
    assert agent.counters.bad == {}, agent.counters.bad

    late, _ = start_agent(NODES)  # from the retained snapshots alone
    wait_converged(apiserver, late, "a late agent")
    # Retained statuses and snapshots arrive in the broker's order, not ours (amqtt sends the
    # snapshots first): converged pods do not yet mean every status is in.
    wait_until(lambda: all(late.board.status(node) == "online" for node in NODES), timeout=TIMEOUT,
               what="the late agent's retained statuses")
    _the_wall_shows_the_same(engine.subscribers, apiserver, topic_prefix)


def _the_wall_shows_the_same(brokers: Brokers, apiserver: ApiServer, topic_prefix: str) -> None:
    """The console's wall subscribes to every node by wildcard. Where the broker sends no retained
    messages to wildcards (RabbitMQ) it fetches a node's by exact topic: a node it was told of
    (``--node``) from the start, any other as soon as the node publishes."""
    console = Console(broker=brokers, topic_prefix=topic_prefix, nodes=NODES[:1],
                      controls=RunnerControls(SimulatedExecutor(Cluster(clock=VirtualClock()))))
    console.start()

    def wall() -> dict[str, tuple[str | None, list[str]]]:
        return {n.node: (n.status, sorted(p.key for p in n.pods)) for n in console.wall.view()}

    def wall_shows(nodes: tuple[str, ...]) -> None:
        expected = {node: ("online", sorted(key for key, _c, _s in api_truth(apiserver.store, node))) for node in nodes}
        wait_until(lambda: {n: v for n, v in wall().items() if n in nodes} == expected, timeout=TIMEOUT,
                   what=f"the wall: {wall()} != {expected}")

    try:
        wall_shows(NODES[:1])
        apiserver.store.create(show_pod("e", node=NODES[1]))  # the other node publishes: the wall learns of it
        wall_shows(NODES)
    finally:
        console.stop()


def test_a_watcher_killed_and_restarted_continues_and_an_agent_away_catches_up(
    engine: EngineUnderTest, apiserver: ApiServer, start_agent: StartAgent, topic_prefix: str, tmp_path: Path
) -> None:
    store, node = apiserver.store, NODES[0]
    for name in "abc":
        store.create(show_pod(name, node=node))
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", apiserver.url)
    args = ["--node", node, "--kubeconfig", str(kubeconfig), "--broker", ",".join(engine.urls),
            "--topic-prefix", topic_prefix, "--snapshot-interval", "0.05", "--watch-read-timeout", "5"]
    agent, _ = start_agent([node], agent_id=f"away-{topic_prefix.rstrip('/')}")
    first = WatcherProcess(*args, log=tmp_path / "first.log")
    try:
        wait_converged(apiserver, agent, "the first watcher", (node,))
    finally:
        first.stop(signal.SIGKILL)
    wait_until(lambda: agent.board.status(node) == "offline", timeout=TIMEOUT, what="the last will")

    store.delete("default", "b")  # while no watcher runs
    store.update("default", "c", lambda p: p["metadata"]["labels"].update(blinktColor="a81399"))
    second = WatcherProcess(*args, log=tmp_path / "second.log")
    try:
        wait_converged(apiserver, agent, "the restarted watcher", (node,))
        assert agent.board.status(node) == "online"
        agent.stop()  # away, its session kept by the broker, while the node changes
        store.create(show_pod("d", node=node))
        store.update("default", "a", make_ready)
        back, _ = start_agent([node], agent_id=agent.config.agent_id)
        wait_converged(apiserver, back, "the agent back", (node,))
        assert back.counters.bad == {}
    finally:
        assert second.stop() == 0, second.stderr()
    assert "Traceback" not in second.stderr(), second.stderr()


def test_a_relist_after_410_reaches_the_agents(
    apiserver: ApiServer, start_watcher: StartWatcher, start_agent: StartAgent
) -> None:
    store = apiserver.store
    for name, node in (("a", NODES[0]), ("b", NODES[0]), ("c", NODES[1])):
        store.create(show_pod(name, node=node))
    # The agent first: on a NATS cluster a subscriber that joins on another server while a retained
    # message is being published there can miss it both ways (not yet in the retained store, interest
    # not yet routed) and shows the node only at its next snapshot (docs/operations.md, "Brokers").
    agent, _ = start_agent(NODES)
    start_watcher(None)  # one --all-nodes watcher this time
    wait_converged(apiserver, agent, "first sync")
    apiserver.stall_watches()  # the watch misses what happens next ...
    store.delete("default", "a")
    store.create(show_pod("d", node=NODES[1]))
    store.compact()  # ... and its resourceVersion is gone: 410, relist, diff
    apiserver.drop_watches()
    wait_converged(apiserver, agent, "after the relist")
    assert apiserver.requests.count("list") >= 2
