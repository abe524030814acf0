"""What the watcher needs to know about a pod, read from its Kubernetes JSON.

Pure: a raw pod object (a dict, as the API server sends it) → :class:`PodView`.

State, as the contract defines it:
- ``terminating``: ``metadata.deletionTimestamp`` is set (the pod is still listed);
- ``pending``: bound but not running yet (phase ``Pending``, or no phase yet);
- ``ready``: phase ``Running`` and the ``Ready`` condition is ``True``;
- ``unready``: phase ``Running``, ``Ready`` missing or not ``True``.
Pods that finished (``Succeeded``/``Failed``) are not shown at all: the watcher removes
them, as ``kubectl get pods`` users expect from "running pods".

One validation: :func:`view_pod` is the only code that reads a raw pod, and it checks
every field it reads (types, the contract's lengths through ``PodEntry``, the node name
through ``bus.topics``). Whatever it cannot read is a :class:`MalformedPod` — never
another exception — so the reflector can skip that one pod, count it and go on.

Colour: the colour label (``--color-label``) when it holds a colour — an explicit label
always wins —, else, with ``version_colors``, the automatic colour of the pod's version
(``palettes.py``), else none (devices show blue). A label that is not a colour counts as
no label.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from bus.messages import PodEntry, PodState, normalize_color
from bus.topics import TopicError, validate_node
from watcher.palettes import version_color, version_key

FINISHED_PHASES = frozenset({"Succeeded", "Failed"})
SHOWN_CHARS = 200


class MalformedPod(ValueError):
    """A pod object the watcher cannot read: not an object, no name or namespace, wrong types."""


@dataclass(frozen=True)
class PodView:
    """A pod as read: its contract entry (validated), where it runs, whether it finished, when it was made."""

    entry: PodEntry
    node: str | None
    finished: bool
    created: str

    @property
    def key(self) -> str:
        """The contract's identity (``PodEntry.key``): a pod from the API always has a namespace."""
        return self.entry.key

    @property
    def name(self) -> str:
        return self.entry.pod

    @property
    def namespace(self) -> str | None:
        return self.entry.namespace

    @property
    def uid(self) -> str:
        return self.entry.uid or ""

    @property
    def color(self) -> str | None:
        return self.entry.color

    @property
    def state(self) -> PodState:
        assert self.entry.state is not None  # view_pod always reads one
        return self.entry.state


def view_pod(pod: object, *, color_label: str, version_colors: bool = True) -> PodView:
    """Read a raw pod; raise MalformedPod for anything the watcher could not publish."""
    if not isinstance(pod, dict):
        raise MalformedPod(f"pod is not an object: {type(pod).__name__}")
    meta, spec, status = (_section(pod, key) for key in ("metadata", "spec", "status"))
    name, namespace = meta.get("name"), meta.get("namespace")
    if not isinstance(name, str) or not name or not isinstance(namespace, str) or not namespace:
        raise MalformedPod(f"pod without name/namespace: {str(meta)[:SHOWN_CHARS]}")
    labels = _section(meta, "labels")
    try:
        entry = PodEntry(pod=name, namespace=namespace, uid=_optional_text(meta, "uid"),
                         color=_color(labels, color_label, version_colors), state=_state(meta, status))
    except ValidationError as e:
        raise MalformedPod(f"pod {namespace}/{name:.100}: {e.errors()[0]['msg']}") from e
    phase = status.get("phase")
    return PodView(entry=entry, node=_node(spec), finished=isinstance(phase, str) and phase in FINISHED_PHASES,
                   created=_optional_text(meta, "creationTimestamp") or "")


def pod_state(pod: dict[str, Any]) -> PodState:
    return _state(_section(pod, "metadata"), _section(pod, "status"))


def _state(meta: dict[str, Any], status: dict[str, Any]) -> PodState:
    if meta.get("deletionTimestamp"):
        return PodState.TERMINATING
    if status.get("phase") != "Running":
        return PodState.PENDING
    conditions = status.get("conditions") or []
    if not isinstance(conditions, list) or not all(isinstance(c, dict) for c in conditions):
        raise MalformedPod(f"status.conditions is not a list of objects: {str(conditions)[:SHOWN_CHARS]}")
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    return PodState.READY if ready else PodState.UNREADY


def _color(labels: dict[str, Any], color_label: str, version_colors: bool) -> str | None:
    explicit = normalize_color(labels.get(color_label))
    if explicit is not None or not version_colors:
        return explicit
    key = version_key(labels)
    return version_color(key) if key is not None else None


def _section(obj: dict[str, Any], key: str) -> dict[str, Any]:
    value = obj.get(key) or {}
    if not isinstance(value, dict):
        raise MalformedPod(f"{key} is not an object: {str(value)[:SHOWN_CHARS]}")
    return value


def _optional_text(meta: dict[str, Any], key: str) -> str | None:
    value = meta.get(key)
    if value is not None and not isinstance(value, str):
        raise MalformedPod(f"metadata.{key} is not a string: {str(value)[:SHOWN_CHARS]}")
    return value or None


def _node(spec: dict[str, Any]) -> str | None:
    node = spec.get("nodeName") or None
    if node is None:
        return None
    if not isinstance(node, str):
        raise MalformedPod(f"spec.nodeName is not a string: {str(node)[:SHOWN_CHARS]}")
    try:
        return validate_node(node)
    except TopicError as e:
        raise MalformedPod(str(e)[:SHOWN_CHARS]) from e


def resource_version(obj: dict[str, Any]) -> str | None:
    meta = obj.get("metadata")
    rv = meta.get("resourceVersion") if isinstance(meta, dict) else None
    return rv if isinstance(rv, str) and rv else None
