"""The ``engine`` fixture: every test here runs once per MQTT engine (``tests/support/engines.py``), plus the
parts those tests start on it: watchers (on the suite's ``apiserver``) and LED agents."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest

from broker.engines import ENGINES, available, start_engine
from broker.launching import BrokerStartError
from bus.topics import Topics
from led_agent.agent import Agent, AgentConfig
from sim.apiserver import ApiServer
from tests.support.engines import EngineUnderTest
from tests.support.kube import pod_api
from tests.support.replaying import FrameRecorder
from watcher.service import Watcher, WatcherConfig


@pytest.fixture(scope="session", params=ENGINES)
def engine(request: pytest.FixtureRequest) -> Iterator[EngineUnderTest]:
    kind: str = request.param
    if kind == "mosquitto":
        yield EngineUnderTest(kind, (request.getfixturevalue("mosquitto").url,))
        return
    if not available(kind):
        pytest.fail(f"the {kind} engine is not installed here (.ci/run installs it: see broker/engines.py)")
    try:
        running = start_engine(kind)
    except BrokerStartError as e:
        pytest.fail(f"the {kind} engine did not start: {e}")
    try:
        yield EngineUnderTest(kind, running.urls, running)
    finally:
        running.stop()


StartWatcher = Callable[..., Watcher]
StartAgent = Callable[..., tuple[Agent, FrameRecorder]]


@pytest.fixture
def start_watcher(engine: EngineUnderTest, apiserver: ApiServer, topic_prefix: str) -> Iterator[StartWatcher]:
    watchers: list[Watcher] = []

    def start(node: str | None, **overrides: Any) -> Watcher:
        config = WatcherConfig(broker=engine.publishers, nodes=frozenset({node}) if node else None,
                               topics=Topics(topic_prefix), snapshot_interval=0.05, min_watch_timeout=5, **overrides)
        watcher = Watcher(config, pod_api(apiserver))
        watchers.append(watcher)
        watcher.start()
        assert watcher.wait_synced(20), f"the watcher of {node} never synced on {engine.kind}"
        return watcher

    yield start
    for watcher in watchers:
        watcher.stop()


@pytest.fixture
def start_agent(engine: EngineUnderTest, topic_prefix: str) -> Iterator[StartAgent]:
    agents: list[Agent] = []

    def start(nodes: Sequence[str], *, agent_id: str | None = None, leds: int = 8) -> tuple[Agent, FrameRecorder]:
        device = FrameRecorder()
        config = AgentConfig(broker=engine.subscribers, nodes=tuple(nodes), leds=leds, topics=Topics(topic_prefix),
                             agent_id=agent_id or f"agent-{uuid.uuid4().hex[:8]}")
        agent = Agent(config, device)
        agents.append(agent)
        agent.start()
        assert agent.connection.wait_connected(20), f"the agent never connected to {engine.kind}"
        return agent, device

    yield start
    for agent in agents:
        agent.stop()
