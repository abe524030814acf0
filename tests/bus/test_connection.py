"""BusConnection against the real Mosquitto: round trips, status and last will, reconnects."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from broker.launching import free_port, start_mosquitto
from bus.connection import BrokerUnavailable, BusConnection, Message
from bus.messages import OFFLINE, ONLINE
from bus.urls import parse_broker_url
from tests.support.brokers import BrokerEndpoint
from tests.support.paths import ROOT
from tests.support.probes import Probe


class Inbox:
    """Messages a BusConnection handed to its on_message, for waiting on."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self._cond = threading.Condition()

    def __call__(self, message: Message) -> None:
        with self._cond:
            self.messages.append(message)
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[list[Message]], bool], timeout: float = 10) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: predicate(self.messages), timeout), f"not met: {self.messages}"


@pytest.fixture
def connections() -> Iterator[Callable[..., BusConnection]]:
    made: list[BusConnection] = []

    def make(url: str, **kw: object) -> BusConnection:
        connection = BusConnection(parse_broker_url(url), client_id=f"test-{uuid.uuid4().hex[:8]}", **kw)  # type: ignore[arg-type]
        made.append(connection)
        return connection

    yield make
    for connection in made:
        connection.stop(publish_offline=False)


def _subscribed(connection: BusConnection, inbox: Inbox, topic: str) -> None:
    """Publish to our own subscription: when it comes back, the broker has the subscription."""
    marker = uuid.uuid4().hex.encode()
    connection.publish(topic, marker)
    inbox.wait_for(lambda ms: any(m.payload == marker for m in ms))


def test_publish_and_subscribe_round_trip(
    mosquitto: BrokerEndpoint, connections: Callable[..., BusConnection], topic_prefix: str
) -> None:
    inbox = Inbox()
    subscriber = connections(mosquitto.url, subscriptions=[(f"{topic_prefix}#", 1)], on_message=inbox)
    subscriber.start(wait=5)
    _subscribed(subscriber, inbox, f"{topic_prefix}marker")
    publisher = connections(mosquitto.url)
    publisher.start(wait=5)

    publisher.publish(f"{topic_prefix}nodes/n1/pods", b'{"action":"add"}').wait_for_publish(5)
    publisher.publish(f"{topic_prefix}nodes/n1/state", b"\xff\x00", qos=0, retain=True).wait_for_publish(5)

    inbox.wait_for(lambda ms: len(ms) >= 3)
    assert [(m.topic, m.payload, m.retain, m.qos) for m in inbox.messages[1:]] == [
        (f"{topic_prefix}nodes/n1/pods", b'{"action":"add"}', False, 1),
        (f"{topic_prefix}nodes/n1/state", b"\xff\x00", False, 0),  # live delivery: 3.1.1 clears retain
    ]
    late_inbox = Inbox()
    late = connections(mosquitto.url, subscriptions=[(f"{topic_prefix}nodes/+/state", 1)], on_message=late_inbox)
    late.start(wait=5)
    late_inbox.wait_for(lambda ms: len(ms) >= 1)
    assert (late_inbox.messages[0].payload, late_inbox.messages[0].retain) == (b"\xff\x00", True)


def test_status_is_online_retained_and_the_last_will_says_offline_when_killed(
    mosquitto: BrokerEndpoint, probe: Callable[[str], Probe], topic_prefix: str, tmp_path: Path
) -> None:
    status = f"{topic_prefix}nodes/n1/status"
    script = textwrap.dedent(f"""
        import time
        from bus.connection import BusConnection
        from bus.urls import parse_broker_url
        BusConnection(parse_broker_url({mosquitto.url!r}), client_id="will-test",
                      status_topic={status!r}).start(wait=5)
        print("up", flush=True)
        time.sleep(60)
    """)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=env, stdout=subprocess.PIPE) as process:
        try:
            assert process.stdout is not None and process.stdout.readline() == b"up\n"
            watcher = probe(status)
            watcher.wait_for(lambda ms: [m.payload for m in ms] == [ONLINE])  # retained, or live if just sent
            retained = probe(status)
            retained.wait_for(lambda ms: len(ms) >= 1)
            assert (retained.messages[0].payload, retained.messages[0].retain) == (ONLINE, True)
        finally:
            process.kill()  # no DISCONNECT: the broker publishes the will
    watcher.wait_for(lambda ms: ms[-1].payload == OFFLINE)
    late = probe(status)
    late.wait_for(lambda ms: len(ms) >= 1)
    assert (late.messages[0].payload, late.messages[0].retain) == (OFFLINE, True)


def test_a_clean_stop_says_offline(
    mosquitto: BrokerEndpoint, connections: Callable[..., BusConnection], probe: Callable[[str], Probe],
    topic_prefix: str,
) -> None:
    status = f"{topic_prefix}agents/a1/status"
    connection = connections(mosquitto.url, status_topic=status)
    connection.start(wait=5)
    watcher = probe(status)
    watcher.wait_for(lambda ms: [m.payload for m in ms] == [ONLINE])

    connection.stop()

    watcher.wait_for(lambda ms: [m.payload for m in ms] == [ONLINE, OFFLINE])
    assert not connection.connected


def test_reconnects_and_resubscribes_after_the_broker_restarts(
    connections: Callable[..., BusConnection], tmp_path: Path
) -> None:
    broker = start_mosquitto(workdir=tmp_path, persistence=False)
    try:
        inbox = Inbox()
        connects: list[int] = []
        subscriber = connections(broker.url, subscriptions=[("r/#", 1)], on_message=inbox,
                                 on_connect=lambda: connects.append(1))
        subscriber.start(wait=5)
        broker.stop()
        deadline = time.monotonic() + 5
        while subscriber.connected and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not subscriber.connected
        broker = start_mosquitto(port=broker.port, workdir=tmp_path, persistence=False)

        assert subscriber.wait_connected(15)
        assert (subscriber.connects, len(connects)) == (2, 2)
        _subscribed(subscriber, inbox, "r/marker")  # the subscription came back with the connection
    finally:
        broker.stop()


def test_a_broker_down_at_start_is_retried_until_it_appears(
    connections: Callable[..., BusConnection], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bus.connection")
    port = free_port()
    connection = connections(f"mqtt://127.0.0.1:{port}")
    connection.start()
    deadline = time.monotonic() + 10
    while "cannot reach broker" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "cannot reach broker" in caplog.text
    assert not connection.connected

    broker = start_mosquitto(port=port, workdir=tmp_path, persistence=False)
    try:
        assert connection.wait_connected(15)
    finally:
        broker.stop()


def test_wait_raises_broker_unavailable_when_nobody_answers(connections: Callable[..., BusConnection]) -> None:
    port = free_port()
    connection = connections(f"mqtt://127.0.0.1:{port}")

    with pytest.raises(BrokerUnavailable, match=rf"^no connection to mqtt://127.0.0.1:{port} within 0.5 s$"):
        connection.start(wait=0.5)
    assert not connection.connected
