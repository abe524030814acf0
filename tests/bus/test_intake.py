"""The shared intake: raw payloads in, per-node lists, counts and resync requests out."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bus.intake import RESYNC_RETRY_SECONDS, FeedCounters, NodeFeed, Taken
from bus.messages import PodEvent
from bus.ordering import Verdict
from bus.topics import Topics
from tests.support.adversary import (
    ModelWatcher,
    assert_capped_truth,
    hostile,
    hostile_payload,
    lossy,
    operations,
    step,
)
from tests.support.clocks import FakeClock
from tests.support.messages import event, snapshot

TOPICS = Topics("t/")
PODS, STATE, STATUS = TOPICS.pods("n1"), TOPICS.state("n1"), TOPICS.status("n1")


class Recorder:
    """An owner's ``on_taken`` that remembers what it was told and whether the lock was held."""

    def __init__(self) -> None:
        self.taken: list[Taken] = []
        self.locked: list[bool] = []
        self.feed: NodeFeed | None = None

    def __call__(self, taken: Taken) -> None:
        assert self.feed is not None
        self.taken.append(taken)
        self.locked.append(self.feed.lock.locked())


def make_feed(clock: FakeClock, nodes: list[str] | None) -> tuple[NodeFeed, Recorder]:
    recorder = Recorder()
    feed = NodeFeed(TOPICS, nodes=nodes, clock=clock, on_taken=recorder)
    recorder.feed = feed
    return feed, recorder


def pods(feed: NodeFeed, node: str = "n1") -> list[str]:
    return [e.pod for e in feed.nodes[node].items.entries]


@pytest.mark.parametrize("nodes", [["n1"], None], ids=["fixed", "open"])
def test_events_and_snapshots_reach_the_list_and_the_owner_under_the_lock(clock: FakeClock,
                                                                         nodes: list[str] | None) -> None:
    feed, recorder = make_feed(clock, nodes)
    feed.handle(STATE, snapshot(5, "a", "b").to_payload())
    feed.handle(PODS, event("add", "c", 6).to_payload())
    feed.handle(PODS, event("add", "c", 6).to_payload())  # a duplicate
    assert pods(feed) == ["a", "b", "c"]
    verdicts = [t.outcome.verdict for t in recorder.taken if t.outcome is not None]
    assert verdicts == [Verdict.APPLIED, Verdict.APPLIED, Verdict.DUPLICATE]
    assert recorder.taken[1].outcome is not None and recorder.taken[1].outcome.changes.added == ("uid-c",)
    assert all(recorder.locked) and not feed.lock.locked()
    assert feed.counters == FeedCounters(messages=3, events_applied=1, events_ignored=1, snapshots_applied=1)


def test_a_fixed_feed_refuses_other_nodes_and_keeps_a_cleared_node(clock: FakeClock) -> None:
    feed, recorder = make_feed(clock, ["n1"])
    feed.handle(STATE, snapshot(5, "a").to_payload())
    assert feed.handle(TOPICS.state("n2"), b"") is None
    assert feed.handle(TOPICS.status("n2"), b"online") is None
    assert feed.bad.counts == {"unexpected_topic": 2}
    feed.handle(STATE, b"")
    assert list(feed.nodes) == ["n1"] and pods(feed) == ["a"]
    assert recorder.taken[-1] == Taken("n1", feed.nodes["n1"], cleared=True)
    assert len(recorder.taken) == 2


def test_an_open_feed_adds_nodes_as_they_come_and_forgets_a_cleared_one(clock: FakeClock) -> None:
    feed, recorder = make_feed(clock, None)
    feed.handle(TOPICS.status("n2"), b"online")
    feed.handle(STATE, snapshot(5, "a").to_payload())
    assert list(feed.nodes) == ["n2", "n1"]
    feed.handle(STATE, b"")
    assert recorder.taken[-1] == Taken("n1", None, cleared=True)
    feed.handle(STATE, b"")  # a node no longer held: nothing was cleared
    assert recorder.taken[-1] == Taken("n1", None, cleared=False)
    assert list(feed.nodes) == ["n2"] and not feed.bad.counts


def test_status_is_kept_and_its_changes_are_flagged(clock: FakeClock) -> None:
    feed, recorder = make_feed(clock, None)
    assert feed.handle(TOPICS.status("n9"), b"") is None  # cleared for a node never seen
    assert recorder.taken[-1] == Taken("n9", None) and "n9" not in feed.nodes
    changes = []
    for payload in (b"online", b"online", b"degraded", b"online", b"offline", b""):
        feed.handle(STATUS, payload)
        changes.append((feed.nodes["n1"].status, recorder.taken[-1].status_changed))
    assert changes == [("online", True), ("online", False), ("degraded", True), ("online", True), ("offline", True),
                       (None, True)]
    assert not feed.bad.counts


BAD = [
    (PODS, b"{not json", "not_json"),
    (PODS, b"[" * 60_000, "too_deep"),
    (STATE, b'{"node":"n1","seq":1,"pods":' + b"[" * 5_000 + b"]" * 5_000 + b"}", "too_deep"),
    (PODS, b'{"action":"add","pod":"x","seq":' + b"9" * 5_000 + b"}", "out_of_range"),
    (PODS, b'{"action":"add","pod":"x","seq":1' + b"0" * 30 + b"}", "out_of_range"),
    (STATE, b'{"node":"n1","seq":9007199254740992,"pods":[]}', "out_of_range"),
    (PODS, b'{"action":"remove","pod":"a","uid":"uid-a","node":"n2"}', "wrong_node"),
    (STATE, b'{"node":"n2","seq":9,"pods":[]}', "wrong_node"),
    (STATE, b"garbage", "not_json"),
    (STATUS, b"sleeping", "bad_status"),
    ("t/nodes/n1/color", b"{}", "unexpected_topic"),
]


@pytest.mark.parametrize("nodes", [["n1"], None], ids=["fixed", "open"])
@pytest.mark.parametrize(("topic", "payload", "kind"), BAD)
def test_bad_input_is_counted_and_touches_nothing(clock: FakeClock, nodes: list[str] | None,
                                                  topic: str, payload: bytes, kind: str) -> None:
    feed, recorder = make_feed(clock, nodes)
    before = dict(feed.nodes)
    assert feed.handle(topic, payload) is None
    assert feed.bad.counts == {kind: 1}
    assert dict(feed.nodes) == before and recorder.taken == []
    assert feed.counters == FeedCounters(messages=1)
    assert not feed.lock.locked()


def test_resyncs_are_paced_per_node(clock: FakeClock) -> None:
    feed, _ = make_feed(clock, None)
    feed.handle(STATE, snapshot(5, "a").to_payload())
    assert feed.handle(PODS, event("add", "b", 7).to_payload()) == "n1"
    assert feed.handle(PODS, event("add", "c", 9).to_payload()) is None  # one request in flight
    clock.advance(RESYNC_RETRY_SECONDS - 0.01)
    assert feed.handle(PODS, event("add", "d", 11).to_payload()) is None
    clock.advance(0.01)
    assert feed.handle(PODS, event("add", "e", 13).to_payload()) == "n1"  # it did not come: ask again
    feed.handle(STATE, snapshot(13, "a", "b", "c", "d", "e").to_payload())
    assert feed.handle(PODS, event("add", "f", 15).to_payload()) == "n1"  # answered: a new gap asks at once
    assert feed.counters.resyncs == 3


@dataclass
class OwnerCounters(FeedCounters):
    flushes: int = 0


def test_the_owner_s_counters_are_the_feed_s_books(clock: FakeClock) -> None:
    counters = OwnerCounters(flushes=4)
    feed = NodeFeed(TOPICS, counters=counters, clock=clock)
    feed.handle(STATE, snapshot(5, "a").to_payload())
    feed.handle(STATE, snapshot(4, "a").to_payload())
    assert counters == OwnerCounters(messages=2, snapshots_applied=1, snapshots_ignored=1, flushes=4)


# -- hostile input --------------------------------------------------------------------------


def test_decode_errors_are_logged_once_per_kind_without_a_traceback(clock: FakeClock,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    feed, _ = make_feed(clock, ["n1"])
    with caplog.at_level(logging.WARNING, logger="bus.intake"):
        for _ in range(1_000):
            for payload in (b"[" * 60_000, b'{"action":"add","pod":"x","seq":' + b"9" * 5_000 + b"}"):
                assert feed.handle(PODS, payload) is None
    assert feed.bad.counts == {"too_deep": 1_000, "out_of_range": 1_000}
    assert [r.getMessage()[:14] for r in caplog.records] == ["[too_deep] dro", "[out_of_range]"]
    assert all(r.exc_info is None for r in caplog.records)
    assert max(len(r.getMessage()) for r in caplog.records) < 400


def test_an_event_jumping_too_far_is_dropped_and_answered_with_a_paced_resync(clock: FakeClock) -> None:
    feed, recorder = make_feed(clock, ["n1"])
    feed.handle(STATE, snapshot(5, "a", epoch="e1").to_payload())
    assert feed.handle(PODS, event("add", "evil", 10**15, epoch="e1").to_payload()) == "n1"
    assert feed.handle(PODS, event("add", "evil", 10**15 + 1, epoch="e1").to_payload()) is None  # in flight
    assert feed.bad.counts == {"seq_jump": 2} and pods(feed) == ["a"]
    assert recorder.taken[-1].outcome is not None and recorder.taken[-1].outcome.verdict is Verdict.JUMP
    feed.handle(PODS, event("add", "b", 6, epoch="e1").to_payload())
    assert pods(feed) == ["a", "b"]
    assert (feed.counters.events_applied, feed.counters.events_ignored, feed.counters.resyncs) == (1, 0, 1)


def test_a_live_snapshot_wins_a_retained_copy_is_judged(clock: FakeClock) -> None:
    feed, _ = make_feed(clock, ["n1"])
    feed.handle(STATE, snapshot(5, "a", epoch="e1").to_payload())
    feed.handle(PODS, event("add", "evil", 900, epoch="e1").to_payload())
    feed.handle(STATE, snapshot(5, "a", epoch="e1").to_payload(), retained=True)  # the resync's answer
    assert pods(feed) == ["a", "evil"]
    feed.handle(STATE, snapshot(6, "a", "b", epoch="e1").to_payload(), retained=False)  # the watcher, now
    assert pods(feed) == ["a", "b"]
    assert (feed.counters.snapshots_applied, feed.counters.snapshots_ignored) == (2, 1)


def test_pods_per_node_and_nodes_of_an_open_feed_are_capped(clock: FakeClock) -> None:
    feed = NodeFeed(TOPICS, clock=clock, max_pods=2, max_nodes=3)
    feed.handle(STATE, snapshot(1, "a", "b", "c", "d").to_payload())
    assert (pods(feed), feed.nodes["n1"].items.hidden) == (["a", "b"], 2)
    for node in ("n2", "n3", "n4", "n5"):
        feed.handle(TOPICS.status(node), b"online")
    assert list(feed.nodes) == ["n1", "n2", "n3"] and feed.bad.counts == {"too_many_nodes": 2}
    feed.handle(TOPICS.state("n2"), b"")  # a node that left frees its place
    feed.handle(TOPICS.pods("n5"), b'{"action":"add","pod":"x"}')
    assert list(feed.nodes) == ["n1", "n3", "n5"]


def test_a_bug_behind_the_intake_is_counted_and_logged_rate_limited_not_raised(
        clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    def broken(taken: Taken) -> None:
        raise KeyError("owner bug")

    feed = NodeFeed(TOPICS, nodes=["n1"], clock=clock, on_taken=broken)
    with caplog.at_level(logging.WARNING, logger="bus.intake"):
        for seq in range(1, 4):
            assert feed.handle(PODS, event("add", "a", seq).to_payload()) is None
    assert feed.bad.counts == {"internal_error": 3}
    [record] = caplog.records
    assert record.getMessage().startswith("[internal_error] failed on a message on t/nodes/n1/pods")
    assert record.exc_info is not None and not feed.lock.locked()


def test_the_last_taken_time_is_kept_per_node(clock: FakeClock) -> None:
    feed, _ = make_feed(clock, ["n1"])
    assert feed.nodes["n1"].taken_at is None
    feed.handle(STATE, snapshot(5, "a").to_payload())
    clock.advance(3)
    feed.handle(PODS, event("add", "a", 5).to_payload())  # a duplicate takes nothing
    feed.handle(STATUS, b"online")
    assert feed.nodes["n1"].taken_at == clock.now - 3
    feed.handle(PODS, event("add", "b", 6).to_payload())
    assert feed.nodes["n1"].taken_at == clock.now


def topic_for(kind: str) -> str:
    return {"pods": PODS, "state": STATE, "status": STATUS, "color": "t/nodes/n1/color",
            "other-node": TOPICS.pods("n2")}[kind]


@settings(max_examples=60)
@given(before=operations, after=operations, nodes=st.sampled_from([["n1"], None]), data=st.data())
def test_no_payload_raises_out_of_the_intake_and_the_next_live_snapshot_restores_the_truth(
        before: list[tuple[str, object]], after: list[tuple[str, object]], nodes: list[str] | None,
        data: st.DataObject) -> None:
    clock = FakeClock()
    feed = NodeFeed(TOPICS, nodes=nodes, clock=clock, max_pods=3)
    watcher = ModelWatcher(epoch="e0")
    for op, arg in before:
        step(watcher, op, arg)
    for message in lossy(watcher.published, data):
        for _ in range(data.draw(st.integers(0, 2))):
            if data.draw(st.booleans()):
                kind, payload = hostile_payload(data)
                feed.handle(topic_for(kind), payload, retained=data.draw(st.booleans()))
            else:
                forged, live = hostile(data, watcher)
                feed.handle(PODS if isinstance(forged, PodEvent) else STATE, forged.to_payload(), retained=not live)
        clock.advance(data.draw(st.sampled_from([0.0, 0.5, 3.0])))
        feed.handle(PODS if isinstance(message, PodEvent) else STATE, message.to_payload())
    for op, arg in [("snapshot", None), *after]:  # the watcher's next snapshot, then more, in order
        first = len(watcher.published)
        step(watcher, op, arg)
        for message in watcher.published[first:]:
            feed.handle(PODS if isinstance(message, PodEvent) else STATE, message.to_payload(), retained=False)
        assert_capped_truth(feed.nodes["n1"].items, tuple(watcher.entries.values()), exact=op == "snapshot")
    assert "internal_error" not in feed.bad.counts
