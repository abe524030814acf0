"""Session fixtures on real parts: a Mosquitto on a free port, MQTT probes, the simulated API.

The helpers behind them live in ``tests/support/``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, settings

from tests.support.brokers import BrokerEndpoint, NoBroker, session_mosquitto
from tests.support.clocks import FakeClock
from tests.support.probes import Probe

# CI machines are small and shared: judge properties, not generation speed.
settings.register_profile("ci", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci")


@pytest.fixture(scope="session")
def mosquitto() -> Iterator[BrokerEndpoint]:
    try:
        with session_mosquitto() as endpoint:
            yield endpoint
    except NoBroker as e:
        pytest.fail(str(e))


@pytest.fixture
def topic_prefix() -> str:
    """A prefix of its own per test, so tests sharing the session broker never meet."""
    return f"t{uuid.uuid4().hex[:10]}/"


@pytest.fixture
def clock() -> FakeClock:
    """A monotonic clock that moves only when the test advances it."""
    return FakeClock()


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
