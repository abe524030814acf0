"""The captures (``tests/captures``) replayed on every engine into LED agents, their nodes renamed with dots.

What ends up shown is the capture's last snapshot per node, as on Mosquitto
(``tests/led_agent/test_replays.py``); an agent started after the rolling upgrade's replay
shows the same from the retained state the replay left behind.
"""

from __future__ import annotations

import pytest

from bus.captures import load_capture
from bus.replaying import ReplayOptions, replay_to_broker
from tests.engines.conftest import StartAgent
from tests.support.engines import DOTTED_NODES, EngineUnderTest, with_nodes
from tests.support.replaying import LEDS, NODES, SPEED
from tests.support.streams import NAMES, capture_path, expected_frame, last_snapshots

RENAMED = dict(zip(NODES, DOTTED_NODES, strict=True))


@pytest.mark.parametrize("name", NAMES)
def test_a_replay_ends_where_the_capture_ends(engine: EngineUnderTest, start_agent: StartAgent, topic_prefix: str,
                                              name: str) -> None:
    capture = with_nodes(load_capture(capture_path(name)), RENAMED)
    expected = {node: tuple(expected_frame(snapshot, LEDS)) for node, snapshot in last_snapshots(capture).items()}
    agent, device = start_agent(DOTTED_NODES, leds=LEDS)
    stats = replay_to_broker(capture, engine.publishers, options=ReplayOptions(speed=SPEED, topic_prefix=topic_prefix),
                             connect_timeout=20)
    assert stats.unconfirmed == 0 and stats.published == len(capture.messages)
    device.wait_for(expected, timeout=30)
    for node, snapshot in last_snapshots(capture).items():
        assert [e.key for e in agent.board.entries(node)] == [p.key for p in snapshot.pods]  # in order, once each
    assert agent.counters.bad == {}
    if name == "rolling-upgrade":  # one capture is enough to show the retained state left behind
        _late, late_device = start_agent(DOTTED_NODES, leds=LEDS)
        late_device.wait_for(expected, timeout=30)
