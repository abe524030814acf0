"""The subscriber algorithm: tables for each rule, and a model watcher against lossy delivery."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bus.messages import MAX_SEQ, Action, NodeSnapshot, PodEvent, PodState
from bus.ordering import MAX_SEQ_JUMP, Changes, NodeList, Verdict
from tests.support.adversary import Message, ModelWatcher, assert_capped_truth, hostile, lossy, operations, step
from tests.support.messages import entry, event, snapshot


def names(nodes: NodeList) -> list[str]:
    return [e.pod for e in nodes.entries]


def synced(seq: int, *pods: str, epoch: str | None = None) -> NodeList:
    nodes = NodeList()
    nodes.apply_snapshot(snapshot(seq, *pods, epoch=epoch))
    return nodes


# -- events -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seq", "verdict", "shown", "last"),
    [
        (6, Verdict.APPLIED, ["a", "b", "c"], 6),
        (5, Verdict.DUPLICATE, ["a", "b"], 5),
        (2, Verdict.DUPLICATE, ["a", "b"], 5),
        (9, Verdict.GAP, ["a", "b", "c"], 9),
        (None, Verdict.UNSEQUENCED, ["a", "b", "c"], 5),
    ],
)
def test_event_sequence_rules(seq: int | None, verdict: Verdict, shown: list[str], last: int) -> None:
    nodes = synced(5, "a", "b")
    outcome = nodes.apply_event(event("add", "c", seq))
    assert outcome.verdict is verdict
    assert outcome.resync is (verdict is Verdict.GAP)
    assert (names(nodes), nodes.last) == (shown, last)


def test_add_of_a_known_pod_updates_it_in_place() -> None:
    nodes = synced(1, "a", "b", "c")
    outcome = nodes.apply_event(event("add", "b", 2, color="ff0000"))
    assert names(nodes) == ["a", "b", "c"]
    assert nodes.entries[1].color == "ff0000"
    assert outcome.changes == Changes(updated=("uid-b",))


def test_update_of_an_unknown_pod_appends_it() -> None:
    nodes = synced(1, "a")
    outcome = nodes.apply_event(event("update", "z", 2, state=PodState.READY))
    assert names(nodes) == ["a", "z"]
    assert outcome.changes == Changes(added=("uid-z",))


def test_remove_reports_the_old_index_and_unknown_remove_is_a_no_op() -> None:
    nodes = synced(1, "a", "b", "c")
    assert nodes.apply_event(event("remove", "b", 2)).changes == Changes(removed=((1, "uid-b"),))
    outcome = nodes.apply_event(event("remove", "nobody", 3))
    assert outcome.applied and not outcome.changes
    assert (names(nodes), nodes.last) == (["a", "c"], 3)


def test_an_unchanged_update_reports_no_change() -> None:
    nodes = synced(1, "a")
    assert not nodes.apply_event(event("update", "a", 2)).changes


def test_seed_minimal_events_use_the_pod_name_as_identity() -> None:
    nodes = NodeList()
    nodes.apply_event(PodEvent(action=Action.ADD, pod="x", color="ff0000"))
    nodes.apply_event(PodEvent(action=Action.ADD, pod="x", color="00ff00"))
    assert [(e.key, e.color) for e in nodes.entries] == [("x", "00ff00")]
    nodes.apply_event(PodEvent(action=Action.REMOVE, pod="x"))
    assert nodes.entries == ()


# -- snapshots --------------------------------------------------------------------------


def test_snapshot_reconciles_keeping_places_and_reports_changes() -> None:
    nodes = synced(1, "a", "b", "c")
    outcome = nodes.apply_snapshot(snapshot(4, "a", "c", "d", colors={"c": "00ff00"}))
    assert names(nodes) == ["a", "c", "d"]
    assert outcome.changes == Changes(added=("uid-d",), removed=((1, "uid-b"),), updated=("uid-c",))


def test_snapshot_order_wins_and_moves_are_reported() -> None:
    nodes = synced(1, "a", "b", "c")
    outcome = nodes.apply_snapshot(snapshot(2, "c", "a", "b"))
    assert names(nodes) == ["c", "a", "b"]
    assert set(outcome.changes.moved) == {"uid-a", "uid-b", "uid-c"}


@pytest.mark.parametrize(("seq", "taken"), [(4, False), (5, True), (6, True)])
def test_snapshots_older_than_last_are_ignored(seq: int, taken: bool) -> None:
    nodes = synced(5, "a")
    outcome = nodes.apply_snapshot(snapshot(seq, "b"))
    assert outcome.verdict is (Verdict.APPLIED if taken else Verdict.STALE)
    assert names(nodes) == (["b"] if taken else ["a"])


def test_snapshot_with_the_gap_seq_repairs_what_the_gap_lost() -> None:
    nodes = synced(1, "a")
    nodes.apply_event(event("add", "c", 3))  # missed 2: add b
    assert names(nodes) == ["a", "c"]
    nodes.apply_snapshot(snapshot(3, "a", "b", "c"))
    assert names(nodes) == ["a", "b", "c"]


def test_duplicate_pods_in_a_snapshot_keep_their_first_place() -> None:
    nodes = NodeList()
    nodes.apply_snapshot(NodeSnapshot(node="n1", seq=1, pods=(entry("a"), entry("b"), entry("a", "ff0000"))))
    assert names(nodes) == ["a", "b"]


# -- what one message can claim ------------------------------------------------------------


@pytest.mark.parametrize(
    ("seq", "verdict", "shown", "last"),
    [
        (5 + MAX_SEQ_JUMP, Verdict.GAP, ["a", "c"], 5 + MAX_SEQ_JUMP),
        (6 + MAX_SEQ_JUMP, Verdict.JUMP, ["a"], 5),
        (MAX_SEQ, Verdict.JUMP, ["a"], 5),
    ],
)
def test_no_event_moves_seq_further_than_the_jump_bound(seq: int, verdict: Verdict, shown: list[str],
                                                         last: int) -> None:
    nodes = synced(5, "a", epoch="e1")
    outcome = nodes.apply_event(event("add", "c", seq, epoch="e1"))
    assert (outcome.verdict, outcome.applied, outcome.resync) == (verdict, verdict is Verdict.GAP, True)
    assert (names(nodes), nodes.last) == (shown, last)
    assert nodes.apply_event(event("add", "d", 6, epoch="e1")).verdict is (
        Verdict.DUPLICATE if verdict is Verdict.GAP else Verdict.APPLIED)


@pytest.mark.parametrize("seq", [0, 4, 5, 999, MAX_SEQ])
def test_a_live_snapshot_always_wins_and_a_retained_copy_is_judged_by_seq(seq: int) -> None:
    nodes = synced(5, "a", epoch="e1")
    nodes.apply_event(event("add", "x", 900, epoch="e1"))  # a jump any pod on an open broker can send
    retained = nodes.apply_snapshot(snapshot(seq, "b", epoch="e1"))
    assert retained.verdict is (Verdict.APPLIED if seq >= 900 else Verdict.STALE)
    assert nodes.apply_snapshot(snapshot(seq, "a", "b", epoch="e1"), live=True).applied
    assert (names(nodes), nodes.last, nodes.epoch) == (["a", "b"], seq, "e1")
    if seq < MAX_SEQ:
        assert nodes.apply_event(event("add", "c", seq + 1, epoch="e1")).verdict is Verdict.APPLIED
        assert names(nodes) == ["a", "b", "c"]


def test_a_jump_within_the_epoch_no_longer_freezes_the_node() -> None:
    """The attack of issue 6: seq 1000 within the epoch made every later message look old."""
    nodes = synced(5, "a", epoch="e1")
    nodes.apply_event(event("add", "evil", 1000, epoch="e1"))
    assert nodes.apply_event(event("add", "b", 6, epoch="e1")).verdict is Verdict.DUPLICATE
    assert nodes.apply_snapshot(snapshot(6, "a", "b", epoch="e1"), live=True).applied  # the watcher's next word
    assert nodes.apply_event(event("remove", "a", 7, epoch="e1")).verdict is Verdict.APPLIED
    assert names(nodes) == ["b"]


def test_a_live_first_snapshot_does_not_replay_what_came_before_it() -> None:
    nodes = NodeList()
    nodes.apply_event(event("add", "evil", 40, epoch="e1"))  # before the first snapshot
    nodes.apply_snapshot(snapshot(10, "a", epoch="e1"), live=True)
    assert (names(nodes), nodes.last, nodes.synced) == (["a"], 10, True)


# -- the cap -------------------------------------------------------------------------------


def test_a_snapshot_larger_than_the_cap_keeps_its_first_pods_and_counts_the_rest() -> None:
    nodes = NodeList(max_pods=3)
    outcome = nodes.apply_snapshot(snapshot(1, "a", "b", "c", "d", "e"))
    assert (names(nodes), nodes.count, nodes.hidden) == (["a", "b", "c"], 3, 2)
    assert outcome.changes.added == ("uid-a", "uid-b", "uid-c") and outcome.changes.overflow
    duplicates = NodeSnapshot(node="n1", seq=2, pods=tuple(entry(n) for n in "abcdeed"))
    assert not nodes.apply_snapshot(duplicates).changes  # same pods, same count: nothing to show
    assert nodes.apply_snapshot(snapshot(3, "b", "c")).changes == Changes(removed=((0, "uid-a"),), moved=(),
                                                                         overflow=True)
    assert (names(nodes), nodes.hidden) == (["b", "c"], 0)


def test_events_beyond_the_cap_are_counted_and_the_stored_pods_stay_a_prefix() -> None:
    nodes = NodeList(max_pods=2)
    nodes.apply_snapshot(snapshot(1, "a", "b"))
    assert nodes.apply_event(event("add", "c", 2)).changes == Changes(overflow=True)
    assert nodes.apply_event(event("update", "c", 3, color="ff0000")).changes == Changes()  # hidden already
    assert nodes.apply_event(event("add", "d", 4)).changes == Changes(overflow=True)
    assert (names(nodes), nodes.hidden) == (["a", "b"], 2)
    assert nodes.apply_event(event("remove", "a", 5)).changes == Changes(removed=((0, "uid-a"),))
    assert nodes.apply_event(event("add", "e", 6)).changes == Changes(overflow=True)  # after c and d
    assert nodes.apply_event(event("remove", "d", 7)).changes == Changes(overflow=True)
    assert (names(nodes), nodes.hidden) == (["b"], 2)  # the next snapshot fills the free place
    nodes.apply_snapshot(snapshot(7, "b", "c", "e"))
    assert (names(nodes), nodes.hidden) == (["b", "c"], 1)
    for seq in range(8, 20_008):  # a flood of distinct pods costs a counter, not memory
        nodes.apply_event(event("add", f"flood-{seq}", seq))
    assert (nodes.count, nodes.hidden) == (2, 20_001)


def test_the_cap_must_hold_at_least_one_pod() -> None:
    with pytest.raises(ValueError, match="max_pods"):
        NodeList(max_pods=0)


# -- before the first snapshot ------------------------------------------------------------


def test_queued_events_before_the_retained_snapshot_are_replayed_on_it() -> None:
    nodes = NodeList()  # a restarted agent: its session delivers queued events first
    nodes.apply_event(event("add", "c", 11))
    nodes.apply_event(event("remove", "a", 12))
    outcome = nodes.apply_snapshot(snapshot(10, "a", "b"))
    assert outcome.applied
    assert (names(nodes), nodes.last, nodes.synced) == (["b", "c"], 12, True)
    assert nodes.apply_snapshot(snapshot(10, "a", "b")).verdict is Verdict.STALE


def test_replay_skips_events_the_snapshot_already_has_and_other_epochs() -> None:
    nodes = NodeList()
    nodes.apply_event(event("add", "x", 9, epoch="old"))
    nodes.apply_event(event("add", "y", 12, epoch="old"))
    nodes.apply_snapshot(snapshot(10, "a", "x", epoch="new"))
    assert names(nodes) == ["a", "x"]


# -- epochs -------------------------------------------------------------------------------


def test_an_event_of_a_new_epoch_is_applied_as_the_next_despite_a_lower_seq() -> None:
    nodes = synced(20, "a", "b", epoch="e1")
    outcome = nodes.apply_event(event("remove", "b", 16, epoch="e2"))
    assert (outcome.verdict, outcome.resync) == (Verdict.NEW_EPOCH, False)
    assert (names(nodes), nodes.last, nodes.epoch) == (["a"], 16, "e2")
    assert nodes.apply_event(event("add", "c", 17, epoch="e2")).verdict is Verdict.APPLIED
    assert nodes.apply_event(event("add", "d", 17, epoch="e2")).verdict is Verdict.DUPLICATE


def test_a_snapshot_of_a_new_epoch_is_taken_despite_a_lower_seq() -> None:
    nodes = synced(20, "a", "b", epoch="e1")
    assert nodes.apply_snapshot(snapshot(15, "b", epoch="e2")).applied
    assert (names(nodes), nodes.last, nodes.epoch) == (["b"], 15, "e2")


def test_a_restarted_agent_meeting_the_new_epoch_before_the_old_snapshot_converges() -> None:
    nodes = NodeList()
    nodes.apply_event(event("add", "c", 16, epoch="e2"))  # queued in the session
    nodes.apply_snapshot(snapshot(15, "a", "b", epoch="e1"))  # retained, not yet republished
    assert nodes.apply_event(event("add", "d", 17, epoch="e2")).applied  # live again
    assert nodes.apply_snapshot(snapshot(17, "b", "c", "d", epoch="e2")).applied
    assert names(nodes) == ["b", "c", "d"]


def test_messages_without_epoch_keep_the_stored_epoch() -> None:
    nodes = synced(5, "a", epoch="e1")
    nodes.apply_event(event("add", "b", 6))
    nodes.apply_snapshot(snapshot(7, "a", "b"))
    assert nodes.epoch == "e1"
    assert nodes.apply_event(event("add", "c", 3, epoch="e1")).verdict is Verdict.DUPLICATE


# -- property: a model watcher, a lossy broker ----------------------------------------------


def apply(nodes: NodeList, message: Message, *, live: bool = False) -> None:
    if isinstance(message, NodeSnapshot):
        nodes.apply_snapshot(message, live=live)
    else:
        nodes.apply_event(message)


@given(before=operations, restart=st.booleans(), after=operations, data=st.data())
def test_lossy_delivery_ends_in_the_watchers_list(before: list[tuple[str, object]], restart: bool,
                                                  after: list[tuple[str, object]], data: st.DataObject) -> None:
    watcher = ModelWatcher(epoch="e0" if restart or data.draw(st.booleans()) else None)
    for op, arg in before:
        step(watcher, op, arg)
    if restart:
        watcher.restart("e1")
    for op, arg in after:
        step(watcher, op, arg)
    final = watcher.snapshot()
    nodes = NodeList()
    for message in lossy(watcher.published[:-1], data):
        apply(nodes, message)
    nodes.apply_snapshot(final)
    assert nodes.entries == final.pods


@given(ops=operations, epochs=st.booleans())
def test_in_order_delivery_matches_after_every_message(ops: list[tuple[str, object]], epochs: bool) -> None:
    watcher = ModelWatcher(epoch="e0" if epochs else None)
    nodes = NodeList()
    for op, arg in ops:
        before = len(watcher.published)
        step(watcher, op, arg)
        for message in watcher.published[before:]:
            apply(nodes, message)
        assert nodes.entries == tuple(watcher.entries.values())


# -- property: a hostile publisher on the same topics -----------------------------------------


def attacked(watcher: ModelWatcher, data: st.DataObject, *, max_pods: int = 1000) -> NodeList:
    """The watcher's messages through a lossy broker, with hostile ones anywhere among them."""
    nodes = NodeList(max_pods=max_pods)
    for message in lossy(watcher.published, data):
        for _ in range(data.draw(st.integers(0, 2))):
            forged, live = hostile(data, watcher)
            apply(nodes, forged, live=live)
        apply(nodes, message)
    for _ in range(data.draw(st.integers(1, 3))):
        forged, live = hostile(data, watcher)
        apply(nodes, forged, live=live)
    return nodes


def follow_in_order(watcher: ModelWatcher, nodes: NodeList, ops: list[tuple[str, object]]) -> None:
    """The watcher carries on, delivered in order: the list is its list every time (if capped: the
    first pods of it, every other pod counted, and exactly its first ``max_pods`` after a snapshot)."""
    for op, arg in ops:
        before = len(watcher.published)
        step(watcher, op, arg)
        for message in watcher.published[before:]:
            apply(nodes, message, live=True)
        assert_capped_truth(nodes, tuple(watcher.entries.values()), exact=op == "snapshot")


@given(before=operations, restart=st.booleans(), after=operations, epochs=st.booleans(), data=st.data())
def test_after_any_hostile_message_the_next_live_snapshot_restores_the_truth_for_good(
        before: list[tuple[str, object]], restart: bool, after: list[tuple[str, object]], epochs: bool,
        data: st.DataObject) -> None:
    watcher = ModelWatcher(epoch="e0" if epochs or restart else None)
    for op, arg in before:
        step(watcher, op, arg)
    if restart:
        watcher.restart("e1")
    nodes = attacked(watcher, data)
    final = watcher.snapshot()
    assert nodes.apply_snapshot(final, live=True).applied
    assert nodes.entries == final.pods
    follow_in_order(watcher, nodes, after)  # nothing the attacker said outlives that snapshot


@given(before=operations, after=operations, max_pods=st.integers(1, 4), data=st.data())
def test_a_capped_list_is_a_prefix_of_the_watchers_with_the_rest_counted(
        before: list[tuple[str, object]], after: list[tuple[str, object]], max_pods: int,
        data: st.DataObject) -> None:
    watcher = ModelWatcher(epoch="e0")
    for op, arg in before:
        step(watcher, op, arg)
    nodes = attacked(watcher, data, max_pods=max_pods)
    assert nodes.count <= max_pods
    final = watcher.snapshot()
    nodes.apply_snapshot(final, live=True)
    assert_capped_truth(nodes, final.pods, exact=True)
    follow_in_order(watcher, nodes, after)
