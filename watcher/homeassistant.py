"""Home Assistant MQTT discovery: each node as a device with pod counts and the watcher's status.

Pure: a node in, the retained discovery messages out (topic, payload) — the service
publishes them (``--homeassistant``). Home Assistant subscribes to
``<discovery prefix>/+/+/+/config`` and builds one entity per config; entities that name the
same ``device.identifiers`` form one device. Per node::

    <discovery prefix>/sensor/<object id>/<sensor>/config     retained, QoS 1

with ``<object id>`` = ``shinealight_[<topic prefix>_]<node>`` (``.`` and anything else Home
Assistant does not allow in a topic's id levels written ``_``), and five sensors:

- ``pods``, ``ready``, ``pending``, ``unready``: counts read from the node's retained snapshot
  (``nodes/<node>/state``) by a ``value_template``. Nothing new goes on the bus for them:
  Home Assistant reads the snapshot the watcher already publishes, coalesced, and takes a new
  state only when a count changes. They are *available* while the node's status says
  ``online`` (``degraded``, ``offline`` and a cleared status: unavailable); for an
  ``--all-nodes`` watcher also only while its own ``watchers/<id>/status`` says ``online``
  (``availability_mode: all``), because that watcher's last will lands there and not on the
  nodes' statuses.
- ``status``: the node's status itself (``online`` / ``degraded`` / ``offline``), a diagnostic
  enum sensor that stays available (for an ``--all-nodes`` watcher: while the watcher is
  online), so Home Assistant shows *why* the counts are unavailable.

An empty retained payload on a config topic removes that entity, and the device with its
last entity: :func:`removals` is what the watcher publishes when a node has left the
cluster. Abbreviations are not used: the payloads stay readable, and they are retained, so
size does not matter.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from bus.topics import TopicError, Topics

DEFAULT_PREFIX = "homeassistant"
STATUS_VALUES = ("online", "degraded", "offline")
ORIGIN = {"name": "Shine a Light"}

_NOT_IN_ID = re.compile(r"[^a-zA-Z0-9_-]")
_ONLINE_OR_OFFLINE = "{{ 'online' if value == 'online' else 'offline' }}"


@dataclass(frozen=True)
class Count:
    """A sensor counting the snapshot's pods (those in ``state``, or all)."""

    key: str
    name: str
    state: str | None
    icon: str

    def template(self) -> str:
        if self.state is None:
            return "{{ value_json.pods | length }}"
        return f"{{{{ value_json.pods | selectattr('state', 'eq', '{self.state}') | list | length }}}}"


COUNTS = (
    Count("pods", "Pods", None, "mdi:kubernetes"),
    Count("ready", "Ready pods", "ready", "mdi:check-circle-outline"),
    Count("pending", "Pending pods", "pending", "mdi:timer-sand"),
    Count("unready", "Unready pods", "unready", "mdi:alert-circle-outline"),
)
STATUS_KEY = "status"
SENSOR_KEYS = (*(c.key for c in COUNTS), STATUS_KEY)


def validate_discovery_prefix(prefix: str) -> str:
    """Home Assistant's ``discovery_prefix``: topic levels as the topic prefix's (no wildcards, dots or spaces)."""
    if not prefix or prefix.startswith("/") or prefix.endswith("/") or any(c in prefix for c in "+#\0. "):
        raise TopicError(f"invalid Home Assistant discovery prefix {prefix!r}: one or more topic levels, "
                         "no '+', '#', '.', space, leading or trailing '/'")
    return prefix


@dataclass(frozen=True)
class Discovery:
    """The discovery messages of one watcher: its topics, the discovery prefix, its own status topic.

    ``watcher_status``: the ``--all-nodes`` watcher's ``watchers/<id>/status`` (None for a
    node watcher, whose last will is the node's own status).
    """

    topics: Topics
    prefix: str = DEFAULT_PREFIX
    watcher_status: str | None = None

    def __post_init__(self) -> None:
        validate_discovery_prefix(self.prefix)

    def object_id(self, node: str) -> str:
        scope = self.topics.prefix.rstrip("/")
        return _NOT_IN_ID.sub("_", f"shinealight_{scope}_{node}" if scope else f"shinealight_{node}")

    def config_topic(self, node: str, key: str) -> str:
        return f"{self.prefix}/sensor/{self.object_id(node)}/{key}/config"

    def configs(self, node: str) -> list[tuple[str, bytes]]:
        """The retained config of each sensor of ``node``."""
        configs = [(c.key, self._count(node, c)) for c in COUNTS] + [(STATUS_KEY, self._status(node))]
        return [(self.config_topic(node, key), _payload(config)) for key, config in configs]

    def removals(self, node: str) -> list[tuple[str, bytes]]:
        """Empty retained payloads on every config topic of ``node``: Home Assistant removes the device."""
        return [(self.config_topic(node, key), b"") for key in SENSOR_KEYS]

    def _count(self, node: str, count: Count) -> dict[str, Any]:
        availability = [{"topic": self.topics.status(node), "value_template": _ONLINE_OR_OFFLINE}]
        return {
            **self._common(node, count.key, count.name, count.icon),
            "state_topic": self.topics.state(node),
            "value_template": count.template(),
            "state_class": "measurement",
            "unit_of_measurement": "pods",
            "availability": availability + self._watcher_availability(),
            "availability_mode": "all",
        }

    def _status(self, node: str) -> dict[str, Any]:
        config = {
            **self._common(node, STATUS_KEY, "Watcher status", "mdi:lan-connect"),
            "state_topic": self.topics.status(node),
            "device_class": "enum",
            "options": list(STATUS_VALUES),
            "entity_category": "diagnostic",
        }
        if self.watcher_status is not None:
            config["availability"] = self._watcher_availability()
        return config

    def _common(self, node: str, key: str, name: str, icon: str) -> dict[str, Any]:
        object_id = self.object_id(node)
        return {
            "name": name,
            "unique_id": f"{object_id}_{key}",
            "icon": icon,
            "qos": 1,
            "device": {"identifiers": [object_id], "name": node, "manufacturer": "Shine a Light",
                       "model": "Kubernetes node"},
            "origin": ORIGIN,
        }

    def _watcher_availability(self) -> list[dict[str, str]]:
        if self.watcher_status is None:
            return []
        return [{"topic": self.watcher_status, "value_template": _ONLINE_OR_OFFLINE}]


def _payload(config: dict[str, Any]) -> bytes:
    return json.dumps(config, separators=(",", ":")).encode()
