"""One node's ordered pod list on the subscriber side: events and snapshots in, changes out.

Pure (no paho, no clock). The rules, from the bus contract plus the ``epoch`` addition:

- An event with ``seq == last + 1`` is applied. ``seq <= last`` is a duplicate or an
  old message and is ignored. ``seq > last + 1`` is a gap: the event is applied anyway
  (it is the freshest news we have) and a resync from the retained snapshot is asked for.
- A snapshot with ``seq >= last`` is taken: pods still present keep their place and are
  updated in place, vanished ones are removed, new ones appended — so the result is the
  snapshot's order exactly. ``>=`` (not ``>``) because after a gap we may have applied
  event N without N-1; snapshot N is then the truth. Older snapshots are ignored.
- Events without ``seq`` (minimal publishers) are applied as they come.
- ``epoch`` names the watcher incarnation. A watcher killed with ``kill -9`` may have
  published events after its last retained snapshot; its successor continues ``seq``
  from that older snapshot, so numbers repeat. A message whose epoch differs from the
  last one seen forgets ``last``: the snapshot is taken unconditionally, the event is
  applied. Messages without epoch never change the stored epoch. We assume the broker
  delivers a new incarnation's messages after the old one's (one topic, one publisher
  at a time). A new epoch's event is taken as the next one, without asking for a resync: right
  after a restart the retained snapshot is still the old incarnation's (the new watcher
  republishes once it has listed), and fetching it would only roll the list back.
  (Ignoring "retired" epochs for good was considered and rejected: a restarted agent
  may meet the new epoch in its queued events *before* the old retained snapshot, and
  would then ignore the live watcher forever. As it is, every case converges at the new
  watcher's first snapshot.)
- Application is idempotent: ``add`` of a known key updates in place, ``update`` of an
  unknown key appends, ``remove`` of an unknown key changes nothing.

Before the first snapshot ("unsynced"), e.g. a restarted agent whose persistent session
delivers queued events *before* the retained snapshot (Mosquitto sends the queue right
after CONNACK, retained messages only after the re-SUBSCRIBE): such events are applied
and journaled, and the first snapshot is taken whatever its ``seq``, with the journaled
events newer than it (same epoch) replayed on top. Without this, snapshot 10 would be
ignored after queued events 11 and 12, and the pods of the snapshot would stay missing.

Every call returns an :class:`Outcome`: a verdict, whether to resync, and the
:class:`Changes` (added / removed with their old index / updated / moved keys) the
renderer animates.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import StrEnum

from bus.messages import Action, NodeSnapshot, PodEntry, PodEvent

JOURNAL_LIMIT = 1024


class Verdict(StrEnum):
    APPLIED = "applied"  # in sequence (or first of its kind)
    GAP = "gap"  # applied, but messages were missed: resync
    NEW_EPOCH = "new_epoch"  # an event of a new watcher incarnation: applied as the next
    UNSEQUENCED = "unsequenced"  # an event without seq, applied as it came
    DUPLICATE = "duplicate"  # event with seq <= last: ignored
    STALE = "stale"  # snapshot with seq < last: ignored


IGNORED = frozenset({Verdict.DUPLICATE, Verdict.STALE})


@dataclass(frozen=True)
class Changes:
    """What changed in the list; ``removed`` holds (index in the old list, key)."""

    added: tuple[str, ...] = ()
    removed: tuple[tuple[int, str], ...] = ()
    updated: tuple[str, ...] = ()
    moved: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.updated or self.moved)


NO_CHANGES = Changes()


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    changes: Changes = NO_CHANGES

    @property
    def applied(self) -> bool:
        return self.verdict not in IGNORED

    @property
    def resync(self) -> bool:
        return self.verdict is Verdict.GAP


class NodeList:
    """The subscriber's view of one node: ordered entries, last seq, epoch."""

    def __init__(self) -> None:
        self._entries: dict[str, PodEntry] = {}
        self.last: int | None = None
        self.epoch: str | None = None
        self.synced = False
        self._journal: deque[PodEvent] = deque(maxlen=JOURNAL_LIMIT)

    @property
    def entries(self) -> tuple[PodEntry, ...]:
        return tuple(self._entries.values())

    def keys(self) -> list[str]:
        return list(self._entries)

    # -- events ----------------------------------------------------------------------

    def apply_event(self, event: PodEvent) -> Outcome:
        verdict = self._judge_event(event)
        if verdict in IGNORED:
            return Outcome(verdict)
        if event.seq is not None:
            self.last = event.seq
            if not self.synced:
                self._journal.append(event)
        self._adopt(event.epoch)
        return Outcome(verdict, self._mutate(event))

    def _adopt(self, epoch: str | None) -> None:
        if epoch is not None:  # messages without epoch never change it
            self.epoch = epoch

    def _judge_event(self, event: PodEvent) -> Verdict:
        if event.seq is None:
            return Verdict.UNSEQUENCED
        if self.last is None:
            return Verdict.APPLIED
        if event.epoch is not None and event.epoch != self.epoch:
            return Verdict.NEW_EPOCH
        if event.seq == self.last + 1:
            return Verdict.APPLIED
        return Verdict.DUPLICATE if event.seq <= self.last else Verdict.GAP

    def _mutate(self, event: PodEvent) -> Changes:
        key = event.key
        if event.action is Action.REMOVE:
            if key not in self._entries:
                return NO_CHANGES
            index = list(self._entries).index(key)
            del self._entries[key]
            return Changes(removed=((index, key),))
        entry = event.entry()
        old = self._entries.get(key)
        self._entries[key] = entry  # a known key keeps its place
        if old is None:
            return Changes(added=(key,))
        return Changes(updated=(key,)) if old != entry else NO_CHANGES

    # -- snapshots -------------------------------------------------------------------

    def apply_snapshot(self, snapshot: NodeSnapshot) -> Outcome:
        new_epoch = snapshot.epoch is not None and snapshot.epoch != self.epoch
        fresh = self.last is None or snapshot.seq >= self.last
        if self.synced and not new_epoch and not fresh:
            return Outcome(Verdict.STALE)
        before = self._entries
        self._entries = {}
        for pod in snapshot.pods:
            self._entries.setdefault(pod.key, pod.entry())  # a garbage duplicate keeps its first place
        self.last = snapshot.seq
        self._adopt(snapshot.epoch)
        if not self.synced:
            self._replay_journal(snapshot)
        return Outcome(Verdict.APPLIED, diff(before, self._entries))

    def _replay_journal(self, snapshot: NodeSnapshot) -> None:
        """First snapshot: re-apply the events we already had that are newer than it."""
        self.synced = True
        for event in self._journal:
            if event.seq is not None and event.seq > snapshot.seq and event.epoch in (None, self.epoch):
                self._mutate(event)
                self.last = event.seq
        self._journal.clear()


def diff(old: dict[str, PodEntry], new: dict[str, PodEntry]) -> Changes:
    """The changes that turn ``old`` into ``new`` (both in list order, keyed by identity)."""
    removed = tuple((i, k) for i, k in enumerate(old) if k not in new)
    added = tuple(k for k in new if k not in old)
    updated = tuple(k for k, e in new.items() if k in old and old[k] != e)
    kept_old = [k for k in old if k in new]
    kept_new = [k for k in new if k in old]
    moved = tuple(k for k, was in zip(kept_new, kept_old, strict=True) if k != was)
    return Changes(added=added, removed=removed, updated=updated, moved=moved)
