"""One node's canonical ordered pod list, and the bus messages its changes produce.

Pure. The ledger is the watcher's half of the contract: it owns ``seq`` (+1 per event,
continued across restarts from the retained snapshot) and the order (arrival order:
a new pod is appended, an updated pod keeps its place, a removed pod leaves a gap that
subscribers close). Every mutation returns the event to publish, or ``None`` when
nothing a subscriber could see has changed, so a relist after a restart publishes
exactly the differences.

``epoch`` names this watcher incarnation. Subscribers that see a new epoch forget their
``seq``: a watcher killed with ``kill -9`` may have published events after its last
retained snapshot, and its successor, continuing from that snapshot, reuses those
numbers.
"""

from __future__ import annotations

from bus.messages import Action, NodeSnapshot, PodEntry, PodEvent


class NodeLedger:
    def __init__(self, node: str, *, epoch: str, seq: int = 0, entries: tuple[PodEntry, ...] = ()) -> None:
        self.node = node
        self.epoch = epoch
        self.seq = seq
        self._entries: dict[str, PodEntry] = {e.key: e for e in entries}

    @classmethod
    def from_snapshot(cls, snapshot: NodeSnapshot, *, epoch: str) -> NodeLedger:
        return cls(snapshot.node, epoch=epoch, seq=snapshot.seq, entries=snapshot.pods)

    @property
    def entries(self) -> tuple[PodEntry, ...]:
        return tuple(self._entries.values())

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def keys_in_order(self) -> list[str]:
        return list(self._entries)

    def upsert(self, entry: PodEntry, *, now: str) -> PodEvent | None:
        """Add ``entry`` at the end, or update it in place; None if nothing visible changed."""
        old = self._entries.get(entry.key)
        if old == entry:
            return None
        self._entries[entry.key] = entry
        return self._event(Action.ADD if old is None else Action.UPDATE, entry, now)

    def remove(self, key: str, *, now: str) -> PodEvent | None:
        entry = self._entries.pop(key, None)
        return None if entry is None else self._event(Action.REMOVE, entry, now)

    def snapshot(self, *, now: str) -> NodeSnapshot:
        return NodeSnapshot(node=self.node, seq=self.seq, ts=now, epoch=self.epoch, pods=self.entries)

    def _event(self, action: Action, entry: PodEntry, now: str) -> PodEvent:
        self.seq += 1
        return PodEvent(
            action=action, pod=entry.pod, color=entry.color, namespace=entry.namespace, uid=entry.uid,
            state=entry.state, node=self.node, seq=self.seq, ts=now, epoch=self.epoch,
        )
