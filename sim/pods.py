"""Pod objects as the Kubernetes API serialises them, built and read without a client.

Pods are plain JSON dicts (``dict[str, Any]``) exactly as they travel on the wire, so the
store, the HTTP layer and the simulated cluster share one representation and nothing is
converted twice. ``make_pod`` builds one that the official client deserialises without
complaint (the client's models require e.g. ``image`` and ``restartCount`` on container
statuses) and that ``kubectl get pods -o wide`` prints sensibly.

Pure: no store, no HTTP. Times are passed in, never read from a clock here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

JsonDict = dict[str, Any]  # an object as the Kubernetes API sends it (the simulation's one JSON type)
Pod = JsonDict

DEFAULT_IMAGE = "traefik/whoami:v1.10"


def rfc3339(moment: datetime) -> str:
    """Kubernetes timestamps: UTC, second precision, ``Z`` suffix."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_pod(
    name: str,
    namespace: str = "default",
    *,
    node: str | None = None,
    labels: dict[str, str] | None = None,
    phase: str = "Running",
    ready: bool = True,
    uid: str | None = None,
    image: str = DEFAULT_IMAGE,
    pod_ip: str | None = None,
    deletion_timestamp: str | None = None,
    annotations: dict[str, str] | None = None,
) -> Pod:
    """A pod dict; uid, creationTimestamp and resourceVersion are left to the store."""
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "labels": dict(labels or {})}
    if uid is not None:
        metadata["uid"] = uid
    if annotations:
        metadata["annotations"] = dict(annotations)
    if deletion_timestamp is not None:
        metadata["deletionTimestamp"] = deletion_timestamp
        metadata["deletionGracePeriodSeconds"] = 30
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": image}], "restartPolicy": "Always"}
    if node is not None:
        spec["nodeName"] = node
    pod: Pod = {"metadata": metadata, "spec": spec, "status": {"phase": phase}}
    set_ready(pod, ready)
    if pod_ip is not None:
        pod["status"]["podIP"] = pod_ip
    return pod


def set_ready(pod: Pod, ready: bool) -> Pod:
    """Set the Ready condition and the container's ready flag together, as the kubelet does."""
    status = pod.setdefault("status", {})
    flag = "True" if ready and status.get("phase") == "Running" else "False"
    status["conditions"] = [
        {"type": "PodScheduled", "status": "True" if pod.get("spec", {}).get("nodeName") else "False"},
        {"type": "Ready", "status": flag},
        {"type": "ContainersReady", "status": flag},
    ]
    running = status.get("phase") == "Running"
    containers = pod.get("spec", {}).get("containers") or []
    status["containerStatuses"] = [_container_status(c, ready=flag == "True", running=running) for c in containers]
    return pod


def _container_status(container: dict[str, Any], *, ready: bool, running: bool) -> dict[str, Any]:
    return {
        "name": container["name"],
        "image": container.get("image", DEFAULT_IMAGE),
        "imageID": "",
        "ready": ready,
        "restartCount": 0,
        "started": running,
        "state": {"running": {}} if running else {"waiting": {"reason": "ContainerCreating"}},
    }


def is_ready(pod: Pod) -> bool:
    conditions = pod.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def key_of(pod: Pod) -> tuple[str, str]:
    """(namespace, name): the identity of a live pod in the store."""
    metadata = pod.get("metadata") or {}
    return metadata.get("namespace") or "default", metadata.get("name") or ""


def mark_terminating(pod: Pod, moment: datetime, *, grace_seconds: int = 30) -> Pod:
    """What the API server does on a graceful delete: set deletionTimestamp, keep the pod."""
    pod["metadata"]["deletionTimestamp"] = rfc3339(moment)
    pod["metadata"]["deletionGracePeriodSeconds"] = grace_seconds
    return pod
