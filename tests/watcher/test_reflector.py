"""The reflector's pure core: tables for each rule, properties for the diffing."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bus.messages import Action, PodState
from watcher.podviews import MalformedPod
from watcher.reflector import Reflector

from .pods import raw_pod


def reflector(nodes: list[str] | None = ["node-1"], epoch: str = "e1") -> Reflector:  # noqa: B006
    return Reflector(nodes=nodes, color_label="blinktColor", epoch=epoch, now=lambda: "2026-11-27T00:00:00.000Z")


def names(r: Reflector, node: str = "node-1") -> list[str]:
    return [e.pod for e in r.ledgers[node].entries]


def test_add_update_remove_with_seq() -> None:
    r = reflector()
    [add] = r.apply("ADDED", raw_pod("a", phase="Pending", ready=False))
    assert (add.action, add.seq, add.state) == (Action.ADD, 1, PodState.PENDING)
    assert (add.node, add.color) == ("node-1", "ffff00")
    [update] = r.apply("MODIFIED", raw_pod("a"))
    assert (update.action, update.seq, update.state) == (Action.UPDATE, 2, PodState.READY)
    assert r.apply("MODIFIED", raw_pod("a")) == []  # nothing visible changed
    [recolor] = r.apply("MODIFIED", raw_pod("a", color="#A81399"))
    assert (recolor.action, recolor.color) == (Action.UPDATE, "a81399")
    [remove] = r.apply("DELETED", raw_pod("a"))
    assert (remove.action, remove.seq, remove.pod) == (Action.REMOVE, 4, "a")
    assert all(e.epoch == "e1" for e in (add, update, recolor, remove))


def test_order_is_arrival_order_and_updates_keep_their_place() -> None:
    r = reflector()
    for name in "abc":
        r.apply("ADDED", raw_pod(name))
    r.apply("MODIFIED", raw_pod("a", terminating=True))
    r.apply("DELETED", raw_pod("b"))
    r.apply("ADDED", raw_pod("d"))
    assert names(r) == ["a", "c", "d"]


def test_finished_and_foreign_pods_are_removed() -> None:
    r = reflector()
    r.apply("ADDED", raw_pod("a"))
    r.apply("ADDED", raw_pod("b"))
    [gone] = r.apply("MODIFIED", raw_pod("a", phase="Succeeded"))
    assert gone.action is Action.REMOVE
    assert r.apply("ADDED", raw_pod("x", node="node-2")) == []
    assert r.apply("ADDED", raw_pod("y", node=None)) == []
    assert names(r) == ["b"]


def test_delete_of_unknown_pod_is_silent() -> None:
    assert reflector().apply("DELETED", raw_pod("ghost")) == []


def test_all_nodes_mode_keeps_a_ledger_per_node() -> None:
    r = reflector(nodes=None)
    r.apply("ADDED", raw_pod("a", node="n1"))
    r.apply("ADDED", raw_pod("b", node="n2"))
    [ev] = r.apply("ADDED", raw_pod("c", node="n1"))
    assert (ev.node, ev.seq) == ("n1", 2)
    assert names(r, "n1") == ["a", "c"]
    assert [s.node for s in r.take_dirty()] == ["n1", "n2"]
    assert r.take_dirty() == []


def test_relist_emits_tombstones_then_differences() -> None:
    r = reflector()
    for name in "abc":
        r.apply("ADDED", raw_pod(name))
    events, malformed = r.replace(None, [raw_pod("c", color="00ff00"), raw_pod("a"),
                                         raw_pod("e", created="2026-11-27T00:00:02Z"),
                                         raw_pod("d", created="2026-11-27T00:00:01Z")])
    assert malformed == []
    assert [(e.action, e.pod) for e in events] == [
        (Action.REMOVE, "b"), (Action.UPDATE, "c"), (Action.ADD, "d"), (Action.ADD, "e"),
    ]
    assert names(r) == ["a", "c", "d", "e"]


def test_relist_of_a_namespace_only_tombstones_its_own_pods() -> None:
    r = reflector()
    r.apply("ADDED", raw_pod("a", namespace="one"))
    r.apply("ADDED", raw_pod("b", namespace="two"))
    events = r.replace("one", []).events
    assert [(e.action, e.pod) for e in events] == [(Action.REMOVE, "a")]
    assert names(r) == ["b"]


def test_restart_continues_seq_keeps_order_and_never_re_adds() -> None:
    before = reflector(epoch="old")
    for name in "abcd":
        before.apply("ADDED", raw_pod(name))
    [snapshot] = before.snapshots()
    after = reflector(epoch="new")
    after.seed(snapshot)
    events = after.replace(None, [raw_pod("d"), raw_pod("b", ready=False), raw_pod("e"), raw_pod("a")]).events
    assert [(e.action, e.pod, e.seq) for e in events] == [
        (Action.REMOVE, "c", 5), (Action.UPDATE, "b", 6), (Action.ADD, "e", 7),
    ]
    assert names(after) == ["a", "b", "d", "e"]
    assert {e.epoch for e in events} == {"new"}


def test_prune_outside_removes_seeded_pods_of_unwatched_namespaces() -> None:
    before = reflector()
    before.apply("ADDED", raw_pod("a", namespace="keep"))
    before.apply("ADDED", raw_pod("b", namespace="drop"))
    after = reflector()
    after.seed(before.snapshots()[0])
    [event] = after.prune_outside(["keep"])
    assert (event.action, event.pod) == (Action.REMOVE, "b")
    assert after.prune_outside(None) == []


def test_seed_for_another_node_is_ignored() -> None:
    other = reflector(nodes=["node-2"])
    other.apply("ADDED", raw_pod("a", node="node-2"))
    r = reflector()
    r.seed(other.snapshots()[0])
    assert "node-2" not in r.ledgers


# -- malformed pods: skipped and returned, never raised out of a relist -------------------


def numbered(pod: dict[str, Any]) -> dict[str, Any]:
    """The issue's pod: ``metadata.name`` is a number (a check on truthiness alone let it through)."""
    pod["metadata"]["name"] = 42
    return pod


def broken(path: str, value: object) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def breaking(pod: dict[str, Any]) -> dict[str, Any]:
        *parents, leaf = path.split(".")
        target = pod
        for key in parents:
            target = target[key]
        target[leaf] = value
        return pod

    return breaking


MALFORMED = [
    numbered,
    broken("metadata", ["not", "an", "object"]),
    broken("metadata.namespace", ""),
    broken("metadata.labels", "blinkt=show"),
    broken("metadata.uid", 7),
    broken("metadata.name", "x" * 254),
    broken("spec", "node-1"),
    broken("spec.nodeName", "node/1"),
    broken("spec.nodeName", 1),
    broken("status", 3),
    broken("status.conditions", "Ready"),
    broken("status.conditions", [["Ready", "True"]]),
    broken("metadata.creationTimestamp", 20261127),
]


@pytest.mark.parametrize("malform", MALFORMED)
def test_a_malformed_pod_in_a_list_is_skipped_and_returned(malform: Callable[[dict[str, Any]], Any]) -> None:
    r = reflector()
    events, malformed = r.replace(None, [raw_pod("a"), malform(raw_pod("bad")), raw_pod("b")])
    assert [(e.action, e.pod) for e in events] == [(Action.ADD, "a"), (Action.ADD, "b")]
    assert [type(e) for e in malformed] == [MalformedPod]


@pytest.mark.parametrize("malform", MALFORMED)
def test_a_malformed_pod_in_an_event_raises_malformed_and_changes_nothing(
    malform: Callable[[dict[str, Any]], Any],
) -> None:
    r = reflector()
    r.apply("ADDED", raw_pod("bad"))
    with pytest.raises(MalformedPod):
        r.apply("MODIFIED", malform(raw_pod("bad", color="00ff00")))
    assert [(e.pod, e.color) for e in r.ledgers["node-1"].entries] == [("bad", "ffff00")]


@pytest.mark.parametrize("pod", [None, 1, "pod", [], ["metadata"]])
def test_a_list_item_that_is_no_object_is_malformed(pod: object) -> None:
    events, [error] = reflector().replace(None, [pod, raw_pod("a")])
    assert [e.pod for e in events] == ["a"] and "not an object" in str(error)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=10,
)
pod_paths = st.sampled_from(["metadata", "metadata.name", "metadata.namespace", "metadata.labels",
                             "metadata.labels.blinktColor", "metadata.uid", "metadata.deletionTimestamp",
                             "metadata.creationTimestamp", "spec", "spec.nodeName", "status", "status.phase",
                             "status.conditions"])


@given(st.lists(st.tuples(pod_paths, json_values), min_size=1, max_size=3))
def test_any_json_in_any_field_is_read_or_malformed_never_another_error(damage: list[tuple[str, object]]) -> None:
    pod = raw_pod("x")
    for path, value in damage:
        with contextlib.suppress(TypeError, KeyError):  # a parent was replaced by a non-object: damage done
            broken(path, value)(pod)
    r = reflector()
    events, malformed = r.replace(None, [pod, raw_pod("a")])
    assert "a" in [e.pod for e in events] and len(malformed) <= 1
    try:
        r.apply("MODIFIED", pod)
    except MalformedPod:
        assert malformed


# -- properties ----------------------------------------------------------------------

pod_names = st.sampled_from(list("abcdefgh"))
ops = st.lists(
    st.tuples(
        st.sampled_from(["ADDED", "MODIFIED", "DELETED"]),
        pod_names,
        st.sampled_from(["ffff00", "a81399"]),
        st.sampled_from(["Pending", "Running", "Succeeded"]),
        st.booleans(),
    ),
    max_size=40,
)


Op = tuple[str, str, str, str, bool]


def as_watch_events(operations: list[Op]) -> list[tuple[str, dict[str, Any]]]:
    """The operations as watch events; a pod created again after it was deleted or finished gets a new uid,
    as in Kubernetes."""
    generation: dict[str, int] = {}
    alive: set[str] = set()
    events = []
    for kind, name, color, phase, ready in operations:
        if kind != "DELETED" and name not in alive:
            generation[name] = generation.get(name, 0) + 1
            alive.add(name)
        if kind == "DELETED" or phase == "Succeeded":  # a finished pod never runs again
            alive.discard(name)
        uid = f"{name}-{generation.get(name, 0)}"
        events.append((kind, raw_pod(name, color=color, phase=phase, ready=ready, uid=uid)))
    return events


def world_after(operations: list[Op]) -> list[dict[str, Any]]:
    """What the API server would list after these operations."""
    world: dict[str, dict[str, Any]] = {}
    for kind, pod in as_watch_events(operations):
        if kind == "DELETED":
            world.pop(pod["metadata"]["name"], None)
        else:
            world[pod["metadata"]["name"]] = pod
    return list(world.values())


def replay(r: Reflector, operations: list[Op]) -> list[Any]:
    events = []
    for kind, pod in as_watch_events(operations):
        events += r.apply(kind, pod)
    return events


@given(ops)
def test_watching_equals_listing(operations: list[Op]) -> None:
    """Applying the events one by one ends where a fresh list of the final world starts."""
    watched = reflector()
    events = replay(watched, operations)
    listed = reflector()
    listed.replace(None, world_after(operations))
    assert {e.key: e for e in watched.ledgers["node-1"].entries} == {e.key: e for e in listed.ledgers["node-1"].entries}
    assert [e.seq for e in events] == list(range(1, len(events) + 1))


@given(ops, ops)
def test_relist_after_missed_events_publishes_exactly_the_differences(
    seen: list[Op], missed: list[Op]
) -> None:
    """A watch that lost events (410, restart) and relists ends in the same state as one that lost nothing."""
    lossy = reflector()
    replay(lossy, seen)
    before = {e.key: e for e in lossy.ledgers["node-1"].entries}
    events = lossy.replace(None, world_after(seen + missed)).events
    complete = reflector()
    replay(complete, seen + missed)
    after = lossy.ledgers["node-1"].entries
    assert [e.key for e in after] == [e.key for e in complete.ledgers["node-1"].entries if e.key in before] + [
        e.key for e in after if e.key not in before
    ]
    assert {e.key: e for e in after} == {e.key: e for e in complete.ledgers["node-1"].entries}
    for event in events:
        if event.action is Action.ADD:
            assert event.key not in before, "a pod that was already shown was added again"
        else:
            assert event.key in before
    assert len({e.key for e in events}) == len(events), "one event per changed pod"


# -- nodes that left ------------------------------------------------------------------------


def test_only_an_empty_node_can_be_retired() -> None:
    r = reflector(nodes=None)
    r.apply("ADDED", raw_pod("a", node="n1"))
    r.apply("ADDED", raw_pod("b", node="n2"))
    r.apply("DELETED", raw_pod("b", node="n2"))
    r.take_dirty()
    assert r.empty_nodes() == ["n2"]
    assert not r.retire("n1"), "a node with pods stays"
    assert not r.retire("n9"), "a node never seen"
    assert r.retire("n2")
    assert not r.retire("n2"), "once"
    assert (r.empty_nodes(), [s.node for s in r.snapshots()], r.take_dirty()) == ([], ["n1"], [])


def test_a_retired_node_comes_back_with_its_seq_continued() -> None:
    r = reflector(nodes=["node-1"])
    r.apply("ADDED", raw_pod("a"))
    r.apply("DELETED", raw_pod("a"))
    assert r.retire("node-1")
    assert r.snapshots() == []
    [add] = r.apply("ADDED", raw_pod("b"))
    assert (add.seq, add.epoch) == (3, "e1"), "a subscriber that kept seq 2 must take it"
    assert [s.node for s in r.take_dirty()] == ["node-1"]
    assert names(r) == ["b"]


def test_a_node_retired_while_dirty_publishes_no_snapshot() -> None:
    r = reflector(nodes=None)
    r.apply("ADDED", raw_pod("a", node="n1"))
    r.apply("DELETED", raw_pod("a", node="n1"))
    assert r.retire("n1")
    assert r.take_dirty() == [], "its topics are cleared, not republished"
