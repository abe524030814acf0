"""Server-side printing: pods as a ``meta.k8s.io/v1`` Table, the way kubectl asks for them.

kubectl sends ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io,...`` for lists
and watches, and prints the Table's cells; with ``-A`` it takes the NAMESPACE column from each row's
``PartialObjectMetadata``. The columns are those of the real pod printer (the last four
are ``-o wide`` only, priority 1). Pure: the current time is a parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime

from sim.pods import JsonDict

_COLUMNS = [
    ("Name", 0, "name"),
    ("Ready", 0, ""),
    ("Status", 0, ""),
    ("Restarts", 0, ""),
    ("Age", 0, ""),
    ("IP", 1, ""),
    ("Node", 1, ""),
    ("Nominated Node", 1, ""),
    ("Readiness Gates", 1, ""),
]


def wants_table(accept: str) -> bool:
    """True when the client asks for the Table rendering (kubectl does, the Python client does not)."""
    return any("as=Table" in part and "g=meta.k8s.io" in part for part in accept.split(","))


def pod_table(
    items: list[JsonDict], *, resource_version: int | None, now: datetime | None = None, columns: bool = True
) -> JsonDict:
    moment = now or datetime.now(UTC)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {} if resource_version is None else {"resourceVersion": str(resource_version)},
        "columnDefinitions": [
            {"name": name, "type": "string", "format": fmt, "description": "", "priority": priority}
            for name, priority, fmt in (_COLUMNS if columns else [])
        ],
        "rows": [_row(pod, moment) for pod in items],
    }


def table_events(
    events: Iterable[JsonDict], *, now: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> Iterator[JsonDict]:
    """A watch as ``kubectl get -w`` asks for it: each pod becomes a one-row Table, and only
    the first carries the column definitions (as the real server does). Others pass unchanged."""
    columns = True
    for event in events:
        if event["type"] not in ("ADDED", "MODIFIED", "DELETED"):
            yield event
            continue
        version = int(event["object"]["metadata"]["resourceVersion"])
        table = pod_table([event["object"]], resource_version=version, now=now(), columns=columns)
        yield {"type": event["type"], "object": table}
        columns = False


def _row(pod: JsonDict, now: datetime) -> JsonDict:
    metadata, spec, status = pod.get("metadata", {}), pod.get("spec", {}), pod.get("status", {})
    containers = status.get("containerStatuses") or []
    ready = sum(1 for c in containers if c.get("ready"))
    restarts = sum(int(c.get("restartCount", 0)) for c in containers)
    cells = [
        metadata.get("name", ""),
        f"{ready}/{len(spec.get('containers') or [])}",
        _status(pod),
        str(restarts),
        _age(metadata.get("creationTimestamp"), now),
        status.get("podIP") or "<none>",
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        "<none>",
    ]
    partial = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": metadata}
    return {"cells": cells, "object": partial}


def _status(pod: JsonDict) -> str:
    if pod.get("metadata", {}).get("deletionTimestamp"):
        return "Terminating"
    for container in pod.get("status", {}).get("containerStatuses") or []:
        reason = (container.get("state", {}).get("waiting") or {}).get("reason")
        if reason:
            return str(reason)
    return str(pod.get("status", {}).get("phase") or "Unknown")


def _age(created: str | None, now: datetime) -> str:
    if not created:
        return "<unknown>"
    seconds = int((now - datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)).total_seconds())
    return human_duration(seconds)


def human_duration(seconds: int) -> str:
    """kubectl's short ages: ``45s``, ``3m20s``, ``42m``, ``5h10m``, ``30h``, ``3d4h``, ``200d``, ``3y20d``."""
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    steps = [
        (seconds < 0, "0s"),
        (seconds < 120, f"{seconds}s"),
        (minutes < 10, f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"),
        (hours < 3, f"{minutes}m"),
        (hours < 8, f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"),
        (hours < 48, f"{hours}h"),
        (hours < 192, f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"),
        (days < 730, f"{days}d"),
        (days < 2920, f"{days // 365}y{days % 365}d" if days % 365 else f"{days // 365}y"),
    ]
    return next((text for applies, text in steps if applies), f"{days // 365}y")
