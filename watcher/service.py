"""The watcher process: Kubernetes list/watch in, bus messages out.

Threads: ``start`` (connect, seed, then start the others; :meth:`Watcher.start` returns
at once), one :class:`ListWatcher` per watched scope (all namespaces, or one per
``--namespace``), ``snapshots`` (coalesced snapshots and the node status), and paho's
network thread. The reflector core is shared and guarded by one lock; events are
published inside it, so ``seq`` order on the wire is the order of the ledger.

Start-up: connect to the broker (retrying while it is down), read the retained
snapshots (``seeding.py``), seed the reflector with them, then list and watch. Until
every scope has listed once, nothing is republished: the old retained snapshot stays
authoritative. After that, snapshots of changed nodes are republished at most every
``snapshot_interval`` seconds, and all snapshots plus the status on every reconnect
(which heals a broker that lost its retained messages).

Status: ``online`` while the API answers; ``degraded`` once some scope has been unable
to list or watch for ``degraded_after`` seconds (``ScopeHealth``), ``online`` again when
it is back; ``offline`` on a clean stop (and as the last will). A node watcher says it
on ``nodes/<node>/status``; an ``--all-nodes`` watcher on every node it announced and
on its own ``watchers/<id>/status``.

Nodes that leave: a node without pods may have left the cluster. Every
``node_check_interval`` seconds the ``nodes`` thread asks the API (``NodeSource``) about the
empty nodes, and clears the topics of those it no longer has: an empty retained snapshot,
status and (``--homeassistant``) discovery config — the contract's way of saying "this node
left". A node watcher also asks once when it stops (in a DaemonSet it is stopped *because*
its node is being deleted), and clears instead of saying ``offline``. When the API cannot
answer (no ``list`` on nodes: 403), nothing is cleared.

Home Assistant (``--homeassistant``, ``homeassistant.py``): a node's discovery configs go
out, retained, with its first snapshot and again after every reconnect — never per event.

Malformed pods are skipped and counted where they are read (``podviews.view_pod``, via
the reflector), logged rate-limited; the watch goes on. Health and metrics
(``monitoring.py``) read the counters kept here and in each loop.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bus.connection import BusConnection, Message
from bus.health import Health, Metric
from bus.messages import DEGRADED, OFFLINE, ONLINE, NodeSnapshot, PodEvent, utc_timestamp
from bus.ratelimit import RateLimitedLog
from bus.topics import Topics, watcher_id
from bus.urls import BrokerAddress
from watcher import monitoring
from watcher.errors import KubeError
from watcher.homeassistant import DEFAULT_PREFIX, Discovery
from watcher.podviews import MalformedPod
from watcher.reflector import Reflector
from watcher.seeding import SnapshotReader
from watcher.sources import NodeSource, PodQuery, PodSource
from watcher.watching import ListWatcher, StallPolicy

if TYPE_CHECKING:
    from paho.mqtt.client import MQTTMessageInfo

log = logging.getLogger(__name__)

MALFORMED = "malformed_pod"
STOP_BUDGET_SECONDS = 5.0
NODE_CHECK_TIMEOUT = 10.0
NODE_CHECK_AT_STOP_TIMEOUT = 3.0


@dataclass(frozen=True)
class WatcherConfig:
    broker: BrokerAddress
    nodes: frozenset[str] | None
    namespaces: tuple[str, ...] | None = None
    selector: str = "blinkt=show"
    color_label: str = "blinktColor"
    version_colors: bool = True
    topics: Topics = field(default_factory=Topics)
    snapshot_interval: float = 0.2
    seed_timeout: float = 5.0
    min_watch_timeout: float = 300.0
    watch_read_timeout: float = 120.0
    stall_intervals: float = 2.0
    degraded_after: float = 5.0
    node_check_interval: float = 60.0
    homeassistant: bool = False
    homeassistant_prefix: str = DEFAULT_PREFIX

    @property
    def single_node(self) -> str | None:
        return next(iter(self.nodes)) if self.nodes and len(self.nodes) == 1 else None

    def queries(self) -> list[PodQuery]:
        node = self.single_node
        field_selector = f"spec.nodeName={node}" if node else None
        scopes: tuple[str | None, ...] = self.namespaces or (None,)
        return [PodQuery(namespace=ns, label_selector=self.selector, field_selector=field_selector) for ns in scopes]


@dataclass
class WatcherStats:
    published_events: int = 0
    published_snapshots: int = 0
    internal_errors: int = 0
    nodes_cleared: int = 0


class Watcher:
    def __init__(self, config: WatcherConfig, source: PodSource, *, nodes: NodeSource | None = None,
                 wall_clock: Callable[[], float] = time.time, clock: Callable[[], float] = time.monotonic) -> None:
        """``nodes``: where to check that a node has left (None: never clear a node)."""
        self.config = config
        self.source = source
        self.nodes = nodes
        self.clock = clock
        self.started = clock()
        self.stats = WatcherStats()
        self.bad_input = RateLimitedLog(log, clock=clock)
        self.epoch = f"{int(wall_clock() * 1000):x}-{uuid.uuid4().hex[:6]}"
        self.watcher_id = watcher_id(config.single_node, uuid.uuid4().hex[:8])
        self.status = ONLINE
        self._topics = config.topics
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._live = threading.Event()
        self._announced: set[str] = set()
        self._discovered: set[str] = set()
        self._own_node_left = False
        self._last_clear: MQTTMessageInfo | None = None
        self.reflector = Reflector(nodes=config.nodes, color_label=config.color_label,
                                   version_colors=config.version_colors, epoch=self.epoch,
                                   now=lambda: utc_timestamp(wall_clock()))
        self._reader = SnapshotReader(self._topics, watcher_id=self.watcher_id, nodes=config.nodes)
        node = config.single_node
        self.discovery = self._discovery() if config.homeassistant else None
        self.connection = BusConnection(
            config.broker,
            client_id=self.watcher_id,
            status_topic=self._topics.status(node) if node else self._topics.watcher_status(self.watcher_id),
            on_message=self._on_message,
            on_connect=self._on_connect,
        )
        self.list_watchers = [
            ListWatcher(source=source, query=q, sink=self, stop=self._stop, min_watch_timeout=config.min_watch_timeout,
                        stall=StallPolicy(ceiling=config.watch_read_timeout, intervals=config.stall_intervals),
                        clock=clock)
            for q in config.queries()
        ]
        self.threads: list[threading.Thread] = []
        self.start_error: str | None = None

    @property
    def malformed_pods(self) -> int:
        return self.bad_input.counts[MALFORMED]

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Return at once; connecting (as long as the broker is down), seeding and watching go on in threads."""
        self.connection.start()
        self._spawn(self._start_up, "start")

    def wait_synced(self, timeout: float) -> bool:
        """True once every scope has listed and the first snapshots are out."""
        return self._live.wait(timeout)

    def stop(self) -> None:
        """Stop the loops (within a few seconds, whatever they were doing), say ``offline``, disconnect."""
        self._stop.set()
        self._reader.abort()
        self.source.close()
        deadline = self.clock() + STOP_BUDGET_SECONDS
        joined = 0
        while joined < len(self.threads):  # "start" first: it may still add the others
            self.threads[joined].join(timeout=max(0.0, deadline - self.clock()))
            joined += 1
        node = self.config.single_node
        left = node is not None and not self._own_node_left and self._has_left(node, NODE_CHECK_AT_STOP_TIMEOUT)
        with self._lock:
            if left:
                assert node is not None
                self._clear(node)
            elif self._live.is_set():
                self._publish_snapshots(self.reflector.take_dirty())
            if node is None:
                for other in sorted(self._announced):  # what the last will cannot say
                    self.connection.publish(self._topics.status(other), OFFLINE, qos=1, retain=True)
        if self._own_node_left and self._last_clear is not None and self.connection.connected:
            # No offline to wait for: a disconnect with publishes in flight makes the broker send the last will.
            self._last_clear.wait_for_publish(STOP_BUDGET_SECONDS)
        self.connection.stop(publish_offline=not self._own_node_left)

    def _start_up(self, *, broker_wait_log_every: float = 5.0) -> None:
        try:
            if not self._wait_for_broker(broker_wait_log_every):
                return
            self._seed()
            if not self._stop.is_set():
                for lw in self.list_watchers:
                    self._spawn(lw.run, f"watch-{lw.query.scope}")
                self._spawn(self._flush_loop, "snapshots")
                if self.nodes is not None and self.config.node_check_interval > 0:
                    self._spawn(self._departures_loop, "nodes")
        except Exception as e:  # nothing runs without start-up: say so, and /healthz fails
            self.start_error = f"{type(e).__name__}: {e}"
            log.exception("start-up failed; the watcher is not watching")

    def _wait_for_broker(self, log_every: float) -> bool:
        waited = 0.0
        while not self.connection.wait_connected(0.2):
            if self._stop.is_set():
                return False
            waited += 0.2
            if waited >= log_every:
                log.warning("still waiting for broker %s", self.config.broker.redacted())
                waited = 0.0
        return not self._stop.is_set()

    def _seed(self) -> None:
        for snapshot in self._reader.read(self.connection, timeout=self.config.seed_timeout).values():
            log.info("continuing %s from retained snapshot: seq %d, %d pods", snapshot.node, snapshot.seq,
                     len(snapshot.pods))
            self.reflector.seed(snapshot)
        with self._lock:
            self._publish_events(self.reflector.prune_outside(self.config.namespaces))

    def _discovery(self) -> Discovery:
        own = None if self.config.single_node else self._topics.watcher_status(self.watcher_id)  # its last will
        return Discovery(self._topics, self.config.homeassistant_prefix, watcher_status=own)

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self.threads.append(thread)
        thread.start()

    # -- Kubernetes side (Sink for ListWatcher) ------------------------------------------

    def replaced(self, namespace: str | None, pods: list[dict[str, Any]]) -> None:
        with self._lock:
            events, malformed = self.reflector.replace(namespace, pods)
            for error in malformed:
                self._malformed(error)
            self._publish_events(events)

    def event(self, event_type: str, pod: dict[str, Any]) -> None:
        with self._lock:
            try:
                events = self.reflector.apply(event_type, pod)
            except MalformedPod as e:
                self._malformed(e)
                return
            self._publish_events(events)

    def _malformed(self, error: MalformedPod) -> None:
        self.bad_input.report(MALFORMED, "skipping a pod object: %s", error)

    # -- bus side -----------------------------------------------------------------------

    def _flush_loop(self) -> None:
        while not self._stop.wait(self.config.snapshot_interval):
            try:
                self._flush()
            except Exception:  # the next tick tries again; a bug here must not end the snapshots
                self.stats.internal_errors += 1
                log.exception("publishing snapshots failed")

    def _flush(self) -> None:
        with self._lock:
            self._update_status()
            if self._live.is_set():
                self._publish_snapshots(self.reflector.take_dirty())
            elif all(lw.synced.is_set() for lw in self.list_watchers):
                self._publish_snapshots(self.reflector.snapshots())
                self.reflector.dirty.clear()
                self._live.set()

    # -- nodes that left ------------------------------------------------------------------

    def _departures_loop(self) -> None:
        while not self._stop.wait(self.config.node_check_interval):
            try:
                self.check_departures()
            except Exception:  # the next round tries again
                self.stats.internal_errors += 1
                log.exception("checking for nodes that left failed")

    def check_departures(self) -> list[str]:
        """Clear the empty nodes the API no longer has; returns them."""
        with self._lock:
            empty = self.reflector.empty_nodes() if self._live.is_set() else []
        if not empty:
            return []
        present = self._node_names(self.config.single_node, NODE_CHECK_TIMEOUT)
        if present is None:
            return []
        with self._lock:
            left = [node for node in empty if node not in present and self.reflector.retire(node)]
            for node in left:
                self._clear(node)
        return left

    def _has_left(self, node: str, timeout: float) -> bool:
        present = self._node_names(node, timeout) if self.nodes is not None else None
        return present is not None and node not in present

    def _node_names(self, node: str | None, timeout: float) -> frozenset[str] | None:
        """The cluster's node names (or only ``node``), None when the API cannot say."""
        assert self.nodes is not None
        try:
            return self.nodes.node_names(node, timeout=timeout)
        except KubeError as e:
            with self._lock:  # the log's counts are shared with the watch threads
                self.bad_input.report(monitoring.NODE_CHECK, "cannot tell which nodes the cluster has (%s); "
                                      "none is cleared", e)
            return None

    def _clear(self, node: str) -> None:
        """The node has left: empty retained discovery configs, snapshot and status."""
        log.info("node %s has left the cluster: clearing its topics", node)
        messages = self.discovery.removals(node) if self.discovery is not None else []
        for topic in (self._topics.state(node), self._topics.status(node)):
            messages.append((topic, b""))
        for topic, payload in messages:
            self._last_clear = self.connection.publish(topic, payload, qos=1, retain=True)
        self._announced.discard(node)
        self._discovered.discard(node)
        self._own_node_left |= node == self.config.single_node
        self.stats.nodes_cleared += 1

    def _update_status(self) -> None:
        wanted = DEGRADED if self.degraded() else ONLINE
        if wanted == self.status or not self.connection.connected or self._own_node_left:
            return  # while disconnected, the reconnect (_on_connect) says it
        self.status = wanted
        if wanted == DEGRADED:
            log.warning("cannot list/watch the API for %g s: status degraded (%s)", self.config.degraded_after,
                        "; ".join(lw.health.reason for lw in self.list_watchers if not lw.health.healthy))
        else:
            log.info("listing and watching again: status online")
        self._publish_status()

    def degraded(self) -> bool:
        now = self.clock()
        return any(lw.health.unhealthy_for(now) >= self.config.degraded_after for lw in self.list_watchers)

    def _publish_status(self) -> None:
        self.connection.publish(self._own_status_topic, self.status, qos=1, retain=True)
        if self.config.single_node is None:
            for node in sorted(self._announced):
                self.connection.publish(self._topics.status(node), self.status, qos=1, retain=True)

    @property
    def _own_status_topic(self) -> str:
        assert self.connection.status_topic is not None
        return self.connection.status_topic

    def _on_connect(self) -> None:
        """Paho's thread, after the connection said ``online``: the truth again, for a broker that may have lost it."""
        with self._lock:
            self.status = DEGRADED if self.degraded() else ONLINE
            if self._own_node_left:  # the connection said online for a node that is gone
                self.connection.publish(self._own_status_topic, b"", qos=1, retain=True)
            elif self.status != ONLINE:
                self.connection.publish(self._own_status_topic, self.status, qos=1, retain=True)
            if self._live.is_set():
                self._announced.clear()
                self._discovered.clear()
                self._publish_snapshots(self.reflector.snapshots())

    def _on_message(self, message: Message) -> None:
        self._reader.handle(message)

    def _publish_events(self, events: list[PodEvent]) -> None:
        for event in events:
            assert event.node is not None
            self.connection.publish(self._topics.pods(event.node), event.to_payload(), qos=1)
            self.stats.published_events += 1

    def _publish_snapshots(self, snapshots: list[NodeSnapshot]) -> None:
        for snapshot in snapshots:
            self.connection.publish(self._topics.state(snapshot.node), snapshot.to_payload(), qos=1, retain=True)
            self.stats.published_snapshots += 1
            self._announce(snapshot.node)

    def _announce(self, node: str) -> None:
        """Once per node and connection: the node's status (unless the connection says it), the discovery configs."""
        if node not in self._announced:
            self._announced.add(node)
            if self.config.single_node is None or self._own_node_left:  # else the connection says it
                self._own_node_left = False
                self.connection.publish(self._topics.status(node), self.status, qos=1, retain=True)
        if self.discovery is not None and node not in self._discovered:
            for topic, payload in self.discovery.configs(node):
                self.connection.publish(topic, payload, qos=1, retain=True)
            self._discovered.add(node)

    # -- health and metrics (bus.health.Monitored) ----------------------------------------

    def health(self) -> Health:
        return monitoring.health_of(self)

    def metrics(self) -> list[Metric]:
        return monitoring.metrics_of(self)
