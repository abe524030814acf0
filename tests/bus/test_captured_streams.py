"""The captures themselves honour the bus contract (pure: files in, checks out, no broker).

What a replay can promise depends on what was recorded: a capture that opens with the
retained state bootstraps subscribers on an empty broker; per-node ``seq`` +1 within an
epoch and snapshots equal to the events so far are what subscribers rely on; the
restart capture must show what a SIGKILLed watcher and its successor say on the bus.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from bus.captures import Capture, load_capture
from bus.messages import Action, NodeSnapshot, PodEntry, PodEvent, PodState
from tests.support.streams import (
    NAMES,
    STORIES,
    VIOLET,
    YELLOW,
    Item,
    NodeMessage,
    capture_path,
    check_story,
    follow,
    last_snapshots,
    node_streams,
    opening,
)

NODES = {"node-1", "node-2", "node-3"}
MAX_BYTES = 200_000
MAX_SECONDS = 60.0


def load(name: str) -> Capture:
    return load_capture(capture_path(name))


@pytest.mark.parametrize("name", NAMES)
def test_each_capture_is_small_short_and_only_about_nodes(name: str) -> None:
    capture = load(name)
    assert capture_path(name).stat().st_size < MAX_BYTES
    assert 0 < capture.messages[-1].offset < MAX_SECONDS
    assert capture.topics == ("nodes/#",) and capture.started
    assert set(node_streams(capture)) == NODES  # every topic is a node topic, every payload decodes


@pytest.mark.parametrize("name", NAMES)
def test_each_capture_opens_with_the_retained_state_of_every_node(name: str) -> None:
    capture = load(name)
    head = capture.messages[: opening(capture)]
    assert sorted(m.topic for m in head) == sorted(f"nodes/{n}/{kind}" for n in NODES for kind in ("state", "status"))
    assert all(m.payload == b"online" for m in head if m.topic.endswith("/status"))
    retained_kinds = {m.topic.rsplit("/", 1)[1] for m in capture.messages if m.retain}
    assert retained_kinds == {"state", "status"}  # snapshots and statuses, never events
    assert all(m.retain for m in capture.messages if m.topic.endswith(("/state", "/status")))


@pytest.mark.parametrize("name", NAMES)
def test_each_node_stream_keeps_the_ordering_contract(name: str) -> None:
    capture = load(name)
    finals = last_snapshots(capture)
    for node, stream in node_streams(capture).items():
        found = follow(node, stream)
        assert found.final == finals[node].pods
        assert not found.re_added, f"{node}: pods added twice: {found.re_added}"
        assert all(p.state is PodState.READY for p in finals[node].pods), f"{node} ends unsettled"


def test_the_restart_capture_shows_the_kill_the_new_epoch_and_only_the_differences() -> None:
    streams = node_streams(load("watcher-restart"))
    followed = {node: follow(node, stream) for node, stream in streams.items()}
    restarted = [node for node, found in followed.items() if len(found.epochs) == 2]
    assert restarted == ["node-2"]
    assert all(len(found.epochs) == 1 for node, found in followed.items() if node != "node-2")
    stream, found = streams["node-2"], followed["node-2"]
    old, new = found.epochs
    statuses = [(m.offset, m.item) for m in stream if isinstance(m.item, bytes)]
    assert [s for _, s in statuses] == [b"online", b"offline", b"online"]
    first_new = next(m for m in stream if isinstance(m.item, PodEvent) and m.item.epoch == new)
    assert statuses[1][0] < statuses[2][0] <= first_new.offset  # last will, then the successor, then its diff
    retained = [m.item for m in stream if isinstance(m.item, NodeSnapshot) and m.offset < first_new.offset][-1]
    assert retained.epoch == old
    assert found.first_event_seq[new] == retained.seq + 1  # seq continues from the retained snapshot
    new_events = [e for e in found.events if e.epoch == new]
    shown = {p.key for p in retained.pods}
    assert {e.key for e in new_events if e.action is Action.REMOVE} == shown  # every old pod went while it was down
    added = [e for e in new_events if e.action is Action.ADD]
    assert added and all(e.key not in shown for e in added)


@pytest.mark.parametrize("name", NAMES)
def test_each_capture_tells_its_story(name: str) -> None:
    check_story(load(name), STORIES[name])


def test_every_node_of_the_rolling_upgrade_adds_and_removes_pods() -> None:
    for node, stream in node_streams(load("rolling-upgrade")).items():
        actions = Counter(m.item.action for m in stream if isinstance(m.item, PodEvent))
        assert actions[Action.ADD] == actions[Action.REMOVE] == 3, f"{node}: {actions}"


def _doctored(stream: list[NodeMessage], index: int, item: Item | None) -> list[NodeMessage]:
    """The stream with message ``index`` replaced by ``item`` (or dropped when None)."""
    kept = [] if item is None else [replace(stream[index], item=item)]
    return [*stream[:index], *kept, *stream[index + 1 :]]


def test_the_checks_catch_a_doctored_stream() -> None:
    stream = node_streams(load("rolling-upgrade"))["node-1"]
    follow("node-1", stream)  # the real one passes
    events = [i for i, m in enumerate(stream) if isinstance(m.item, PodEvent)]
    snapshots = [i for i, m in enumerate(stream) if isinstance(m.item, NodeSnapshot)]
    last = stream[snapshots[-1]].item
    assert isinstance(last, NodeSnapshot)
    wrong_order = last.model_copy(update={"pods": tuple(reversed(last.pods))})
    first_event = stream[events[0]].item
    assert isinstance(first_event, PodEvent) and first_event.seq is not None
    for doctored, complaint in [
        (_doctored(stream, events[1], None), "seq"),  # a lost event
        (_doctored(stream, snapshots[-1], wrong_order), "differs from the events"),
        (_doctored(stream, events[0], first_event.model_copy(update={"seq": first_event.seq + 1})), "starts at"),
    ]:
        with pytest.raises(AssertionError, match=complaint):
            follow("node-1", doctored)


def test_an_add_of_a_pod_already_shown_is_reported() -> None:
    shown = PodEntry(pod="whoami-a", color=YELLOW, namespace="default", uid="u-a", state=PodState.READY)
    opening_snapshot = NodeSnapshot(node="node-1", seq=4, epoch="e1", pods=(shown,))
    again = PodEvent(action=Action.ADD, **shown.model_dump(), node="node-1", seq=5, epoch="e2")
    stream = [NodeMessage(0.0, True, opening_snapshot), NodeMessage(1.0, False, again)]
    found = follow("node-1", stream)
    assert found.re_added == ["whoami-a"] and found.epochs == ["e1", "e2"]


def test_a_story_that_did_not_happen_is_told_apart() -> None:
    with pytest.raises(AssertionError, match="the opening state"):
        check_story(load("blue-green"), STORIES["scaling"])
    with pytest.raises(AssertionError, match="on the way"):  # a rolling update never runs both sets at once
        check_story(load("rolling-upgrade"), ({YELLOW: 9}, {YELLOW: 9, VIOLET: 9}, {VIOLET: 9}))
    with pytest.raises(AssertionError, match="the end"):
        check_story(load("scaling"), ({YELLOW: 1}, {YELLOW: 6}, {YELLOW: 6}))
