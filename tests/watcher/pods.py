"""Raw pod objects for watcher tests, shaped like the API server's JSON."""

from __future__ import annotations

from typing import Any


def raw_pod(
    name: str,
    *,
    node: str | None = "node-1",
    namespace: str = "default",
    color: str | None = "ffff00",
    phase: str = "Running",
    ready: bool = True,
    terminating: bool = False,
    created: str = "2026-11-27T00:00:00Z",
    uid: str | None = None,
    show: bool = True,
) -> dict[str, Any]:
    labels = {"app": "whoami"}
    if show:
        labels["blinkt"] = "show"
    if color is not None:
        labels["blinktColor"] = color
    meta: dict[str, Any] = {
        "name": name, "namespace": namespace, "uid": uid or f"uid-{namespace}-{name}", "labels": labels,
        "creationTimestamp": created, "resourceVersion": "1",
    }
    if terminating:
        meta["deletionTimestamp"] = "2026-11-27T00:01:00Z"
    conditions = [{"type": "Ready", "status": "True" if ready else "False"}]
    spec: dict[str, Any] = {"nodeName": node} if node else {}
    return {"metadata": meta, "spec": spec, "status": {"phase": phase, "conditions": conditions}}
