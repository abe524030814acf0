"""Fixtures for the web console: the app on real HTTP over a real broker, and the whole stack.

``console_app`` serves the app (``serve_in_thread``, a free port) in front of
``RunnerControls`` over a simulated cluster on a *virtual* clock: plans run in
milliseconds and a canary parks in its pause until promoted, which makes 409s and
promote/abort testable without sleeping.

``stack`` is the demo in miniature, every part real: Mosquitto, the simulated cluster
ticking on a sped-up ``RealClock``, its API server, one in-process watcher per node
(``watcher.service.Watcher`` through the official client), the ``SimulatedExecutor`` and
``PlanRunner`` behind ``RunnerControls``, and the app served by uvicorn.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser

from bus.topics import Topics
from bus.urls import parse_broker_url
from console.app import create_app
from console.controlling import RunnerControls
from console.executors.simulated import SimulatedExecutor
from console.serving import ServerHandle, serve_in_thread
from console.traffic import SimulatedTraffic
from sim.apiserver import ApiServer
from sim.clock import RealClock, VirtualClock
from sim.cluster import Cluster, Running
from tests.console.runs import WAIT_S, SimRun, make_sim
from tests.support.brokers import BrokerEndpoint
from tests.support.browsers import chromium
from tests.support.kube import pod_api
from watcher.service import Watcher, WatcherConfig

SPEED = 8.0  # cluster seconds per real second in the end-to-end test


@dataclass
class ConsoleApp:
    handle: ServerHandle
    controls: RunnerControls
    cluster: Cluster
    topics: Topics

    @property
    def url(self) -> str:
        return self.handle.url


@pytest.fixture
def console_app(mosquitto: BrokerEndpoint, topic_prefix: str) -> Iterator[ConsoleApp]:
    cluster = Cluster(nodes=3, clock=VirtualClock())
    controls = RunnerControls(SimulatedExecutor(cluster))
    app = create_app(broker=mosquitto.url, topic_prefix=topic_prefix, controls=controls,
                     traffic=SimulatedTraffic(cluster), traffic_rate=50)  # fmt: skip
    handle = serve_in_thread(app)
    try:
        yield ConsoleApp(handle, controls, cluster, Topics(topic_prefix))
    finally:
        controls.runner.promote()  # a test may leave a canary parked in its pause
        handle.stop()
        controls.runner.wait(10)


@dataclass
class Stack:
    cluster: Cluster
    controls: RunnerControls
    handle: ServerHandle
    watchers: list[Watcher]

    @property
    def url(self) -> str:
        return self.handle.url



@pytest.fixture
def stack(mosquitto: BrokerEndpoint, topic_prefix: str) -> Iterator[Stack]:
    cluster = Cluster(nodes=3, clock=RealClock(speed=SPEED), tick=0.02)
    ticking: Running = cluster.start()
    api = ApiServer(cluster.store, bookmark_interval=0.2).start()
    watchers: list[Watcher] = []
    handle: ServerHandle | None = None
    controls = RunnerControls(SimulatedExecutor(cluster))
    try:
        for node in cluster.nodes:
            config = WatcherConfig(
                broker=parse_broker_url(mosquitto.url),
                nodes=frozenset({node}),
                topics=Topics(topic_prefix),
                snapshot_interval=0.05,
                min_watch_timeout=5,
            )
            watchers.append(Watcher(config, pod_api(api)))
            watchers[-1].start()
        app = create_app(broker=mosquitto.url, topic_prefix=topic_prefix, controls=controls,
                         traffic=SimulatedTraffic(cluster))  # fmt: skip
        handle = serve_in_thread(app)
        yield Stack(cluster, controls, handle, watchers)
    finally:
        if handle is not None:
            handle.stop()
        controls.runner.wait(10)
        for watcher in watchers:
            watcher.stop()
        api.stop()
        ticking.stop()


@pytest.fixture
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def sim() -> Iterator[SimRun]:
    run = make_sim()
    run.install()
    yield run
    assert run.runner.wait(WAIT_S)
    assert run.runner.listener_errors == 0
