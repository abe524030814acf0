"""The watcher process: Kubernetes list/watch in, bus messages out.

Threads: one :class:`ListWatcher` per watched scope (all namespaces, or one per
``--namespace``), a snapshot flusher, and paho's network thread. The reflector core is
shared and guarded by one lock; events are published inside it, so ``seq`` order on the
wire is the order of the ledger.

Start-up: connect to the broker (retrying while it is down), read the retained
snapshots (``seeding.py``), seed the reflector with them, then list and watch. Until
every scope has listed once, nothing is republished: the old retained snapshot stays
authoritative. After that, snapshots of changed nodes are republished at most every
``snapshot_interval`` seconds, and all snapshots plus ``online`` on every reconnect
(which heals a broker that lost its retained messages).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bus.connection import BusConnection, Message
from bus.messages import OFFLINE, ONLINE, NodeSnapshot, PodEvent, utc_timestamp
from bus.topics import Topics, watcher_id
from bus.urls import BrokerAddress
from watcher.kube import PodApi, PodQuery
from watcher.podviews import MalformedPod
from watcher.reflector import Reflector
from watcher.seeding import SnapshotReader
from watcher.watching import ListWatcher

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WatcherConfig:
    broker: BrokerAddress
    nodes: frozenset[str] | None
    namespaces: tuple[str, ...] | None = None
    selector: str = "blinkt=show"
    color_label: str = "blinktColor"
    topics: Topics = field(default_factory=Topics)
    snapshot_interval: float = 0.2
    seed_timeout: float = 5.0
    min_watch_timeout: float = 300.0

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
    malformed_pods: int = 0


class Watcher:
    def __init__(self, config: WatcherConfig, api: PodApi, *, wall_clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.api = api
        self.stats = WatcherStats()
        self.epoch = f"{int(wall_clock() * 1000):x}-{uuid.uuid4().hex[:6]}"
        self.watcher_id = watcher_id(config.single_node, uuid.uuid4().hex[:8])
        self._topics = config.topics
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._live = threading.Event()
        self._announced: set[str] = set()
        self.reflector = Reflector(nodes=config.nodes, color_label=config.color_label, epoch=self.epoch,
                                   now=lambda: utc_timestamp(wall_clock()))
        self._reader = SnapshotReader(self._topics, watcher_id=self.watcher_id, nodes=config.nodes)
        node = config.single_node
        self.connection = BusConnection(
            config.broker,
            client_id=self.watcher_id,
            status_topic=self._topics.status(node) if node else self._topics.watcher_status(self.watcher_id),
            on_message=self._on_message,
            on_connect=self._on_connect,
        )
        self.list_watchers = [
            ListWatcher(api=api, query=q, sink=self, stop=self._stop, min_watch_timeout=config.min_watch_timeout)
            for q in config.queries()
        ]
        self._threads: list[threading.Thread] = []

    # -- lifecycle ----------------------------------------------------------------------

    def start(self, *, broker_wait_log_every: float = 5.0) -> None:
        """Connect (waiting as long as the broker is down), seed, then list and watch."""
        self.connection.start()
        while not self.connection.wait_connected(broker_wait_log_every):
            if self._stop.is_set():
                return
            log.warning("still waiting for broker %s", self.config.broker.redacted())
        for snapshot in self._reader.read(self.connection, timeout=self.config.seed_timeout).values():
            log.info("continuing %s from retained snapshot: seq %d, %d pods", snapshot.node, snapshot.seq,
                     len(snapshot.pods))
            self.reflector.seed(snapshot)
        with self._lock:
            self._publish_events(self.reflector.prune_outside(self.config.namespaces))
        for lw in self.list_watchers:
            self._spawn(lw.run, f"watch-{lw.query.namespace or 'all'}")
        self._spawn(self._flush_loop, "snapshots")

    def wait_synced(self, timeout: float) -> bool:
        """True once every scope has listed and the first snapshots are out."""
        return self._live.wait(timeout)

    def stop(self) -> None:
        self._stop.set()
        self.api.close()
        for thread in self._threads:
            thread.join(timeout=5)
        with self._lock:
            if self._live.is_set():
                self._publish_snapshots(self.reflector.take_dirty())
            if self.config.single_node is None:
                for node in sorted(self._announced):
                    self.connection.publish(self._topics.status(node), OFFLINE, qos=1, retain=True)
        self.connection.stop()

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    # -- Kubernetes side (Sink for ListWatcher) ------------------------------------------

    def replaced(self, namespace: str | None, pods: list[dict[str, Any]]) -> None:
        with self._lock:
            try:
                events = self.reflector.replace(namespace, pods)
            except MalformedPod as e:
                self._malformed(e)
                events = self.reflector.replace(namespace, [p for p in pods if _well_formed(p)])
            self._publish_events(events)

    def event(self, event_type: str, pod: dict[str, Any]) -> None:
        with self._lock:
            try:
                self._publish_events(self.reflector.apply(event_type, pod))
            except MalformedPod as e:
                self._malformed(e)

    def _malformed(self, error: MalformedPod) -> None:
        self.stats.malformed_pods += 1
        log.warning("skipping malformed pod object: %s", error)

    # -- bus side -----------------------------------------------------------------------

    def _flush_loop(self) -> None:
        while not all(lw.synced.wait(0.1) for lw in self.list_watchers):
            if self._stop.is_set():
                return
        with self._lock:
            self._publish_snapshots(self.reflector.snapshots())
            self.reflector.dirty.clear()
        self._live.set()
        while not self._stop.wait(self.config.snapshot_interval):
            with self._lock:
                self._publish_snapshots(self.reflector.take_dirty())

    def _on_connect(self) -> None:
        if not self._live.is_set():
            return
        with self._lock:
            self._announced.clear()
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
            if self.config.single_node is None and snapshot.node not in self._announced:
                self.connection.publish(self._topics.status(snapshot.node), ONLINE, qos=1, retain=True)
                self._announced.add(snapshot.node)


def _well_formed(pod: dict[str, Any]) -> bool:
    meta = pod.get("metadata") or {}
    return bool(meta.get("name")) and bool(meta.get("namespace"))
