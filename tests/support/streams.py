"""Captures read as the bus contract sees them: per-node streams, and the contract's checks.

Pure: a parsed :class:`bus.captures.Capture` in, decoded events, snapshots and statuses
per node out (``bus.messages`` validates them), and :func:`follow` replays one node's
stream through the subscriber model (``bus.ordering.NodeList``) checking, message
by message, the ordering contract: ``seq`` +1 per event within an epoch, each epoch's
first event right after the snapshot the subscribers hold, and every snapshot equal to
what the events so far produced. A violation raises ``AssertionError`` naming the node,
the offset and what was wrong.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bus.captures import Capture
from bus.messages import Action, NodeSnapshot, PodEntry, PodEvent, PodState, decode_event, decode_snapshot
from bus.ordering import NodeList
from bus.topics import NodeTopic, Topics
from tests.support.paths import CAPTURES

NAMES = ("scaling", "rolling-upgrade", "watcher-restart", "canary", "blue-green")
YELLOW, VIOLET, DARK = "ffff00", "a81399", "000000"
OPENING_WINDOW = 0.5  # seconds; the generator holds a second before it acts

Item = PodEvent | NodeSnapshot | bytes  # bytes: a status payload


@dataclass(frozen=True)
class NodeMessage:
    offset: float
    retain: bool
    item: Item


@dataclass
class Followed:
    """What following one node's stream found."""

    epochs: list[str] = field(default_factory=list)  # in order of appearance
    first_event_seq: dict[str, int] = field(default_factory=dict)  # epoch → seq of its first event
    held_seq_at_epoch: dict[str, int] = field(default_factory=dict)  # epoch → seq of the snapshot held then
    re_added: list[str] = field(default_factory=list)  # adds of pods the subscriber already showed
    events: list[PodEvent] = field(default_factory=list)
    final: tuple[PodEntry, ...] = ()


def capture_path(name: str) -> Path:
    return CAPTURES / f"{name}.jsonl"


def node_streams(capture: Capture, topics: Topics | None = None) -> dict[str, list[NodeMessage]]:
    """Every node's messages in capture order, decoded (a bad payload raises ``BadMessage``)."""
    topics = topics or Topics()
    streams: dict[str, list[NodeMessage]] = {}
    for message in capture.messages:
        parsed = topics.parse(message.topic)
        item: Item
        if parsed.kind is NodeTopic.PODS:
            item = decode_event(message.payload)
        elif parsed.kind is NodeTopic.STATE:
            item = decode_snapshot(message.payload)
        else:
            item = message.payload
        streams.setdefault(parsed.node, []).append(NodeMessage(message.offset, message.retain, item))
    return streams


def opening(capture: Capture) -> int:
    """How many messages the opening holds: the retained ones the broker delivered at subscribe time.

    They are the leading run of retained messages, all within a moment of the first; a
    retained message a second later (the restart capture's last will) is news, not state.
    """
    first = capture.messages[0].offset if capture.messages else 0.0
    return next((i for i, m in enumerate(capture.messages) if not m.retain or m.offset - first > OPENING_WINDOW),
                len(capture.messages))


def last_snapshots(capture: Capture) -> dict[str, NodeSnapshot]:
    return {node: [m.item for m in stream if isinstance(m.item, NodeSnapshot)][-1]
            for node, stream in node_streams(capture).items()}


def follow(node: str, stream: list[NodeMessage]) -> Followed:
    """Apply ``stream`` to a subscriber's list, checking the ordering contract on the way."""
    start = next((i for i, m in enumerate(stream) if isinstance(m.item, NodeSnapshot)), len(stream))
    assert all(isinstance(m.item, bytes) for m in stream[:start]), f"{node}: events before the first snapshot"
    first = stream[start].item if start < len(stream) else None
    assert isinstance(first, NodeSnapshot), f"{node}: no snapshot"
    model, found = NodeList(), Followed()
    model.apply_snapshot(first)
    shown_at: dict[int, tuple[PodEntry, ...]] = {first.seq: model.entries}
    held = first.seq  # seq of the snapshot subscribers hold
    _note_epoch(found, first.epoch, node)
    for message in stream[start + 1 :]:
        where = f"{node} at {message.offset:.3f} s"
        if isinstance(message.item, PodEvent):
            _check_event(found, message.item, held=held, model=model, where=where)
            model.apply_event(message.item)
            shown_at[_seq(message.item)] = model.entries
            found.events.append(message.item)
        elif isinstance(message.item, NodeSnapshot):
            snapshot = message.item
            assert snapshot.seq in shown_at, f"{where}: snapshot seq {snapshot.seq} names no event seen"
            assert snapshot.pods == shown_at[snapshot.seq], f"{where}: snapshot {snapshot.seq} differs from the events"
            _note_epoch(found, snapshot.epoch, node)
            held = snapshot.seq
    found.final = model.entries
    return found


def _check_event(found: Followed, event: PodEvent, *, held: int, model: NodeList, where: str) -> None:
    assert event.epoch is not None and event.seq is not None, f"{where}: watchers send seq and epoch"
    if event.epoch not in found.first_event_seq:
        assert event.seq == held + 1, f"{where}: epoch {event.epoch} starts at {event.seq}, snapshot held {held}"
        found.first_event_seq[event.epoch] = event.seq
        found.held_seq_at_epoch[event.epoch] = held
        _note_epoch(found, event.epoch, where)
    else:
        assert event.epoch == found.epochs[-1], f"{where}: epoch {event.epoch} speaks again after a newer one"
        last = _seq(found.events[-1])  # epochs do not interleave: the previous event is this epoch's
        assert event.seq == last + 1, f"{where}: seq {event.seq} after {last} (epoch {event.epoch})"
    if event.action is Action.ADD and event.key in {e.key for e in model.entries}:
        found.re_added.append(event.pod)


def _note_epoch(found: Followed, epoch: str | None, where: str) -> None:
    assert epoch is not None, f"{where}: watchers always name their epoch"
    if not found.epochs or found.epochs[-1] != epoch:
        assert epoch not in found.epochs, f"{where}: epoch {epoch} came back"
        found.epochs.append(epoch)


def _seq(event: PodEvent) -> int:
    assert event.seq is not None
    return event.seq


def live_colors(capture: Capture) -> list[Counter[str]]:
    """Colours of the live (non-terminating) pods across all nodes, after each message of the capture."""
    lists: dict[str, NodeList] = {}
    after: list[Counter[str]] = []
    for parsed, message in ((Topics().parse(m.topic), m) for m in capture.messages):
        node = lists.setdefault(parsed.node, NodeList())
        if parsed.kind is NodeTopic.PODS:
            node.apply_event(decode_event(message.payload))
        elif parsed.kind is NodeTopic.STATE:
            node.apply_snapshot(decode_snapshot(message.payload))
        after.append(Counter(e.shown_color for nl in lists.values() for e in nl.entries
                             if e.state is not PodState.TERMINATING))
    return after


Story = tuple[dict[str, int], dict[str, int], dict[str, int]]

# What each scenario does (demo/capturing/scenarios.py), as colour counts of the live pods:
# at the start (the opening retained state), somewhere on the way, and at the end.
STORIES: dict[str, Story] = {
    "scaling": ({YELLOW: 1}, {YELLOW: 6}, {YELLOW: 2}),
    "rolling-upgrade": ({YELLOW: 9}, {YELLOW: 8, VIOLET: 1}, {VIOLET: 9}),
    "watcher-restart": ({YELLOW: 6}, {YELLOW: 5, VIOLET: 1}, {VIOLET: 6}),
    "canary": ({YELLOW: 6}, {YELLOW: 6, VIOLET: 1}, {VIOLET: 6}),
    "blue-green": ({YELLOW: 6}, {YELLOW: 6, VIOLET: 6}, {VIOLET: 6}),
}


def check_story(capture: Capture, story: Story) -> None:
    start, on_the_way, end = story
    after = live_colors(capture)
    assert after[opening(capture) - 1] == Counter(start), "the opening state"
    assert Counter(on_the_way) in after[opening(capture) :], f"never {on_the_way} on the way"
    assert after[-1] == Counter(end), "the end"


def lit(frame: tuple[str, ...] | list[str]) -> list[str]:
    return [color for color in frame if color != DARK]


def expected_frame(snapshot: NodeSnapshot, leds: int) -> list[str]:
    """What a device shows for a settled snapshot (every pod ready: its full colour)."""
    colors = [p.shown_color for p in snapshot.pods]
    return colors + [DARK] * (leds - len(colors))
