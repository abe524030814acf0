"""Topic names of bus contract v1, and their parsing.

All topics hang off an optional prefix (``--topic-prefix``, e.g. ``shinealight/``)::

    <prefix>nodes/<node>/pods      events, QoS 1, not retained
    <prefix>nodes/<node>/state     snapshot, retained
    <prefix>nodes/<node>/status    online/offline, retained (+ last will)
    <prefix>agents/<id>/status     online/offline, retained (+ last will)
    <prefix>agents/<id>/frame      what a device shows, retained, QoS 0
    <prefix>watchers/<id>/status   an --all-nodes watcher's online/offline (+ last will)
    <prefix>watchers/<id>/sync     a watcher's private marker while it reads its snapshots

Node names are Kubernetes node names (DNS-1123 subdomains). Names carrying MQTT
wildcards or separators (``+``, ``#``, ``/``) are rejected here, once, so no other
module has to think about topic injection.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_AGENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class TopicError(ValueError):
    """A node name, agent id, prefix or topic that the contract does not allow."""


class NodeTopic(StrEnum):
    """The three per-node topics."""

    PODS = "pods"
    STATE = "state"
    STATUS = "status"


def validate_node(node: str) -> str:
    """Return ``node`` if it is a valid Kubernetes node name, else raise TopicError."""
    if len(node) > 253 or not _DNS1123_SUBDOMAIN.match(node):
        raise TopicError(f"invalid node name {node!r}: expected a DNS-1123 subdomain")
    return node


def validate_agent_id(agent_id: str) -> str:
    """Return ``agent_id`` if it can stand in a topic level, else raise TopicError."""
    if not _AGENT_ID.match(agent_id):
        raise TopicError(f"invalid agent id {agent_id!r}: use letters, digits, '.', '_', '-'")
    return agent_id


def validate_prefix(prefix: str) -> str:
    """Return ``prefix`` if usable: empty, or ending in '/', without wildcards."""
    if any(c in prefix for c in "+#\0"):
        raise TopicError(f"invalid topic prefix {prefix!r}: no '+', '#' or NUL allowed")
    if prefix and not prefix.endswith("/"):
        raise TopicError(f"invalid topic prefix {prefix!r}: must end with '/'")
    return prefix


@dataclass(frozen=True)
class ParsedTopic:
    """A per-node topic taken apart."""

    node: str
    kind: NodeTopic


@dataclass(frozen=True)
class Topics:
    """Topic names under one prefix."""

    prefix: str = ""

    def __post_init__(self) -> None:
        validate_prefix(self.prefix)

    def node(self, node: str, kind: NodeTopic) -> str:
        return f"{self.prefix}nodes/{validate_node(node)}/{kind.value}"

    def pods(self, node: str) -> str:
        return self.node(node, NodeTopic.PODS)

    def state(self, node: str) -> str:
        return self.node(node, NodeTopic.STATE)

    def status(self, node: str) -> str:
        return self.node(node, NodeTopic.STATUS)

    def agent_status(self, agent_id: str) -> str:
        return f"{self.prefix}agents/{validate_agent_id(agent_id)}/status"

    def agent_frame(self, agent_id: str) -> str:
        return f"{self.prefix}agents/{validate_agent_id(agent_id)}/frame"

    def watcher_status(self, watcher_id: str) -> str:
        """Status of an ``--all-nodes`` watcher (its last will); node watchers use the node's."""
        return f"{self.prefix}watchers/{validate_agent_id(watcher_id)}/status"

    def watcher_sync(self, watcher_id: str) -> str:
        """A watcher's private marker topic: its own message arriving back means the retained
        snapshots it subscribed to before have all been delivered."""
        return f"{self.prefix}watchers/{validate_agent_id(watcher_id)}/sync"

    def state_filter(self) -> str:
        """Every node's retained snapshot."""
        return f"{self.prefix}nodes/+/{NodeTopic.STATE.value}"

    def node_filter(self, node: str = "+") -> str:
        """Subscription filter for every topic of ``node`` (``+`` for all nodes)."""
        if node != "+":
            validate_node(node)
        return f"{self.prefix}nodes/{node}/+"

    def parse(self, topic: str) -> ParsedTopic:
        """Take a per-node topic apart; raise TopicError for anything else."""
        if not topic.startswith(self.prefix):
            raise TopicError(f"topic {topic!r} is not under prefix {self.prefix!r}")
        parts = topic[len(self.prefix) :].split("/")
        if len(parts) != 3 or parts[0] != "nodes":
            raise TopicError(f"topic {topic!r} is not a node topic")
        try:
            kind = NodeTopic(parts[2])
        except ValueError as e:
            raise TopicError(f"topic {topic!r} has unknown kind {parts[2]!r}") from e
        return ParsedTopic(node=validate_node(parts[1]), kind=kind)
