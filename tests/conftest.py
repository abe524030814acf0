"""Session fixtures on real parts: a Mosquitto on a free port, MQTT probes.

The broker: the local ``mosquitto`` binary; else testcontainers' Mosquitto where a
Docker engine answers; else a clear error. Never the system broker on 1883.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import paho.mqtt.client as mqtt
import pytest
from hypothesis import HealthCheck, settings
from paho.mqtt.enums import CallbackAPIVersion

from broker.launching import find_mosquitto, start_mosquitto

# CI machines are small and shared: judge properties, not generation speed.
settings.register_profile("ci", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci")


@dataclass(frozen=True)
class BrokerEndpoint:
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"


def _docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        import docker

        docker.from_env().ping()
    except Exception:
        return False
    return True


@pytest.fixture(scope="session")
def mosquitto() -> Iterator[BrokerEndpoint]:
    if find_mosquitto():
        broker = start_mosquitto(persistence=False)
        try:
            yield BrokerEndpoint("127.0.0.1", broker.port)
        finally:
            broker.stop()
        return
    if _docker_available():
        from testcontainers.mqtt import MosquittoContainer

        with MosquittoContainer() as container:
            yield BrokerEndpoint(container.get_container_host_ip(), int(container.get_exposed_port(1883)))
        return
    pytest.fail("no broker for the tests: install mosquitto (apt-get install mosquitto) or run Docker")


@pytest.fixture
def topic_prefix() -> str:
    """A prefix of its own per test, so tests sharing the session broker never meet."""
    return f"t{uuid.uuid4().hex[:10]}/"


class Probe:
    """A plain paho subscriber that records what arrives, for assertions."""

    def __init__(self, endpoint: BrokerEndpoint, topic_filter: str) -> None:
        self.messages: list[mqtt.MQTTMessage] = []
        self._cond = threading.Condition()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"probe-{uuid.uuid4().hex[:8]}")
        self._client.on_message = self._on_message
        subscribed = threading.Event()
        self._client.on_subscribe = lambda *_: subscribed.set()
        self._client.connect(endpoint.host, endpoint.port)
        self._client.subscribe(topic_filter, qos=1)
        self._client.loop_start()
        assert subscribed.wait(5), "probe could not subscribe"

    def _on_message(self, _c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        with self._cond:
            self.messages.append(msg)
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[list[mqtt.MQTTMessage]], bool], timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.messages):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    topics = [(m.topic, m.payload[:80]) for m in self.messages[-10:]]
                    raise AssertionError(f"condition not met within {timeout} s; last messages: {topics}")
                self._cond.wait(remaining)

    def close(self) -> None:
        self._client.disconnect()  # first, so the network loop sees it and stops at once
        self._client.loop_stop()


@pytest.fixture
def probe(mosquitto: BrokerEndpoint) -> Iterator[Callable[[str], Probe]]:
    probes: list[Probe] = []

    def make(topic_filter: str) -> Probe:
        p = Probe(mosquitto, topic_filter)
        probes.append(p)
        return p

    yield make
    for p in probes:
        p.close()


def pytest_configure(config: pytest.Config) -> None:
    os.environ.pop("MQTT_URL", None)


@pytest.fixture
def apiserver() -> Iterator[object]:
    """The simulated Kubernetes API (``sim.apiserver.ApiServer``) on a free port, with an empty
    ``PodStore`` (``apiserver.store``) and 0.2 s bookmarks; stopped after the test.

    Function-scoped: starting one is a thread and a socket, and each test gets clean
    history, faults and request log.
    """
    from sim.apiserver import ApiServer
    from sim.podstore import PodStore

    server = ApiServer(PodStore(), bookmark_interval=0.2).start()
    try:
        yield server
    finally:
        server.stop()
