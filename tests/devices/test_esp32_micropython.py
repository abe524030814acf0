"""The ESP32 subscriber, unmodified, under the real MicroPython (the WebAssembly port, in Node.js).

``main.py`` and ``ledlist.py`` run as copied to a board, with stand-ins for the board's
``machine``, ``network``, ``neopixel``, ``time`` and ``umqtt`` (``board/``). Every turn of
the board's loop, the strip must show what the agent's own core shows for the messages the
board received at the times it received them (``esp32.check_against_agent``).
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from bus.captures import load_capture
from tests.devices.esp32 import (
    LEDS,
    START_MS,
    BoardRun,
    Scenario,
    check_against_agent,
    from_capture,
    run_board,
)
from tests.devices.reference import dimmed, stale_level
from tests.support.streams import NAMES, capture_path, expected_frame, last_snapshots

NODES = ("node-1", "node-2", "node-3")
STATE, STATUS, PODS = "nodes/n1/state", "nodes/n1/status", "nodes/n1/pods"
YELLOW, BLUE, DARK, WHITE = "ffff00", "0000ff", "000000", "ffffff"


def captured(name: str, node: str, **changes: Any) -> tuple[Scenario, BoardRun]:
    scenario = from_capture(load_capture(capture_path(name)), node)
    for key, value in changes.items():
        setattr(scenario, key, value)
    return scenario, run_board(scenario)


def pod(name: str, **fields: Any) -> dict[str, Any]:
    return {"pod": name, "namespace": "default", "uid": f"uid-{name}", "color": YELLOW, "state": "ready"} | fields


def snapshot(seq: int, *names: str, epoch: str = "e1") -> dict[str, Any]:
    return {"v": 1, "node": "n1", "seq": seq, "epoch": epoch, "pods": [pod(n) for n in names]}


def event(action: str, name: str, seq: int, epoch: str = "e1") -> dict[str, Any]:
    return {"v": 1, "action": action, "node": "n1", "seq": seq, "epoch": epoch} | pod(name)


def booted(*names: str) -> Scenario:
    """A node ``n1`` whose retained snapshot lists ``names`` when the board boots."""
    return Scenario("n1", retained=[(STATE, json.dumps(snapshot(1, *names)).encode()), (STATUS, b"online")])


# -- every node of every capture --------------------------------------------------------


@pytest.mark.parametrize("node", NODES)
@pytest.mark.parametrize("name", NAMES)
def test_the_strip_shows_what_the_agent_shows_at_every_turn(name: str, node: str) -> None:
    _, run = captured(name, node)
    checked = check_against_agent(run, node)
    final = last_snapshots(load_capture(capture_path(name)))[node]
    assert checked.final == tuple(expected_frame(final, LEDS)), "the settled node"
    assert checked.flashes == checked.removals, "every removal flashed red at the pod's place"
    assert checked.turns > 100


def test_a_removal_flashes_red_in_place_and_then_the_gap_closes() -> None:
    scenario = booted("a", "b", "c").at(START_MS, PODS, event("remove", "b", 2))
    run = run_board(scenario)
    check_against_agent(run, "n1")
    flash = [(YELLOW, "ff0000", YELLOW), (YELLOW, DARK, YELLOW)] * 3
    assert [frame[:3] for frame in run.frames] == [(YELLOW,) * 3, *flash, (YELLOW, YELLOW, DARK)]


# -- the session --------------------------------------------------------------------------


def test_it_connects_as_its_agent_id_with_the_contracts_will_and_subscribes_snapshot_first() -> None:
    run = run_board(booted("a"), AGENT_ID="esp32-desk")
    assert run.of("connect") == [["connect", 0, "esp32-desk", True, "agents/esp32-desk/status", 1, True]]
    assert [r[2:] for r in run.of("subscribe")] == [[STATE, 1], [STATUS, 1], [PODS, 1]]
    assert [r[2:] for r in run.of("publish")] == [["agents/esp32-desk/status", b"online".hex(), True, 1]]


def test_after_umqtt_robust_reconnects_it_subscribes_again_and_says_online() -> None:
    _, run = captured("rolling-upgrade", "node-1", cuts=[4000, 9000])
    check_against_agent(run, "node-1")
    assert len(run.of("connect")) == 3
    assert len(run.of("subscribe")) == 9 and len(run.of("publish")) == 3
    retained = [r for r in run.of("message") if r[2].endswith("/state") and r[4]]
    assert len(retained) == 3, "each connection starts from the retained snapshot"


def test_a_cut_while_waiting_for_a_suback_subscribes_again_on_the_new_connection() -> None:
    scenario = booted("a", "b").at(3000, PODS, event("add", "c", 2))
    scenario.suback_delay, scenario.cuts = 200, [100]  # the first SUBACK is still on its way
    run = run_board(scenario)
    assert len(run.of("connect")) == 2
    second = run.records.index(run.of("connect")[1])
    assert [r[2] for r in run.records[second:] if r[0] == "subscribe"] == [STATE, STATUS, PODS]
    assert run.frames[-1][:3] == (YELLOW,) * 3
    check_against_agent(run, "n1")


def test_it_reconnects_forever_backing_off_and_keeps_animating_meanwhile() -> None:
    scenario = booted("a", "b", "c").at(START_MS, PODS, event("remove", "b", 2))
    scenario.cuts, scenario.outages = [START_MS + 100], [(START_MS + 100, START_MS + 40_000)]
    scenario.at(START_MS + 62_000, PODS, event("add", "d", 3))  # robust's attempt after 30 s more
    run = run_board(scenario)
    refused = [r[1] for r in run.of("refused")]
    gaps = [b - a for a, b in itertools.pairwise(refused)]
    assert len(refused) >= 4 and gaps == sorted(gaps) and max(gaps) <= 30_000 + 100
    during = [f for r, f in zip(run.of("show"), run.frames, strict=True) if START_MS + 100 < r[1] < START_MS + 40_000]
    assert during[-1][:3] == (YELLOW, YELLOW, DARK), "the flash ended and the gap closed while offline"
    assert run.frames[-1][:3] == (YELLOW,) * 3, "back, subscribed again, following events"
    check_against_agent(run, "n1")


# -- bad input and memory ----------------------------------------------------------------

GARBAGE = [b"\xff\xfe", b"{nope", b"[1]", b'{"v":2,"action":"add","pod":"x"}', b'{"action":"explode","pod":"x"}',
           b'{"action":"add","pod":""}', b'{"action":"add","pod":"x","node":"n2"}']


def test_garbage_is_counted_changes_nothing_and_is_reported_on_the_console() -> None:
    scenario = booted("a", "b")
    for i, payload in enumerate(GARBAGE):
        scenario.at(START_MS + 10 * i, PODS, payload)
    scenario.at(START_MS + 100, STATE, b'{"node":"n1","pods":{}}').at(START_MS + 110, STATUS, b"sleepy")
    scenario.at(START_MS + 200, PODS, event("add", "c", 2)).end_ms = START_MS + 12_000
    run = run_board(scenario)
    check_against_agent(run, "n1")
    assert run.frames[-1][:3] == (YELLOW,) * 3
    reports = [line for line in run.console if line.startswith("dropped messages:")]
    assert len(reports) == 2, "the first at once, the rest after ten seconds"
    assert all(kind in reports[-1] for kind in ("not_utf8", "not_json", "unknown_action", "wrong_node", "bad_status"))


def test_a_snapshot_too_big_to_decode_is_dropped_and_said_so() -> None:
    big = snapshot(5, *(f"p{i}" for i in range(300)))
    scenario = booted("a", "b").at(START_MS, STATE, big, retain=True).at(START_MS + 500, PODS, event("add", "c", 2))
    scenario.decode_limit = 20_000
    run = run_board(scenario)
    assert run.frames[-1][:3] == (YELLOW,) * 3, "the list it had, and the events after"
    assert any("no_memory" in line for line in run.console)


def test_a_message_too_big_to_read_reconnects_and_follows_events_without_the_snapshot() -> None:
    big = snapshot(5, *(f"p{i}" for i in range(300)))
    scenario = booted("a", "b").at(START_MS, STATE, big, retain=True).at(START_MS + 500, PODS, event("add", "c", 6))
    scenario.read_limit = 20_000
    run = run_board(scenario)
    assert len(run.of("connect")) == 2
    second = run.records.index(run.of("connect")[1])
    assert [r[2] for r in run.records[second:] if r[0] == "subscribe"] == [STATUS, PODS]
    assert any("did not fit in memory" in line for line in run.console)
    assert run.frames[-1][:3] == (YELLOW,) * 3


def test_it_tracks_at_most_max_pods_and_shows_the_rest_as_overflow() -> None:
    scenario = Scenario("n1", retained=[(STATE, json.dumps(snapshot(1, *(f"p{i}" for i in range(30)))).encode())])
    run = run_board(scenario, MAX_PODS=10)
    assert any("tracking the first 10 pods; 20 more not tracked" in line for line in run.console)
    assert {frame[-1] for frame in run.frames} == {YELLOW, WHITE}


# -- a watcher away ---------------------------------------------------------------------


def test_a_node_whose_watcher_died_is_stale_until_it_is_back() -> None:
    _, run = captured("watcher-restart", "node-2")
    check_against_agent(run, "node-2")
    shown = run.frames
    assert any(frame[0] not in (YELLOW, "a81399") and frame[0] != DARK for frame in shown), "dimmed while offline"
    assert shown[-1][:2] == ("a81399",) * 2


@pytest.mark.parametrize("status", [b"offline", b"degraded"])
def test_offline_and_degraded_are_stale_online_is_not(status: bytes) -> None:
    scenario = booted("a").at(START_MS, STATUS, status, retain=True).at(START_MS + 6000, STATUS, b"online")
    run = run_board(scenario)
    check_against_agent(run, "n1")
    levels = {frame[0] for frame in run.frames}
    assert {dimmed((YELLOW,), stale_level(t))[0] for t in (0, 700, 1300, 2000)} <= levels  # four steps
    assert run.frames[-1][0] == YELLOW


# -- the other strip ----------------------------------------------------------------------


def test_an_apa102_strip_gets_the_same_colours_with_the_global_brightness() -> None:
    run = run_board(booted("a", "b"), STRIP="apa102", BRIGHTNESS=0.5)
    frame = bytes.fromhex(run.of("spi")[-1][2])
    assert frame[:4] == b"\0\0\0\0" and len(frame) == 4 + 4 * LEDS + 1
    leds = [frame[4 + 4 * i: 8 + 4 * i] for i in range(LEDS)]
    assert leds[0] == leds[1] == bytes((0xE0 | 16, 0x00, 0xFF, 0xFF))  # brightness, blue, green, red
    assert leds[2] == bytes((0xE0 | 16, 0, 0, 0))
