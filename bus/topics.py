"""Topic names of bus contract v1, and their parsing.

All topics hang off an optional prefix (``--topic-prefix``, e.g. ``shinealight/``)::

    <prefix>nodes/<node>/pods      events, QoS 1, not retained (<node>: see below)
    <prefix>nodes/<node>/state     snapshot, retained
    <prefix>nodes/<node>/status    online/offline, retained (+ last will)
    <prefix>agents/<id>/status     online/offline, retained (+ last will)
    <prefix>agents/<id>/frame      what a device shows, retained, QoS 0
    <prefix>watchers/<id>/status   an --all-nodes watcher's online/offline (+ last will)
    <prefix>watchers/<id>/sync     a watcher's private marker while it reads its snapshots

Node names are Kubernetes node names (DNS-1123 subdomains). Names carrying MQTT
wildcards or separators (``+``, ``#``, ``/``) are rejected here, once, so no other
module has to think about topic injection.

No topic level ever holds a ``.``: NATS (before 2.10) refuses such a topic and drops
the connection, and RabbitMQ turns every ``.`` into a level separator
(``nodes/ip-10-0-0-1.ec2.internal/state`` arrives as
``nodes/ip-10-0-0-1/ec2/internal/state``). So the ``<node>`` level is the node name with
every ``.`` written ``_`` (:func:`node_segment`): ``ip-10-0-0-1_ec2_internal``. The
mapping is reversible because a node name never holds ``_``; :meth:`Topics.parse` maps
back, and payloads carry the real name. Every subscriber applies it the same way
(``docs/protocol.md`` tells third-party devices how). Agent ids, watcher ids and
prefixes are ours to choose, so they simply may not hold a ``.`` (the agent's
``--agent-id`` writes a dot as ``_``, as a node name's: :func:`agent_id_from`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_AGENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
_SEGMENT = re.compile(r"^[a-z0-9_-]+$")
WATCHER_NODE_CHARS = 64  # of a node's segment in a watcher id, so the id stays a short client id


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


def node_segment(node: str) -> str:
    """The topic level of ``node``: its name with every '.' written '_'."""
    return validate_node(node).replace(".", "_")


def node_from_segment(segment: str) -> str:
    """The node name of a topic level (the reverse of :func:`node_segment`); TopicError if it is none."""
    if "." in segment:
        raise TopicError(f"node level {segment!r} holds '.': publishers write a node name's dots as '_' "
                         "(docs/protocol.md)")
    if not _SEGMENT.match(segment):
        raise TopicError(f"invalid node level {segment!r}: expected a node name with '.' written '_'")
    return validate_node(segment.replace("_", "."))


def validate_agent_id(agent_id: str) -> str:
    """Return ``agent_id`` if it can stand in a topic level on every broker, else raise TopicError."""
    if not _AGENT_ID.match(agent_id):
        raise TopicError(f"invalid agent id {agent_id!r}: use up to 128 letters, digits, '_' and '-' "
                         "(no '.': NATS refuses it in topics, RabbitMQ splits topics there)")
    return agent_id


def agent_id_from(text: str) -> str:
    """An agent id given by a user (``--agent-id``, e.g. a node name): dots written '_', then validated."""
    return validate_agent_id(text.replace(".", "_"))


def watcher_id(node: str | None, token: str) -> str:
    """The id (and MQTT client id) of a watcher of ``node`` (None: all nodes), unique by ``token``."""
    scope = node_segment(node)[:WATCHER_NODE_CHARS].rstrip("_-") if node else "all"
    return validate_agent_id(f"watcher-{scope}-{token}")


def validate_prefix(prefix: str) -> str:
    """Return ``prefix`` if usable: empty, or ending in '/', without wildcards, dots or spaces."""
    if any(c in prefix for c in "+#\0"):
        raise TopicError(f"invalid topic prefix {prefix!r}: no '+', '#' or NUL allowed")
    if any(c in prefix for c in ". "):
        raise TopicError(f"invalid topic prefix {prefix!r}: no '.' or space (NATS refuses them in topics, "
                         "RabbitMQ splits topics at '.')")
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
        return f"{self.prefix}nodes/{node_segment(node)}/{kind.value}"

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
        return f"{self.prefix}nodes/{node if node == '+' else node_segment(node)}/+"

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
        return ParsedTopic(node=node_from_segment(parts[1]), kind=kind)
