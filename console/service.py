"""The console service: everything behind the page, independent of HTTP.

The wall and its own MQTT connection (with the exact-topic bootstrap for brokers that
send no retained messages to wildcard subscriptions), the hub that fans messages out to
browsers, the traffic generator and meter, the timeline, and the buttons (``Controls``).
Tickers flush the wall (every :data:`console.broadcasting.FLUSH_SECONDS`), sample the
timeline and publish traffic; ``start``/``stop`` run and end all of it. ``console.app``
serves it over HTTP.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Sequence

from bus.bootstrapping import RetainedBootstrap
from bus.connection import BusConnection, Message
from bus.ordering import DEFAULT_MAX_PODS
from bus.topics import Topics
from bus.urls import BrokerAddress, parse_brokers
from console.broadcasting import FLUSH_SECONDS, Hub, Ticker
from console.controlling import Controls
from console.messages import KilledReply, RunMessage, SplitRow, TimelineSample, TrafficMessage
from console.timeline import SAMPLE_SECONDS, Timeline, mark_of, release_of
from console.traffic import DEFAULT_RATE, LoadGenerator, TrafficRates, TrafficSource
from console.versions import Palette, split
from console.wall import Wall, choose_victim

log = logging.getLogger(__name__)

TRAFFIC_SECONDS = 1.0


class Console:
    """Everything behind the page: the wall and its MQTT connection, the hub, the traffic."""

    def __init__(
        self,
        *,
        broker: BrokerAddress | str,
        topic_prefix: str = "",
        controls: Controls,
        traffic: TrafficSource | None = None,
        traffic_rate: float = DEFAULT_RATE,
        max_pods: int = DEFAULT_MAX_PODS,
        nodes: Sequence[str] = (),
    ) -> None:
        self.topics = Topics(topic_prefix)
        self._bootstrap = RetainedBootstrap(self.topics, nodes=nodes)  # brokers that keep retained from wildcards
        self.wall = Wall(self.topics, max_pods=max_pods)
        self.controls = controls
        self.palette = Palette()
        self.palette.learn(controls.state.releases)
        self.timeline = Timeline(start=time.monotonic())
        self.hub = Hub(self.wall, controls=controls.describe, timeline=self.timeline.samples)
        self.traffic = LoadGenerator(traffic, rate=traffic_rate) if traffic is not None else None
        self.rng = random.Random()
        brokers = parse_brokers([broker]) if isinstance(broker, str) else broker
        self.connection = BusConnection(
            brokers,
            client_id=f"console-{uuid.uuid4().hex[:8]}",
            subscriptions=[(self.topics.node_filter("+"), 1)],
            on_message=self._on_message,
        )
        for topic in self._bootstrap.initial():
            self.connection.subscribe(topic, 1)
        self._tickers = [Ticker(self.hub.flush_wall, interval=FLUSH_SECONDS, name="console-wall"),
                         Ticker(self.sample_timeline, interval=SAMPLE_SECONDS, name="console-timeline")]
        if self.traffic is not None:
            self._tickers.append(Ticker(self.publish_traffic, interval=TRAFFIC_SECONDS, name="console-traffic-stats"))
        controls.on_event(self._on_run_event)

    def start(self) -> None:
        self.connection.start()
        for ticker in self._tickers:
            ticker.start()
        if self.traffic is not None:
            self.traffic.start()

    def stop(self) -> None:
        self.hub.close_all()
        for ticker in self._tickers:
            ticker.stop()
        if self.traffic is not None:
            self.traffic.stop()
        self.connection.stop(publish_offline=False)

    def publish_traffic(self) -> None:
        assert self.traffic is not None
        rates = self.traffic.rates()
        rows, failed = self._split(rates)
        self.hub.publish_traffic(TrafficMessage(by_version=rates.by_version, failed=rates.failed, idle=rates.idle,
                                                total=rates.total, weights=self.controls.weights(),
                                                rate=self.traffic.rate, rows=rows, failed_share=failed))

    def sample_timeline(self) -> TimelineSample:
        rows, failed = self._split(self.traffic.rates() if self.traffic is not None else None)
        entries = [entry for _, entry in self.wall.pods()]
        releases = self.controls.state.releases
        return self.hub.publish_timeline(lambda: self.timeline.record(
            time.monotonic(), entries=entries, releases=releases, rows=rows, failed=failed, palette=self.palette))

    def kill(self, *, pod: str | None = None, namespace: str | None = None) -> KilledReply:
        """Kill the pod asked for, or a random one the wall shows; NoVictim if there is none.

        Only the demo app's pods (named by one of its releases' Deployments): on a real
        cluster the wall may show other pods labelled to be shown, and they are not ours.
        """
        names = [release.name for release in self.controls.state.releases]
        ours = [(node, entry) for node, entry in self.wall.pods() if release_of(entry.pod, names) is not None]
        node, entry = choose_victim(ours, self.rng, pod=pod, namespace=namespace)
        self.controls.kill(entry.pod, namespace=entry.namespace)
        self.timeline.mark(f"kill {entry.pod}")
        return KilledReply(pod=entry.pod, namespace=entry.namespace, node=node)

    def _split(self, rates: TrafficRates | None) -> tuple[tuple[SplitRow, ...], int]:
        state = self.controls.state
        by_version, failed = (rates.by_version, rates.failed) if rates is not None else ({}, 0.0)
        return split(state.releases, state.weights, by_version, failed=failed, palette=self.palette)

    def _on_message(self, message: Message) -> None:
        node = self.wall.handle(message.topic, message.payload, retained=message.retain)
        if node is not None:  # missed events: the broker re-sends the retained snapshot
            log.info("%s: missed events; asking for the retained snapshot again", node)
            self._resync(node)
        change = self._bootstrap.on_message(message.topic, retained=message.retain)
        for topic in change.subscribe:
            self.connection.subscribe(topic, 1)
        for topic in change.unsubscribe:
            self.connection.unsubscribe(topic)

    def _resync(self, node: str) -> None:
        state = self.topics.state(node)
        if self._bootstrap.holds(node):  # an exact subscription of ours: renew it
            self.connection.unsubscribe(state)
            self.connection.subscribe(state, 1)
        else:  # subscribe for the retained snapshot, then leave it to the wildcard again
            self.connection.subscribe(state, 1)
            self.connection.unsubscribe(state)

    def _on_run_event(self, message: RunMessage) -> None:
        self.palette.learn(self.controls.state.releases)
        mark = mark_of(message)
        if mark is not None:
            self.timeline.mark(mark)
        self.hub.publish_run(message)
