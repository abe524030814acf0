"""One node's ordered pod list on the subscriber side: events and snapshots in, changes out.

Pure (no paho, no clock). The rules, from the bus contract plus the ``epoch`` addition:

- An event with ``seq == last + 1`` is applied. ``seq <= last`` is a duplicate or an
  old message and is ignored. ``seq > last + 1`` is a gap: the event is applied anyway
  (it is the freshest news we have) and a resync from the retained snapshot is asked for.
- No single event moves ``last`` forward by more than :data:`MAX_SEQ_JUMP`: an event
  further ahead is a ``JUMP`` — dropped, and a resync is asked for. A real watcher never
  jumps that far between two messages a subscriber receives (its snapshots follow every
  change within a fraction of a second, and the broker keeps a session's queue in order);
  if it did (a broker that lost a long queue), the retained snapshot brings the node up
  to date at once. Without the bound one garbage ``seq`` would make every later event look
  old.
- A *live* snapshot — published by the watcher just now and delivered on an established
  subscription (MQTT's retain flag 0) — is the watcher's newest word: it is taken
  whatever its ``seq`` and ``epoch``. So a snapshot from the watcher always wins over any
  event or snapshot that came before it, however impossible its numbers: nothing one
  message claims outlives the watcher's next snapshot.
- A *retained* snapshot — the broker's stored copy, sent on (re)subscribe (retain flag
  1), e.g. the answer to a resync — may be older than events already applied: it is
  taken when its ``seq >= last``, else ignored as ``STALE``. ``>=`` (not ``>``) because
  after a gap we may have applied event N without N-1; snapshot N is then the truth.
  Taking it reconciles: pods still present keep their place and are updated in place,
  vanished ones are removed, new ones appended — so the result is the snapshot's order.
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
  watcher's first snapshot.) A foreign epoch from a hostile publisher is undone the same
  way: the watcher's next message names its own epoch again.
- Application is idempotent: ``add`` of a known key updates in place, ``update`` of an
  unknown key appends, ``remove`` of an unknown key changes nothing.

Before the first snapshot ("unsynced"), e.g. a restarted agent whose persistent session
delivers queued events *before* the retained snapshot (Mosquitto sends the queue right
after CONNACK, retained messages only after the re-SUBSCRIBE): such events are applied
and journaled, and the first retained snapshot is taken whatever its ``seq``, with the
journaled events newer than it (same epoch) replayed on top. Without this, snapshot 10
would be ignored after queued events 11 and 12, and the pods of the snapshot would stay
missing. A live first snapshot is newer than anything journaled: it is taken as it is.

Pods per node are capped at ``max_pods`` so that no stream, however long, grows a
subscriber without bound. The list holds the first ``max_pods`` pods of the node's
order; the pods after them are *hidden*: counted, not stored. A snapshot keeps its first
``max_pods`` distinct pods and counts the rest exactly. Events keep the count as well as
they can without remembering hidden pods: while pods are hidden (or the list is full), an
``add`` of an unknown pod counts one more hidden pod and stores nothing (so the stored
pods stay a prefix of the node's order), an ``update`` of an unknown pod changes nothing,
a ``remove`` of an unknown pod counts one fewer. A removed stored pod frees a place the
next snapshot fills. ``Changes.overflow`` says that the hidden count changed.

Every call returns an :class:`Outcome`: a verdict, whether to resync, and the
:class:`Changes` (added / removed with their old index / updated / moved keys) the
renderer animates.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace
from enum import StrEnum
from itertools import islice

from bus.messages import Action, NodeSnapshot, PodEntry, PodEvent

JOURNAL_LIMIT = 1024
MAX_SEQ_JUMP = 1024
DEFAULT_MAX_PODS = 1000


class Verdict(StrEnum):
    APPLIED = "applied"  # in sequence (or first of its kind)
    GAP = "gap"  # applied, but messages were missed: resync
    NEW_EPOCH = "new_epoch"  # an event of a new watcher incarnation: applied as the next
    UNSEQUENCED = "unsequenced"  # an event without seq, applied as it came
    DUPLICATE = "duplicate"  # event with seq <= last: ignored
    STALE = "stale"  # retained snapshot with seq < last: ignored
    JUMP = "jump"  # event with seq > last + MAX_SEQ_JUMP: dropped, resync


IGNORED = frozenset({Verdict.DUPLICATE, Verdict.STALE, Verdict.JUMP})
RESYNC = frozenset({Verdict.GAP, Verdict.JUMP})


@dataclass(frozen=True)
class Changes:
    """What changed in the list; ``removed`` holds (index in the old list, key).

    ``overflow``: the number of hidden pods (beyond the cap) changed.
    """

    added: tuple[str, ...] = ()
    removed: tuple[tuple[int, str], ...] = ()
    updated: tuple[str, ...] = ()
    moved: tuple[str, ...] = ()
    overflow: bool = False

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.updated or self.moved or self.overflow)


NO_CHANGES = Changes()
OVERFLOW = Changes(overflow=True)


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    changes: Changes = NO_CHANGES

    @property
    def applied(self) -> bool:
        return self.verdict not in IGNORED

    @property
    def resync(self) -> bool:
        return self.verdict in RESYNC


class NodeList:
    """The subscriber's view of one node: ordered entries (capped), hidden count, last seq, epoch."""

    def __init__(self, *, max_pods: int = DEFAULT_MAX_PODS) -> None:
        if max_pods < 1:
            raise ValueError(f"max_pods must be at least 1, got {max_pods}")
        self.max_pods = max_pods
        self._entries: dict[str, PodEntry] = {}
        self.hidden = 0
        self.last: int | None = None
        self.epoch: str | None = None
        self.synced = False
        self._journal: deque[PodEvent] = deque(maxlen=JOURNAL_LIMIT)

    @property
    def entries(self) -> tuple[PodEntry, ...]:
        return tuple(self._entries.values())

    @property
    def count(self) -> int:
        """How many pods are stored (at most ``max_pods``; ``hidden`` more are counted)."""
        return len(self._entries)

    def first(self, n: int) -> tuple[PodEntry, ...]:
        """The first ``n`` stored pods, without copying the rest (what a strip can show)."""
        return tuple(islice(self._entries.values(), n))

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
        if event.seq <= self.last:
            return Verdict.DUPLICATE
        return Verdict.GAP if event.seq - self.last <= MAX_SEQ_JUMP else Verdict.JUMP

    def _mutate(self, event: PodEvent) -> Changes:
        key = event.key
        if event.action is Action.REMOVE:
            return self._remove(key)
        old = self._entries.get(key)
        if old is None and self._full:
            return self._hide(event.action)
        entry = event.entry()
        self._entries[key] = entry  # a known key keeps its place
        if old is None:
            return Changes(added=(key,))
        return Changes(updated=(key,)) if old != entry else NO_CHANGES

    def _remove(self, key: str) -> Changes:
        if key in self._entries:
            index = list(self._entries).index(key)
            del self._entries[key]
            return Changes(removed=((index, key),))
        if self.hidden:  # most likely one of the pods beyond the cap
            self.hidden -= 1
            return OVERFLOW
        return NO_CHANGES

    @property
    def _full(self) -> bool:
        """No room, or pods already hidden (a new pod comes after them in the node's order)."""
        return self.hidden > 0 or len(self._entries) >= self.max_pods

    def _hide(self, action: Action) -> Changes:
        if action is not Action.ADD:  # an update of a pod we do not store: it is hidden already
            return NO_CHANGES
        self.hidden += 1
        return OVERFLOW

    # -- snapshots -------------------------------------------------------------------

    def apply_snapshot(self, snapshot: NodeSnapshot, *, live: bool = False) -> Outcome:
        """Take a snapshot; ``live``: published just now (not a retained copy), so it always wins."""
        new_epoch = snapshot.epoch is not None and snapshot.epoch != self.epoch
        fresh = self.last is None or snapshot.seq >= self.last
        if not live and self.synced and not new_epoch and not fresh:
            return Outcome(Verdict.STALE)
        before, hidden_before = self._entries, self.hidden
        self._entries, self.hidden = self._capped(snapshot.pods)
        self.last = snapshot.seq
        self._adopt(snapshot.epoch)
        if not self.synced and not live:
            self._replay_journal(snapshot)
        self.synced = True
        self._journal.clear()
        return Outcome(Verdict.APPLIED, replace(diff(before, self._entries), overflow=self.hidden != hidden_before))

    def _capped(self, pods: tuple[PodEntry, ...]) -> tuple[dict[str, PodEntry], int]:
        """The first ``max_pods`` distinct pods, and how many distinct others there are."""
        kept: dict[str, PodEntry] = {}
        others: set[str] = set()
        for pod in pods:
            if pod.key in kept:
                continue  # a garbage duplicate keeps its first place
            if len(kept) < self.max_pods:
                kept[pod.key] = pod.entry()
            else:
                others.add(pod.key)
        return kept, len(others)

    def _replay_journal(self, snapshot: NodeSnapshot) -> None:
        """First snapshot: re-apply the events we already had that are newer than it."""
        for event in self._journal:
            if event.seq is not None and event.seq > snapshot.seq and event.epoch in (None, self.epoch):
                self._mutate(event)
                self.last = event.seq


def diff(old: dict[str, PodEntry], new: dict[str, PodEntry]) -> Changes:
    """The changes that turn ``old`` into ``new`` (both in list order, keyed by identity)."""
    removed = tuple((i, k) for i, k in enumerate(old) if k not in new)
    added = tuple(k for k in new if k not in old)
    updated = tuple(k for k, e in new.items() if k in old and old[k] != e)
    kept_old = [k for k in old if k in new]
    kept_new = [k for k in new if k in old]
    moved = tuple(k for k, was in zip(kept_new, kept_old, strict=True) if k != was)
    return Changes(added=added, removed=removed, updated=updated, moved=moved)
