"""The shared intake: raw payloads in, per-node lists, counts and resync requests out."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bus.intake import RESYNC_RETRY_SECONDS, FeedCounters, NodeFeed, Taken
from bus.ordering import Verdict
from bus.topics import Topics
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
    assert feed.counters == FeedCounters(events_applied=1, events_ignored=1, snapshots_applied=1)


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
    assert feed.counters == FeedCounters()
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
    assert counters == OwnerCounters(snapshots_applied=1, snapshots_ignored=1, flushes=4)
