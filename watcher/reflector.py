"""The reflector's pure core: watch events and relists in, bus events out.

This is the part of client-go's reflector that decides *what happened*; the loop that
lists, watches, backs off and relists lives in ``watching.py`` and feeds this core.

- A **store** of shown pods, spread over per-node :class:`NodeLedger` s (one for a node
  watcher, one per node for ``--all-nodes``).
- :meth:`Reflector.apply` takes one watch event (``ADDED``/``MODIFIED``/``DELETED``).
  A pod is shown while it is bound to a watched node and not finished; anything else
  (deleted, finished, moved out of scope) removes it.
- :meth:`Reflector.replace` takes a full list (first start, or relist after ``410
  Gone``) and diffs it against the store: pods missing from the list get a ``remove``
  (the tombstones a dropped watch never delivered), pods still present keep their place
  and get an ``update`` only if something visible changed, new pods are appended in
  creation order. This is also how a restarted watcher, seeded from its retained
  snapshot, publishes exactly the differences.
- Each watch stream covers a scope (one namespace, or all): a relist only tombstones
  pods of its own scope.
- A pod object the watcher cannot read (``podviews.MalformedPod``): :meth:`Reflector.apply`
  raises it for the caller to count and changes nothing; :meth:`Reflector.replace` reads
  the list as if that object were not in it, and returns it beside the events, so one
  bad pod never hides the others.

Nodes whose list changed are marked dirty so their snapshot gets republished.

Nodes that left the cluster: :meth:`Reflector.retire` takes an empty node out of the
snapshots (the service has checked with the API that the node is gone, and clears its
topics). Its ledger is kept aside, so that if a pod lands on a node of that name again
the node comes back with its ``seq`` continued — a subscriber that kept the old ``seq``
must not take the new events for duplicates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import NamedTuple

from bus.messages import NodeSnapshot, PodEvent
from watcher.ledgers import NodeLedger
from watcher.podviews import MalformedPod, PodView, view_pod


class Replaced(NamedTuple):
    """What a relist did: the bus events to publish, and the pod objects it skipped."""

    events: list[PodEvent]
    malformed: list[MalformedPod]


class Reflector:
    def __init__(
        self,
        *,
        nodes: Iterable[str] | None,
        color_label: str,
        version_colors: bool = True,
        epoch: str,
        now: Callable[[], str],
    ) -> None:
        """``nodes``: the nodes to show (None: every node)."""
        self._nodes = frozenset(nodes) if nodes is not None else None
        self._color_label = color_label
        self._version_colors = version_colors
        self._epoch = epoch
        self._now = now
        self.ledgers: dict[str, NodeLedger] = {n: NodeLedger(n, epoch=epoch) for n in self._nodes or ()}
        self._where: dict[str, str] = {}
        self._retired: dict[str, NodeLedger] = {}
        self.dirty: set[str] = set()

    # -- seeding from the retained snapshots --------------------------------------------

    def seed(self, snapshot: NodeSnapshot) -> None:
        """Start from a previous incarnation's snapshot: its order and its ``seq``."""
        if self._nodes is not None and snapshot.node not in self._nodes:
            return
        ledger = NodeLedger.from_snapshot(snapshot, epoch=self._epoch)
        self.ledgers[snapshot.node] = ledger
        self._where.update((key, snapshot.node) for key in ledger.keys_in_order())
        self.dirty.add(snapshot.node)

    def prune_outside(self, namespaces: Iterable[str] | None) -> list[PodEvent]:
        """Remove seeded pods that no watch stream covers (the scope changed across restarts)."""
        if namespaces is None:
            return []
        watched = set(namespaces)
        stale = [e.key for ledger in self.ledgers.values() for e in ledger.entries if e.namespace not in watched]
        return self._remove_all(stale)

    # -- watch events -------------------------------------------------------------------

    def apply(self, event_type: str, pod: object) -> list[PodEvent]:
        """One watch event → the bus events it causes (often none). Raises MalformedPod."""
        view = view_pod(pod, color_label=self._color_label, version_colors=self._version_colors)
        if event_type == "DELETED" or not self._shown(view):
            return self._remove_all([view.key])
        return self._upsert(view)

    def replace(self, namespace: str | None, pods: Iterable[object]) -> Replaced:
        """A full list for one scope → removes for vanished pods, then updates and adds."""
        views, malformed = self._views(pods)
        shown = {v.key: v for v in sorted(views, key=_creation_order) if self._shown(v)}
        vanished = [
            e.key
            for ledger in self.ledgers.values()
            for e in ledger.entries
            if e.key not in shown and (namespace is None or e.namespace == namespace)
        ]
        events = self._remove_all(vanished)
        for view in shown.values():
            events += self._upsert(view)
        return Replaced(events, malformed)

    # -- snapshots ----------------------------------------------------------------------

    def take_dirty(self) -> list[NodeSnapshot]:
        """Snapshots of the nodes that changed since the last call."""
        dirty, self.dirty = self.dirty, set()
        return [self.ledgers[n].snapshot(now=self._now()) for n in sorted(dirty)]

    def snapshots(self) -> list[NodeSnapshot]:
        return [ledger.snapshot(now=self._now()) for _, ledger in sorted(self.ledgers.items())]

    # -- nodes that left -------------------------------------------------------------------

    def empty_nodes(self) -> list[str]:
        """The shown nodes without a pod: the only ones that may have left the cluster."""
        return sorted(node for node, ledger in self.ledgers.items() if not ledger.entries)

    def retire(self, node: str) -> bool:
        """Stop showing ``node`` if it is still empty; True if it was retired."""
        ledger = self.ledgers.get(node)
        if ledger is None or ledger.entries:
            return False
        self._retired[node] = self.ledgers.pop(node)
        self.dirty.discard(node)
        return True

    # -- internals ----------------------------------------------------------------------

    def _views(self, pods: Iterable[object]) -> tuple[list[PodView], list[MalformedPod]]:
        views: list[PodView] = []
        malformed: list[MalformedPod] = []
        for pod in pods:
            try:
                views.append(view_pod(pod, color_label=self._color_label, version_colors=self._version_colors))
            except MalformedPod as e:
                malformed.append(e)
        return views, malformed

    def _shown(self, view: PodView) -> bool:
        if view.finished or view.node is None:
            return False
        return self._nodes is None or view.node in self._nodes

    def _upsert(self, view: PodView) -> list[PodEvent]:
        assert view.node is not None
        events: list[PodEvent] = []
        previous = self._where.get(view.key)
        if previous is not None and previous != view.node:
            events += self._remove_all([view.key])
        ledger = self.ledgers.get(view.node)
        if ledger is None:
            ledger = self._retired.pop(view.node, None) or NodeLedger(view.node, epoch=self._epoch)
            self.ledgers[view.node] = ledger
        event = ledger.upsert(view.entry, now=self._now())
        self._where[view.key] = view.node
        return events + self._changed(view.node, event)

    def _remove_all(self, keys: Iterable[str]) -> list[PodEvent]:
        events: list[PodEvent] = []
        for key in keys:
            node = self._where.pop(key, None)
            if node is not None:
                events += self._changed(node, self.ledgers[node].remove(key, now=self._now()))
        return events

    def _changed(self, node: str, event: PodEvent | None) -> list[PodEvent]:
        if event is None:
            return []
        self.dirty.add(node)
        return [event]


def _creation_order(view: PodView) -> tuple[str, str, str]:
    return view.created, view.entry.namespace or "", view.entry.pod
