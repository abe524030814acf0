"""A model watcher, a lossy broker and a hostile publisher, for the subscriber's property tests.

:class:`ModelWatcher` is the publisher's half of the contract as the watcher implements
it (``seq`` +1 per event, snapshots of the whole list, a restart continuing from the last
retained snapshot under a new epoch). :func:`lossy` drops, duplicates and delays its
messages the way a broker and a reconnecting subscriber can. :func:`hostile` draws what
anyone with write access to ``nodes/#`` could send instead: impossible and plausible
``seq`` numbers, foreign and borrowed epochs, old messages replayed, other nodes' and
made-up pods; :func:`hostile_payload` adds what no decoder should choke on (garbage,
nested JSON, huge numbers, oversized, wrong node, wrong topic, bad status).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from hypothesis import strategies as st

from bus.messages import MAX_PAYLOAD_BYTES, MAX_SEQ, Action, NodeSnapshot, PodEntry, PodEvent, PodState
from bus.ordering import MAX_SEQ_JUMP, NodeList
from tests.support.messages import entry

Message = PodEvent | NodeSnapshot
Delivery = tuple[Message, bool]  # a message, and whether it arrives live (not a retained copy)
NAMES = [f"p{i}" for i in range(5)]


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
    st.sampled_from(NAMES),
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


def assert_capped_truth(nodes: NodeList, truth: tuple[PodEntry, ...], *, exact: bool) -> None:
    """``nodes`` holds the first pods of ``truth`` and counts the others; ``exact`` (after a
    snapshot): all of its first ``max_pods``. (After events alone a removed pod's place
    stays free until the next snapshot: the list does not know the hidden pods.)"""
    assert nodes.entries == truth[: nodes.count] and nodes.count + nodes.hidden == len(truth)
    assert nodes.count <= nodes.max_pods
    if exact:
        assert nodes.count == min(len(truth), nodes.max_pods)


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


# -- the hostile publisher ------------------------------------------------------------------


def _seq_near(data: st.DataObject, watcher: ModelWatcher) -> int:
    """A seq an attacker picks: anywhere, or just past the bound, or plausibly near the watcher's."""
    return data.draw(st.one_of(
        st.integers(0, MAX_SEQ),
        st.just(MAX_SEQ),
        st.integers(-3, 2 * MAX_SEQ_JUMP + 2).map(lambda offset: max(0, watcher.seq + offset)),
    ))


def _epoch(data: st.DataObject, watcher: ModelWatcher) -> str | None:
    return data.draw(st.sampled_from([None, watcher.epoch, "evil", "e0", "e1", "x" * 253]))


def hostile(data: st.DataObject, watcher: ModelWatcher) -> Delivery:
    """One hostile message: forged events and snapshots, or a real one replayed, live or not."""
    kind = data.draw(st.sampled_from(["event", "event", "snapshot", "replay"]))
    live = data.draw(st.booleans())
    if kind == "replay" and watcher.published:
        return data.draw(st.sampled_from(watcher.published)), live
    name = data.draw(st.sampled_from([*NAMES, "evil", "evil-2"]))
    pod = entry(name, data.draw(st.sampled_from([None, "ffffff"])), data.draw(st.sampled_from([None, *PodState])))
    seq, epoch = _seq_near(data, watcher), _epoch(data, watcher)
    if kind == "snapshot":
        others = data.draw(st.lists(st.sampled_from([*NAMES, "evil"]), max_size=6))
        return NodeSnapshot(node="n1", seq=seq, epoch=epoch, pods=(pod, *map(entry, others))), live
    action = data.draw(st.sampled_from(list(Action)))
    forged = PodEvent(action=action, node="n1", seq=data.draw(st.one_of(st.none(), st.just(seq))), epoch=epoch,
                      **pod.model_dump(exclude_none=True))
    return forged, live


RAW_GARBAGE = [
    b"",
    b"\xff\xfe\x00",
    b"not json",
    b"[" * 100_000,
    b"[" * 60_000,
    b"[" * 5_000 + b"]" * 5_000,
    b'{"action":"add","pod":"x","seq":' + b"9" * 5_000 + b"}",
    b'{"action":"add","pod":"x","seq":' + str(MAX_SEQ + 1).encode() + b"}",
    b'{"action":"add","pod":"x","seq":1' + b"0" * 30 + b"}",
    b'{"action":' + b"[" * 990 + b"]" * 990 + b',"pod":"x"}',
    b'{"v":' + b"[" * 3_000 + b"]" * 3_000 + b',"action":"add","pod":"x"}',
    b'{"action":"add","pod":"x","junk":' + b'{"a":' * 2_000 + b"1" + b"}" * 2_000 + b"}",
    b'{"action":"add","pod":"x","seq":1e400}',
    b'{"action":"add","pod":"x","seq":NaN}',
    b'{"action":"add","pod":"\\ud800"}',
    b'{"action":"add","pod":"' + b"x" * (MAX_PAYLOAD_BYTES + 1) + b'"}',
    b'{"node":"n1","seq":1,"pods":[' + b'{"pod":"a"},' * 5_000 + b'{"pod":"z"}]}',
    b'{"action":"remove","pod":"p1","uid":"uid-p1","node":"n2","seq":1}',
    b'{"node":"n2","seq":1,"pods":[]}',
    b"online",
    b"sleeping",
    b"\x00" * 64,
]


def hostile_payload(data: st.DataObject) -> tuple[str, bytes]:
    """A payload no decoder should choke on, and the kind of topic it goes to."""
    kind = data.draw(st.sampled_from(["pods", "state", "status", "color", "other-node"]))
    payload = data.draw(st.one_of(st.sampled_from(RAW_GARBAGE), st.binary(max_size=64),
                                  st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=4),
                                               lambda inner: st.lists(inner, max_size=3)
                                               | st.dictionaries(st.sampled_from(["action", "pod", "seq", "node",
                                                                                  "pods", "v", "epoch"]),
                                                                 inner, max_size=4),
                                               max_leaves=12).map(lambda v: json.dumps(v).encode())))
    return kind, payload
