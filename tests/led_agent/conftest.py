"""Fixtures of the LED agent's tests: agents fed by capture replays.

Every replay runs under its own ``topic_prefix``, so the retained state it leaves on the
session broker never meets another test's. Agents get ids derived from the prefix: their
persistent sessions outlive the test and must not be reused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from bus.captures import Capture
from bus.replaying import ReplayOptions, ReplayStats, replay_to_broker
from bus.topics import Topics
from bus.urls import parse_broker_url
from led_agent.agent import Agent, AgentConfig
from tests.support.brokers import BrokerEndpoint
from tests.support.replaying import LEDS, NODES, SPEED, FrameRecorder, JsonAgentProcess, OnlineWatch


@pytest.fixture
def start_agent(mosquitto: BrokerEndpoint, topic_prefix: str) -> Iterator[Callable[[str], tuple[Agent, FrameRecorder]]]:
    agents: list[Agent] = []

    def start(name: str) -> tuple[Agent, FrameRecorder]:
        agent_id = f"replays-{topic_prefix.rstrip('/')}-{name}"
        status = OnlineWatch(mosquitto, Topics(topic_prefix).agent_status(agent_id))
        device = FrameRecorder()
        config = AgentConfig(broker=parse_broker_url(mosquitto.url), nodes=NODES, agent_id=agent_id, leds=LEDS,
                             topics=Topics(topic_prefix))
        agent = Agent(config, device)
        agents.append(agent)
        agent.start()
        status.wait()
        return agent, device

    yield start
    for agent in agents:
        agent.stop()


@pytest.fixture
def replay(mosquitto: BrokerEndpoint, topic_prefix: str) -> Callable[..., ReplayStats]:
    def run(capture: Capture, *, loop: bool = False, passes: int | None = None, loop_gap: float = 1.0) -> ReplayStats:
        settings = ReplayOptions(speed=SPEED, topic_prefix=topic_prefix, loop=loop, passes=passes, loop_gap=loop_gap)
        stats = replay_to_broker(capture, parse_broker_url(mosquitto.url), options=settings, connect_timeout=10)
        assert stats.unconfirmed == 0, f"the broker did not confirm {stats.unconfirmed} publishes"
        return stats

    return run


@pytest.fixture
def json_agent(mosquitto: BrokerEndpoint, topic_prefix: str) -> Iterator[JsonAgentProcess]:
    agent_id = f"replays-{topic_prefix.rstrip('/')}-json"
    status = OnlineWatch(mosquitto, Topics(topic_prefix).agent_status(agent_id))
    agent = JsonAgentProcess(mosquitto, topic_prefix, agent_id)
    try:
        status.wait()
        yield agent
    finally:
        agent.close()
