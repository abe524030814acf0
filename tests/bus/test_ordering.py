"""The subscriber algorithm: tables for each rule, and a model watcher against lossy delivery."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bus.messages import Action, NodeSnapshot, PodEntry, PodEvent, PodState
from bus.ordering import Changes, NodeList, Verdict
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


Message = PodEvent | NodeSnapshot


@dataclass
class ModelWatcher:
    """The publisher's half of the contract, as the watcher implements it."""

    epoch: str | None
    seq: int = 0
    retained: NodeSnapshot | None = None

    def __post_init__(self) -> None:
        self.entries: dict[str, PodEntry] = {}
        self.published: list[Message] = []

    def upsert(self, pod: PodEntry) -> None:
        if self.entries.get(pod.key) == pod:
            return
        action = Action.UPDATE if pod.key in self.entries else Action.ADD
        self.entries[pod.key] = pod
        self._emit(action, pod)

    def remove(self, key: str) -> None:
        if key in self.entries:
            self._emit(Action.REMOVE, self.entries.pop(key))

    def snapshot(self) -> NodeSnapshot:
        self.retained = NodeSnapshot(node="n1", seq=self.seq, epoch=self.epoch, pods=tuple(self.entries.values()))
        self.published.append(self.retained)
        return self.retained

    def restart(self, epoch: str) -> None:
        """kill -9 and start again: seq and order continue from the last retained snapshot."""
        actual = dict(self.entries)
        base = self.retained or NodeSnapshot(node="n1", seq=0)
        self.epoch, self.seq = epoch, base.seq
        self.entries = {p.key: p for p in base.pods}
        for key in [k for k in self.entries if k not in actual]:
            self.remove(key)
        for pod in actual.values():
            self.upsert(pod)

    def _emit(self, action: Action, pod: PodEntry) -> None:
        self.seq += 1
        self.published.append(PodEvent(action=action, node="n1", seq=self.seq, epoch=self.epoch,
                                       **pod.model_dump(exclude_none=True)))


pods = st.builds(
    entry,
    st.sampled_from([f"p{i}" for i in range(5)]),
    st.sampled_from([None, "ff0000", "00ff00"]),
    st.sampled_from([None, *PodState]),
)
operation = st.one_of(
    st.tuples(st.just("upsert"), pods),
    st.tuples(st.just("remove"), st.integers(0, 7)),
    st.tuples(st.just("snapshot"), st.none()),
)
operations = st.lists(operation, max_size=25)


def step(watcher: ModelWatcher, op: str, arg: object) -> None:
    if op == "upsert" and isinstance(arg, PodEntry):
        watcher.upsert(arg)
    elif op == "remove" and isinstance(arg, int) and watcher.entries:
        watcher.remove(list(watcher.entries)[arg % len(watcher.entries)])
    elif op == "snapshot":
        watcher.snapshot()


def apply(nodes: NodeList, message: Message) -> None:
    if isinstance(message, NodeSnapshot):
        nodes.apply_snapshot(message)
    else:
        nodes.apply_event(message)


def lossy(published: list[Message], data: st.DataObject) -> list[Message]:
    """Drop, duplicate and delay messages; never across a watcher restart (one topic, in order)."""
    delivered: list[Message] = []
    segment: list[tuple[float, Message]] = []
    for index, message in enumerate(published):
        if segment and segment[-1][1].epoch != message.epoch:
            delivered += [m for _, m in sorted(segment, key=lambda pair: pair[0])]
            segment = []
        fate = data.draw(st.sampled_from(["deliver", "deliver", "drop", "duplicate", "delay"]))
        delay = data.draw(st.integers(1, 5)) if fate in ("duplicate", "delay") else 0
        if fate in ("deliver", "duplicate"):
            segment.append((index, message))
        if fate in ("duplicate", "delay"):
            segment.append((index + delay + 0.5, message))
    return delivered + [m for _, m in sorted(segment, key=lambda pair: pair[0])]


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
