"""What the watcher needs to know about a pod, read from its Kubernetes JSON.

Pure: a raw pod object (a dict, as the API server sends it) → :class:`PodView`.

State, as the contract defines it:
- ``terminating``: ``metadata.deletionTimestamp`` is set (the pod is still listed);
- ``pending``: bound but not running yet (phase ``Pending``, or no phase yet);
- ``ready``: phase ``Running`` and the ``Ready`` condition is ``True``;
- ``unready``: phase ``Running``, ``Ready`` missing or not ``True``.
Pods that finished (``Succeeded``/``Failed``) are not shown at all: the watcher removes
them, as ``kubectl get pods`` users expect from "running pods".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bus.messages import PodEntry, PodState, normalize_color

FINISHED_PHASES = frozenset({"Succeeded", "Failed"})


class MalformedPod(ValueError):
    """A pod object without the metadata every pod has (name, namespace)."""


@dataclass(frozen=True)
class PodView:
    name: str
    namespace: str
    uid: str
    node: str | None
    color: str | None
    state: PodState
    finished: bool

    @property
    def key(self) -> str:
        """The contract's identity (``PodEntry.key``): a pod from the API always has a namespace."""
        return self.uid or f"{self.namespace}/{self.name}"

    def entry(self) -> PodEntry:
        return PodEntry(pod=self.name, namespace=self.namespace, uid=self.uid or None, color=self.color,
                        state=self.state)


def pod_state(pod: dict[str, Any]) -> PodState:
    if pod.get("metadata", {}).get("deletionTimestamp"):
        return PodState.TERMINATING
    status = pod.get("status") or {}
    if status.get("phase") != "Running":
        return PodState.PENDING
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or ())
    return PodState.READY if ready else PodState.UNREADY


def view_pod(pod: dict[str, Any], *, color_label: str) -> PodView:
    """Read a raw pod; raise MalformedPod if it lacks a name or namespace."""
    meta = pod.get("metadata") or {}
    name, namespace = meta.get("name"), meta.get("namespace")
    if not isinstance(name, str) or not name or not isinstance(namespace, str) or not namespace:
        raise MalformedPod(f"pod without name/namespace: {str(meta)[:200]}")
    labels = meta.get("labels") or {}
    node = (pod.get("spec") or {}).get("nodeName") or None
    return PodView(
        name=name,
        namespace=namespace,
        uid=str(meta.get("uid") or ""),
        node=node if isinstance(node, str) else None,
        color=normalize_color(labels.get(color_label)),
        state=pod_state(pod),
        finished=(pod.get("status") or {}).get("phase") in FINISHED_PHASES,
    )


def resource_version(obj: dict[str, Any]) -> str | None:
    rv = (obj.get("metadata") or {}).get("resourceVersion")
    return rv if isinstance(rv, str) and rv else None
