"""The scheduler: binds each new pod to a node, spreading replicas.

Pure. The default Kubernetes scheduler scores nodes by, among others, spreading the
pods of one workload (``PodTopologySpread``'s default constraints) and by free
resources. The simulation keeps that spirit in a deterministic rule: the node with
the fewest active pods of the same *group* (the ReplicaSet: Kubernetes' default
spread constraints select a pod's siblings by its owner's selector, which includes the
``pod-template-hash``), then the fewest active pods of any kind, then the node's name.
Terminating pods do not count: they are on their way out, and a rolling update should
place new pods where the old ones leave.

Binding happens when the pod is created (``spec.nodeName`` set from the start), so a
per-node watcher sees the pod once, as ADDED, rather than an unbound pod it filters out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from bus.topics import TopicError, validate_node


def _is_node_name(name: object) -> bool:
    try:
        return isinstance(name, str) and validate_node(name) == name
    except TopicError:
        return False


def node_names(nodes: int | Sequence[str]) -> tuple[str, ...]:
    """``3`` → node-1..node-3; a list is checked (Kubernetes node names: DNS-1123 subdomains, unique)."""
    names = tuple(f"node-{i}" for i in range(1, nodes + 1)) if isinstance(nodes, int) else tuple(nodes)
    if not names:
        raise ValueError("a cluster needs at least one node")
    bad = [n for n in names if not _is_node_name(n)]
    if bad:
        raise ValueError(f"node names must be DNS-1123 subdomains: {bad}")
    if len(set(names)) != len(names):
        raise ValueError(f"node names must be unique: {list(names)}")
    return names


class Placement:
    """Node loads at one moment; ``place`` picks a node and counts the new pod there."""

    def __init__(self, nodes: Sequence[str], active: Iterable[tuple[str, str]]) -> None:
        """``active``: (node, group) of every active pod already bound."""
        self._nodes = tuple(nodes)
        self._group: Counter[tuple[str, str]] = Counter()
        self._total: Counter[str] = Counter()
        for node, group in active:
            self._group[(node, group)] += 1
            self._total[node] += 1

    def place(self, group: str) -> str:
        node = min(self._nodes, key=lambda n: (self._group[(n, group)], self._total[n], n))
        self._group[(node, group)] += 1
        self._total[node] += 1
        return node
