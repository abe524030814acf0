"""The ReplicaSet controller's decisions: how many pods to create, which ones to delete.

Pure: ``PodInfo`` views in, counts and chosen pods out; the cluster does the writes.

A ReplicaSet only counts its *active* pods (``controller.FilterActivePods``: not
terminating, not Succeeded/Failed), so a pod with a deletionTimestamp is already
"gone" for it and for the Deployment controller, while it stays listed until its grace
period ends. Available means ready for at least ``minReadySeconds``, as
``podutil.IsPodAvailable`` says.

Which pods go first on a scale-down follows ``controller.ActivePodsWithRanks``:
unscheduled before scheduled, Pending before Running, not ready before ready, pods
doubled up on a node (more pods of this ReplicaSet on their node) before lone ones,
ready more recently before ready longer, created later before created earlier. So a
scale-down never removes a serving pod while a starting one could go instead, and it
evens out the spread across nodes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

_PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}


@dataclass(frozen=True)
class PodInfo:
    """One pod as the controllers see it: its JSON's facts plus the kubelet's timers."""

    namespace: str
    name: str
    owner: str | None  # the controlling ReplicaSet's name
    node: str | None
    phase: str
    ready: bool
    terminating: bool
    seq: int  # creation order
    ready_at: float | None  # cluster seconds; None while not ready

    @property
    def key(self) -> tuple[str, str]:
        return self.namespace, self.name

    @property
    def active(self) -> bool:
        return not self.terminating and self.phase not in ("Succeeded", "Failed")

    def available(self, *, now: float, min_ready_seconds: float) -> bool:
        if not (self.active and self.ready and self.ready_at is not None):
            return False
        # Compared as the timer is set (ready_at + min_ready_seconds), so float rounding cannot
        # leave a pod unavailable with no timer left to wake the controller.
        return min_ready_seconds <= 0 or now >= self.ready_at + min_ready_seconds


def deletion_order(pods: Sequence[PodInfo]) -> list[PodInfo]:
    """``pods`` sorted so the ones to delete first come first (``ActivePodsWithRanks``)."""
    on_node = Counter(p.node for p in pods)

    def rank(p: PodInfo) -> tuple[bool, int, bool, int, float, int, str]:
        recency = -(p.ready_at if p.ready and p.ready_at is not None else 0.0)
        return (p.node is not None, _PHASE_RANK.get(p.phase, 0), p.ready, -on_node[p.node], recency, -p.seq, p.name)

    return sorted(pods, key=rank)


def reconcile(desired: int, pods: Sequence[PodInfo]) -> tuple[int, list[PodInfo]]:
    """(pods to create, pods to delete) that bring the active pods to ``desired``."""
    active = [p for p in pods if p.active]
    if len(active) < desired:
        return desired - len(active), []
    return 0, deletion_order(active)[: len(active) - desired]
