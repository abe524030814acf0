"""Captures replayed through the real Mosquitto into real LED agents: what ends up shown.

The expected frames come from the capture itself (its last snapshot per node: every pod
ready, so its full colour), and each scenario's intent is checked on top (all violet
after a rollout, two yellow pods after scaling down). An agent started after the replay
must show the same from the retained state the replay left behind: a capture opens with
the retained state, so a replay into an empty broker bootstraps its subscribers.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bus.captures import load_capture
from bus.replaying import ReplayStats
from led_agent.agent import Agent
from tests.support.replaying import LEDS, NODES, FrameRecorder, JsonAgentProcess
from tests.support.streams import NAMES, VIOLET, YELLOW, capture_path, expected_frame, last_snapshots, lit

StartAgent = Callable[[str], tuple[Agent, FrameRecorder]]
Replay = Callable[..., ReplayStats]

# Each scenario's end (demo/capturing/scenarios.py): the one colour every lit LED shows, and how many pods.
ENDS = {
    "scaling": (YELLOW, 2),
    "rolling-upgrade": (VIOLET, 9),
    "watcher-restart": (VIOLET, 6),
    "canary": (VIOLET, 6),
    "blue-green": (VIOLET, 6),
}


def expected_frames(name: str) -> dict[str, tuple[str, ...]]:
    finals = last_snapshots(load_capture(capture_path(name)))
    return {node: tuple(expected_frame(snapshot, LEDS)) for node, snapshot in finals.items()}


@pytest.mark.parametrize("name", NAMES)
def test_an_agent_following_the_replay_ends_where_the_capture_ends(name: str, start_agent: StartAgent,
                                                                   replay: Replay) -> None:
    capture = load_capture(capture_path(name))
    agent, device = start_agent("live")
    stats = replay(capture)
    assert stats.published == len(capture.messages)
    expected = expected_frames(name)
    device.wait_for(expected)
    color, count = ENDS[name]
    shown = [c for frame in device.latest.values() for c in lit(frame)]
    assert set(shown) == {color} and len(shown) == count
    for node, snapshot in last_snapshots(capture).items():
        assert [e.key for e in agent.board.entries(node)] == [p.key for p in snapshot.pods]  # same order, once each
    assert agent.counters.bad == {}
    _late, late_device = start_agent("late")  # bootstraps from what the replay left retained
    late_device.wait_for(expected)


def test_the_restarted_node_shows_its_final_snapshot_with_no_pod_twice(start_agent: StartAgent,
                                                                       replay: Replay) -> None:
    capture = load_capture(capture_path("watcher-restart"))
    agent, device = start_agent("restart")
    replay(capture)
    final = last_snapshots(capture)["node-2"]
    device.wait_for(expected_frames("watcher-restart"))
    keys = [e.key for e in agent.board.entries("node-2")]
    assert keys == [p.key for p in final.pods] and len(set(keys)) == len(keys)
    assert len(lit(device.latest["node-2"])) == len(final.pods)
    assert agent.board.status("node-2") == "online"  # the successor's, after the last will
    assert any(YELLOW in frame for frame in device.of("node-2")), "its yellow pods were shown before the restart"


def test_a_looped_rolling_upgrade_plays_its_second_pass_too(start_agent: StartAgent, replay: Replay) -> None:
    capture = load_capture(capture_path("rolling-upgrade"))
    _agent, device = start_agent("loop")
    stats = replay(capture, loop=True, passes=2, loop_gap=2.5)  # the gap outlasts the last removal's flash
    assert stats.passes == 2 and stats.published == 2 * len(capture.messages)
    expected = expected_frames("rolling-upgrade")
    device.wait_for(expected)
    for node in NODES:
        frames = device.of(node)
        assert expected[node] in frames, f"{node}: pass 1 never ended violet"
        end_of_pass_1 = frames.index(expected[node])
        assert any(YELLOW in frame for frame in frames[:end_of_pass_1]), f"{node}: pass 1 did not open yellow"
        assert any(YELLOW in frame for frame in frames[end_of_pass_1:]), f"{node}: pass 2 never went back to yellow"
        assert frames[-1] == expected[node]


def test_the_json_agent_process_shows_the_scaled_down_pods(json_agent: JsonAgentProcess, replay: Replay) -> None:
    capture = load_capture(capture_path("scaling"))
    replay(capture)
    expected = expected_frames("scaling")
    json_agent.device.wait_for(expected)
    shown = [c for frame in json_agent.device.latest.values() for c in lit(frame)]
    assert shown == [YELLOW] * ENDS["scaling"][1]
    assert max(sum(len(lit(f)) for f in frames) for frames in _moments(json_agent.device)) >= 6
    assert not json_agent.stderr, json_agent.stderr


def _moments(device: FrameRecorder) -> list[list[tuple[str, ...]]]:
    """The whole strip (every node's latest frame) after each frame the device was shown."""
    latest: dict[str, tuple[str, ...]] = {}
    moments = []
    for node, frame in device.history:
        latest[node] = frame
        moments.append(list(latest.values()))
    return moments
