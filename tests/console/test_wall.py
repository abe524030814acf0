"""The wall's state, pure: bus payloads in, coalesced per-node updates with removal slots out."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from bus.messages import PodEntry, PodState
from bus.topics import Topics
from console.wall import NoVictim, Wall, choose_victim, natural_key

PREFIX = "demo/"
TOPICS = Topics(PREFIX)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def flush(wall: Wall) -> list[dict[str, Any]]:
    """The wall's updates as the browser receives them (JSON)."""
    return [json.loads(update.model_dump_json()) for update in wall.flush()]


def view(wall: Wall) -> list[dict[str, Any]]:
    return [json.loads(node.model_dump_json()) for node in wall.view()]


def snapshot(node: str, seq: int, *pods: tuple[str, str, str], epoch: str = "e1") -> bytes:
    entries = [{"pod": p, "uid": p, "color": c, "state": s} for p, c, s in pods]
    return json.dumps({"v": 1, "node": node, "seq": seq, "epoch": epoch, "pods": entries}).encode()


def event(node: str, seq: int | None, action: str, pod: str, color: str = "ffff00", **kw: Any) -> bytes:
    body = {"v": 1, "action": action, "pod": pod, "uid": pod, "color": color, "node": node, "epoch": "e1", **kw}
    if seq is not None:
        body["seq"] = seq
    return json.dumps(body).encode()


def lights(update: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(p["pod"], p["color"], p["state"]) for p in update["pods"]]


@pytest.fixture
def wall() -> Wall:
    return Wall(TOPICS, clock=FakeClock())


def test_a_snapshot_and_status_make_a_node_with_its_ordered_lights(wall: Wall) -> None:
    wall.handle(TOPICS.status("node-1"), b"online")
    wall.handle(TOPICS.state("node-1"), snapshot("node-1", 3, ("a", "ffff00", "ready"), ("b", "a81399", "pending")))
    [update] = flush(wall)
    assert update["node"] == "node-1"
    assert update["status"] == "online"
    assert lights(update) == [("a", "ffff00", "ready"), ("b", "a81399", "pending")]
    assert update["removed"] == []
    assert flush(wall) == []  # nothing new since


def test_many_events_coalesce_into_one_update_per_node(wall: Wall) -> None:
    wall.handle(TOPICS.state("node-1"), snapshot("node-1", 0))
    for seq in range(1, 21):
        wall.handle(TOPICS.pods("node-1"), event("node-1", seq, "add", f"p{seq}", state="pending"))
    wall.handle(TOPICS.pods("node-2"), event("node-2", 1, "add", "q1"))
    updates = flush(wall)
    assert [u["node"] for u in updates] == ["node-1", "node-2"]
    assert [p["pod"] for p in updates[0]["pods"]] == [f"p{i}" for i in range(1, 21)]
    assert wall.counters.events_applied == 21


def test_removals_carry_their_slot_in_the_list_last_sent(wall: Wall) -> None:
    pods = [(name, "ffff00", "ready") for name in "abcde"]
    wall.handle(TOPICS.state("node-1"), snapshot("node-1", 5, *pods))
    flush(wall)
    wall.handle(TOPICS.pods("node-1"), event("node-1", 6, "remove", "b"))
    wall.handle(TOPICS.pods("node-1"), event("node-1", 7, "add", "f", color="a81399", state="pending"))
    wall.handle(TOPICS.pods("node-1"), event("node-1", 8, "remove", "d"))
    [update] = flush(wall)
    # Slots refer to a b c d e, the list the browser has: b was 1, d was 3 (not 2).
    assert update["removed"] == [{"slot": 1, "key": "b"}, {"slot": 3, "key": "d"}]
    assert [p["pod"] for p in update["pods"]] == ["a", "c", "e", "f"]


def test_a_state_change_updates_the_light_in_its_slot(wall: Wall) -> None:
    wall.handle(TOPICS.state("node-1"), snapshot("node-1", 1, ("a", "ffff00", "ready"), ("b", "ffff00", "ready")))
    flush(wall)
    wall.handle(TOPICS.pods("node-1"), event("node-1", 2, "update", "a", state="terminating"))
    [update] = flush(wall)
    assert lights(update) == [("a", "ffff00", "terminating"), ("b", "ffff00", "ready")]
    assert update["removed"] == []


def test_view_is_the_last_flushed_state_not_the_pending_one(wall: Wall) -> None:
    wall.handle(TOPICS.state("node-1"), snapshot("node-1", 1, ("a", "ffff00", "ready")))
    flush(wall)
    wall.handle(TOPICS.pods("node-1"), event("node-1", 2, "add", "b"))
    [shown] = view(wall)
    assert [p["pod"] for p in shown["pods"]] == ["a"]  # a new browser starts where the next flush continues
    [update] = flush(wall)
    assert [p["pod"] for p in update["pods"]] == ["a", "b"]
    assert [p["pod"] for p in view(wall)[0]["pods"]] == ["a", "b"]


def test_the_ordering_rules_are_the_agents(wall: Wall) -> None:
    """Duplicates and older snapshots are ignored; a gap asks for a resync, once per retry interval."""
    wall.handle(TOPICS.state("node-1"), snapshot("node-1", 5, ("a", "ffff00", "ready")))
    assert wall.handle(TOPICS.pods("node-1"), event("node-1", 5, "add", "dup")) is None
    assert wall.handle(TOPICS.state("node-1"), snapshot("node-1", 4)) is None
    assert wall.handle(TOPICS.pods("node-1"), event("node-1", 8, "add", "late")) == "node-1"
    assert wall.handle(TOPICS.pods("node-1"), event("node-1", 10, "add", "later")) is None  # resync in flight
    [update] = flush(wall)
    assert [p["pod"] for p in update["pods"]] == ["a", "late", "later"]
    assert (wall.counters.events_ignored, wall.counters.snapshots_ignored, wall.counters.resyncs) == (1, 1, 1)


def test_minimal_publishers_show_blue_and_ready(wall: Wall) -> None:
    wall.handle(TOPICS.pods("laptop"), b'{"action":"add","pod":"x"}')
    [update] = flush(wall)
    assert lights(update) == [("x", "0000ff", "ready")]
    assert update["status"] is None


def test_offline_watcher_keeps_its_lights_and_says_so(wall: Wall) -> None:
    wall.handle(TOPICS.state("node-1"), snapshot("node-1", 1, ("a", "ffff00", "ready")))
    wall.handle(TOPICS.status("node-1"), b"online")
    flush(wall)
    wall.handle(TOPICS.status("node-1"), b"offline")
    [update] = flush(wall)
    assert update["status"] == "offline"
    assert lights(update) == [("a", "ffff00", "ready")]


def test_an_empty_retained_snapshot_takes_the_node_off_the_wall(wall: Wall) -> None:
    wall.handle(TOPICS.state("node-1"), snapshot("node-1", 1, ("a", "ffff00", "ready")))
    flush(wall)
    wall.handle(TOPICS.state("node-1"), b"")
    assert flush(wall) == [{"node": "node-1", "gone": True}]
    assert view(wall) == []


@pytest.mark.parametrize(
    ("topic", "payload", "kind"),
    [
        ("demo/nodes/node-1/pods", b"not json", "not_json"),
        ("demo/nodes/node-1/pods", b'{"action":"explode","pod":"x"}', "unknown_action"),
        ("demo/nodes/node-1/pods", b'{"action":"add","pod":7}', "invalid"),
        ("demo/nodes/node-1/pods", event("node-2", 1, "add", "x"), "wrong_node"),
        ("demo/nodes/node-1/state", snapshot("node-2", 1, ("x", "ffff00", "ready")), "wrong_node"),
        ("demo/nodes/node-1/status", b"maybe", "bad_status"),
        ("demo/nodes/Node_1/pods", event("node-1", 1, "add", "x"), "unexpected_topic"),
        ("other/nodes/node-1/pods", event("node-1", 1, "add", "x"), "unexpected_topic"),
    ],
)
def test_bad_input_is_counted_and_changes_nothing(wall: Wall, topic: str, payload: bytes, kind: str) -> None:
    wall.handle(TOPICS.state("node-1"), snapshot("node-1", 0, ("a", "ffff00", "ready")))
    before = flush(wall)
    assert wall.handle(topic, payload) is None
    assert wall.bad[kind] == 1
    assert flush(wall) == []
    assert view(wall) == [{k: v for k, v in before[0].items() if k != "removed"}]


def test_nodes_are_sorted_naturally(wall: Wall) -> None:
    for node in ("node-10", "node-2", "edge", "node-1"):
        wall.handle(TOPICS.status(node), b"online")
    assert [u["node"] for u in flush(wall)] == ["edge", "node-1", "node-2", "node-10"]
    assert natural_key("node-2") < natural_key("node-10") < natural_key("nodf")


def test_a_node_not_yet_flushed_is_not_in_the_view(wall: Wall) -> None:
    wall.handle(TOPICS.state("node-1"), snapshot("node-1", 1, ("a", "ffff00", "ready")))
    assert view(wall) == []  # a new browser learns of it from the next flush, with its pods
    [update] = flush(wall)
    assert [p["pod"] for p in update["pods"]] == ["a"]
    assert [v["node"] for v in view(wall)] == ["node-1"]


def test_the_pods_shown_are_the_last_flushed_ones_with_their_nodes(wall: Wall) -> None:
    wall.handle(TOPICS.state("node-1"), snapshot("node-1", 1, ("a", "ffff00", "ready")))
    assert wall.pods() == []  # not flushed: no browser shows it yet
    flush(wall)
    wall.handle(TOPICS.state("node-2"), snapshot("node-2", 1, ("b", "ffff00", "ready")))
    assert [(node, entry.pod) for node, entry in wall.pods()] == [("node-1", "a")]


def entry(pod: str, state: PodState | None, namespace: str | None = "default") -> PodEntry:
    return PodEntry(pod=pod, uid=pod, namespace=namespace, state=state)


SHOWN = [("node-1", entry("a", PodState.TERMINATING)), ("node-1", entry("b", PodState.PENDING)),
         ("node-2", entry("c", PodState.READY)), ("node-2", entry("d", None)),
         ("node-3", entry("e", PodState.READY, namespace="other"))]  # fmt: skip


def test_a_random_victim_is_a_ready_pod_never_a_terminating_one() -> None:
    rng = random.Random(1)
    chosen = {choose_victim(SHOWN, rng)[1].pod for _ in range(200)}
    assert chosen == {"c", "d", "e"}  # ready (or no state: shown as ready)
    starting = [("node-1", entry("a", PodState.TERMINATING)), ("node-1", entry("b", PodState.PENDING))]
    assert choose_victim(starting, rng)[1].pod == "b"  # no ready pod: any that is not leaving already


@pytest.mark.parametrize(
    ("pods", "pod", "namespace", "message"),
    [
        ([], None, None, "no pod to kill"),
        ([("node-1", entry("a", PodState.TERMINATING))], None, None, "no pod to kill"),
        (SHOWN, "zzz", None, "not on the wall"),
        (SHOWN, "e", "default", "not on the wall"),
        (SHOWN, "a", None, "terminating already"),
    ],
)
def test_no_victim_is_a_clear_error(pods: list[tuple[str, PodEntry]], pod: str | None, namespace: str | None,
                                    message: str) -> None:  # fmt: skip
    with pytest.raises(NoVictim, match=message):
        choose_victim(pods, random.Random(0), pod=pod, namespace=namespace)


def test_a_named_victim_is_found_with_its_node() -> None:
    node, victim = choose_victim(SHOWN, random.Random(0), pod="e", namespace="other")
    assert (node, victim.pod, victim.namespace) == ("node-3", "e", "other")


def test_pods_beyond_the_cap_are_counted_and_sent_as_hidden() -> None:
    wall = Wall(TOPICS, clock=FakeClock(), max_pods=2)
    pods = [(name, "ffff00", "ready") for name in "abcd"]
    wall.handle(TOPICS.state("node-1"), snapshot("node-1", 4, *pods))
    [update] = flush(wall)
    assert ([p["pod"] for p in update["pods"]], update["hidden"]) == (["a", "b"], 2)
    wall.handle(TOPICS.pods("node-1"), event("node-1", 5, "add", "e"))
    [update] = flush(wall)  # only the count changed, and the browser must say so
    assert ([p["pod"] for p in update["pods"]], update["hidden"]) == (["a", "b"], 3)
    assert view(wall)[0]["hidden"] == 3


def test_a_live_snapshot_wins_over_any_seq_before_it(wall: Wall) -> None:
    wall.handle(TOPICS.state("node-1"), snapshot("node-1", 5, ("a", "ffff00", "ready")))
    wall.handle(TOPICS.pods("node-1"), event("node-1", 900, "add", "evil"))
    wall.handle(TOPICS.state("node-1"), snapshot("node-1", 6, ("a", "ffff00", "ready")), retained=False)
    [update] = flush(wall)
    assert [p["pod"] for p in update["pods"]] == ["a"]


def test_the_wall_holds_at_most_max_nodes() -> None:
    wall = Wall(TOPICS, clock=FakeClock(), max_nodes=2)
    for node in ("node-1", "node-2", "node-3"):
        wall.handle(TOPICS.status(node), b"online")
    assert [u["node"] for u in flush(wall)] == ["node-1", "node-2"]
    assert wall.bad["too_many_nodes"] == 1
