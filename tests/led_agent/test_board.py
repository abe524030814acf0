"""The board: raw payloads in, frames out; bad input counted, logged once, never shown."""

from __future__ import annotations

import logging

import pytest

from bus.messages import MAX_PAYLOAD_BYTES
from bus.topics import Topics
from led_agent.board import RESYNC_RETRY_SECONDS, Board, NodeStats
from led_agent.rendering import FLASH_SECONDS
from tests.support.clocks import FakeClock
from tests.support.messages import event, snapshot

TOPICS = Topics("t/")
PODS, STATE, STATUS = TOPICS.pods("n1"), TOPICS.state("n1"), TOPICS.status("n1")


@pytest.fixture
def board(clock: FakeClock) -> Board:
    board = Board(["n1"], leds=4, topics=TOPICS, clock=clock)
    board.handle(STATE, snapshot(5, "a", "b", colors={"a": "ff0000", "b": "00ff00"}).to_payload())
    return board


def test_snapshot_and_events_make_the_frame(board: Board, clock: FakeClock) -> None:
    assert board.handle(PODS, event("add", "c", 6, color="ffff00").to_payload()) is None
    assert board.handle(PODS, event("remove", "a", 7).to_payload()) is None
    clock.advance(FLASH_SECONDS)
    assert board.frames() == {"n1": ("00ff00", "ffff00", "000000", "000000")}
    counters = board.counters
    assert (counters.snapshots_applied, counters.events_applied, counters.events_ignored) == (1, 2, 0)


def test_seed_minimal_message_is_shown(board: Board) -> None:
    board.handle(PODS, b'{"action":"add","pod":"x","color":"ff00ff"}')
    assert board.frames()["n1"][2] == "ff00ff"


BAD_EVENTS = [
    (b"\xff\xfe\x00", "not_utf8"),
    (b"{not json", "not_json"),
    (b"[1, 2]", "not_object"),
    (b'{"action":"explode","pod":"a"}', "unknown_action"),
    (b'{"action":[],"pod":"a"}', "unknown_action"),
    (b'{"v":2,"action":"remove","pod":"a"}', "unknown_version"),
    (b'{"action":"remove"}', "invalid"),
    (b'{"action":"remove","pod":"a","seq":"6"}', "invalid"),
    (b'{"action":"add","pod":{"name":"a"}}', "invalid"),
    (b'{"action":"remove","pod":"a","uid":"uid-a","node":"n2"}', "wrong_node"),
    (b'{"action":"add","pod":"' + b"x" * MAX_PAYLOAD_BYTES + b'"}', "oversized"),
    (b"[" * 60_000, "too_deep"),
    (b'{"action":"add","pod":"x","seq":' + b"9" * 5_000 + b"}", "out_of_range"),
    (b'{"action":"add","pod":"x","seq":100000000000000000000000000000}', "out_of_range"),
]
BAD_SNAPSHOTS = [
    (b"garbage", "not_json"),
    (b'{"node":"n1","seq":9,"pods":"all of them"}', "invalid"),
    (b'{"node":"n1","seq":9,"pods":[{"color":"ff0000"}]}', "invalid"),
    (b'{"node":"n2","seq":9,"pods":[]}', "wrong_node"),
    (b'{"v":0,"node":"n1","seq":9,"pods":[]}', "unknown_version"),
]


@pytest.mark.parametrize(("topic", "payload", "kind"),
                         [(PODS, p, k) for p, k in BAD_EVENTS] + [(STATE, p, k) for p, k in BAD_SNAPSHOTS]
                         + [(STATUS, b"sleeping", "bad_status")])
def test_bad_input_is_counted_and_changes_nothing(board: Board, topic: str, payload: bytes, kind: str) -> None:
    before = board.frames()
    assert board.handle(topic, payload) is None
    assert board.frames() == before
    assert dict(board.counters.bad) == {kind: 1}
    assert board.counters.events_applied == 0
    assert board.counters.messages == 2  # the fixture's snapshot, and this


@pytest.mark.parametrize("topic", ["t/nodes/n2/pods", "other/nodes/n1/pods", "t/nodes/n1/color", "t/agents/x/status"])
def test_messages_for_nodes_not_shown_here_are_dropped(board: Board, topic: str) -> None:
    before = board.frames()
    board.handle(topic, event("remove", "a").to_payload())
    assert board.frames() == before
    assert board.counters.bad["unexpected_topic"] == 1


def test_bad_input_is_logged_once_per_kind_per_interval(board: Board, clock: FakeClock,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="led_agent.board"):
        for _ in range(50):
            board.handle(PODS, b"nope")
        board.handle(PODS, b"[]")
        clock.advance(61)
        board.handle(PODS, b"nope")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3
    assert lines[0].startswith("[not_json] dropped a message on t/nodes/n1/pods")
    assert lines[1].startswith("[not_object]")
    assert "49 more of kind 'not_json' suppressed" in lines[2]
    assert board.counters.bad == {"not_json": 51, "not_object": 1}


def test_a_gap_asks_for_one_resync_until_a_snapshot_or_a_timeout(board: Board, clock: FakeClock) -> None:
    assert board.handle(PODS, event("add", "c", 8).to_payload()) == "n1"
    assert board.handle(PODS, event("add", "d", 10).to_payload()) is None  # one resync in flight
    clock.advance(RESYNC_RETRY_SECONDS)
    assert board.handle(PODS, event("add", "e", 12).to_payload()) == "n1"  # it did not come: ask again
    board.handle(STATE, snapshot(12, "a", "b", "c", "d", "e").to_payload())
    assert board.handle(PODS, event("add", "f", 14).to_payload()) == "n1"
    assert board.counters.resyncs == 3


def test_duplicates_and_stale_snapshots_are_counted_as_ignored(board: Board) -> None:
    board.handle(PODS, event("add", "c", 5).to_payload())
    board.handle(STATE, snapshot(4, "z").to_payload())
    assert (board.counters.events_ignored, board.counters.snapshots_ignored) == (1, 1)
    assert [e.pod for e in board.entries("n1")] == ["a", "b"]


def test_a_cleared_snapshot_keeps_what_is_shown(board: Board) -> None:
    before = board.frames()
    board.handle(STATE, b"")
    assert board.frames() == before
    assert board.counters.snapshots_cleared == 1
    assert not board.counters.bad


def test_watcher_status_is_kept_and_does_not_change_the_frame(board: Board) -> None:
    before = board.frames()
    board.handle(STATUS, b"offline")
    assert board.status("n1") == "offline"
    board.handle(STATUS, b"online")
    assert board.status("n1") == "online"
    assert board.frames() == before


def test_changes_wake_the_render_loop_and_ignored_messages_do_not(board: Board) -> None:
    board.frames()
    assert not board.wait_changed(0)
    board.handle(PODS, event("add", "a", 6, color="ff0000").to_payload())  # known, unchanged
    board.handle(PODS, b"junk")
    assert not board.wait_changed(0)
    board.handle(PODS, event("add", "c", 7).to_payload())
    assert board.wait_changed(0)


def test_animated_while_a_removal_flashes(board: Board, clock: FakeClock) -> None:
    assert not board.animated()
    board.handle(PODS, event("remove", "a", 6).to_payload())
    assert board.animated()
    clock.advance(FLASH_SECONDS)
    assert not board.animated()


def test_several_nodes_are_independent(clock: FakeClock) -> None:
    board = Board(["n1", "n2"], leds=2, topics=TOPICS, clock=clock)
    board.handle(STATE, snapshot(1, "a", colors={"a": "ff0000"}).to_payload())
    board.handle(TOPICS.pods("n2"), b'{"action":"add","pod":"x","color":"00ff00"}')
    assert board.frames() == {"n1": ("ff0000", "000000"), "n2": ("00ff00", "000000")}


def test_an_event_far_ahead_is_dropped_and_asks_for_the_snapshot(board: Board) -> None:
    before = board.frames()
    assert board.handle(PODS, event("add", "evil", 10**15).to_payload()) == "n1"
    assert board.frames() == before and board.counters.bad == {"seq_jump": 1}
    assert board.handle(PODS, event("add", "c", 6).to_payload()) is None
    assert [e.pod for e in board.entries("n1")] == ["a", "b", "c"]


def test_the_watchers_live_snapshot_ends_a_freeze(board: Board) -> None:
    board.handle(PODS, event("add", "evil", 1000, color="ffffff").to_payload())  # seq 1000 within bounds
    board.handle(PODS, event("add", "c", 6, color="0000ff").to_payload())  # looks old now: ignored
    board.handle(STATE, snapshot(5, "a").to_payload())  # a retained copy: judged, ignored
    assert [e.pod for e in board.entries("n1")] == ["a", "b", "evil"]
    board.handle(STATE, snapshot(6, "a", "b", "c").to_payload(), retained=False)
    board.handle(PODS, event("remove", "a", 7).to_payload(), retained=False)
    assert [e.pod for e in board.entries("n1")] == ["b", "c"]


def test_pods_beyond_max_pods_are_counted_and_shown_as_overflow(clock: FakeClock) -> None:
    board = Board(["n1"], leds=2, topics=TOPICS, clock=clock, max_pods=2)
    board.handle(STATE, snapshot(1, "a", "b", colors={"a": "ff0000", "b": "00ff00"}).to_payload())
    assert board.frames() == {"n1": ("ff0000", "00ff00")} and not board.animated()
    board.frames()
    board.handle(PODS, event("add", "c", 2).to_payload())
    assert board.wait_changed(0)  # the hidden count changed: the last LED must say so
    assert board.animated()
    taken = clock.now
    shown = set()
    for _ in range(2):
        shown.add(board.frames()["n1"])
        clock.advance(0.5)
    assert shown == {("ff0000", "00ff00"), ("ff0000", "ffffff")}
    assert board.stats()["n1"] == NodeStats(tracked=2, hidden=1, taken_at=taken)
    for seq in range(3, 20_003):
        board.handle(PODS, event("add", f"flood-{seq}", seq).to_payload())
    assert board.stats()["n1"].tracked == 2 and board.stats()["n1"].hidden == 20_001
