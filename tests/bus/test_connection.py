"""BusConnection against the real Mosquitto: round trips, status and last will, reconnects, failover,
takeovers, credentials."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from broker.launching import RunningBroker, free_port, start_mosquitto
from bus.connection import BrokerUnavailable, BusConnection, Message
from bus.credentials import Credentials, apply_credentials
from bus.messages import OFFLINE, ONLINE
from bus.redaction import redact
from bus.urls import parse_broker_url, parse_brokers
from tests.support.brokers import BrokerEndpoint
from tests.support.paths import ROOT
from tests.support.probes import Probe
from tests.support.waiting import wait_until


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


# -- failover, fast reconnect, takeovers, credentials ------------------------------------


@pytest.fixture
def two_brokers(tmp_path: Path) -> Iterator[list[RunningBroker]]:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    brokers = [start_mosquitto(workdir=tmp_path / name, persistence=False) for name in ("a", "b")]
    yield brokers
    for broker in brokers:
        broker.stop()


def test_fails_over_to_the_next_broker_and_says_online_there(
    two_brokers: list[RunningBroker], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bus.connection")
    first, second = two_brokers
    on_second = Probe(BrokerEndpoint("127.0.0.1", second.port), "f/#")
    connects: list[str] = []
    brokers = parse_brokers([f"{first.url},{second.url}"])
    connection = BusConnection(brokers, client_id=f"failover-{uuid.uuid4().hex[:6]}", status_topic="f/status",
                               on_connect=lambda: connects.append(connection.url.redacted()))
    try:
        connection.start(wait=5)
        assert connection.url.port == first.port
        first.kill()
        connection.publish("f/while-moving", b"queued")  # QoS 1, no broker yet: paho keeps it
        on_second.wait_for(lambda ms: {(m.topic, m.payload) for m in ms} >= {("f/status", ONLINE),
                                                                              ("f/while-moving", b"queued")})
        assert connection.connected and connection.url.port == second.port
        assert connects == [first.url, second.url]
        assert f"lost {first.url}" in caplog.text and f"reconnecting to {second.url}" in caplog.text
        assert f"connected to {second.url} (2 of 2)" in caplog.text
    finally:
        connection.stop(publish_offline=False)
        on_second.close()


def test_the_first_broker_that_answers_wins(two_brokers: list[RunningBroker]) -> None:
    down = f"mqtt://127.0.0.1:{free_port()}"
    connection = BusConnection(parse_brokers([down, two_brokers[1].url]), client_id=f"first-{uuid.uuid4().hex[:6]}")
    try:
        connection.start(wait=5)
        assert connection.url.port == two_brokers[1].port
    finally:
        connection.stop(publish_offline=False)


def test_a_returning_broker_is_found_within_its_round_without_hammering(tmp_path: Path) -> None:
    broker = start_mosquitto(workdir=tmp_path, persistence=False)
    connection = BusConnection(parse_broker_url(broker.url), client_id=f"return-{uuid.uuid4().hex[:6]}")
    try:
        connection.start(wait=5)
        broker.stop()
        wait_until(lambda: not connection.connected, what="the loss noticed")
        before = connection.attempts
        time.sleep(3)  # an outage: the attempts it causes are what is measured
        during = connection.attempts - before
        broker = start_mosquitto(port=broker.port, workdir=tmp_path, persistence=False)
        assert connection.wait_connected(10)
        # 0.1 + 0.2 + 0.4 + 0.8 + 1 + ... s: about six attempts in 3 s, jitter shortens some; never dozens
        assert 3 <= during <= 12, during
    finally:
        connection.stop(publish_offline=False)
        broker.stop()


class TakeoverBroker:
    """Just enough of an MQTT 5 broker to accept a connection and then hand its session away.

    Mosquitto 2.0 closes a taken-over connection without a word; brokers such as EMQX and
    HiveMQ send DISCONNECT with reason 0x8E first. None of those is on this machine, so this
    stand-in speaks those two packets on a real socket."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            with conn:
                conn.recv(4096)  # CONNECT
                self.connections += 1
                conn.sendall(bytes([0x20, 0x03, 0x00, 0x00, 0x00]))  # CONNACK: success, no properties
                time.sleep(0.2)
                conn.sendall(bytes([0xE0, 0x02, 0x8E, 0x00]))  # DISCONNECT: Session taken over
                time.sleep(0.2)

    def close(self) -> None:
        self._server.close()


def test_a_session_taken_over_on_mqtt5_is_reported_once_and_not_fought(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="bus.connection")
    broker = TakeoverBroker()
    fatal: list[str] = []
    connection = BusConnection(parse_broker_url(f"mqtt://127.0.0.1:{broker.port}?protocol=5"), client_id="agent-5",
                               persistent=True, on_fatal=fatal.append)
    try:
        connection.start(wait=5)
        wait_until(lambda: connection.failure is not None, what="the takeover noticed")
        time.sleep(1.0)  # a fight would show now: connecting again
        assert broker.connections == 1 and not connection.connected
        assert fatal == [connection.failure] and "Session taken over" in fatal[0] and "'agent-5'" in fatal[0]
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 1 and "--agent-id" in errors[0].getMessage()
    finally:
        connection.stop(publish_offline=False)
        broker.close()


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_two_clients_with_one_id_stop_fighting_and_say_so_once(
    mosquitto: BrokerEndpoint, caplog: pytest.LogCaptureFixture, protocol: str
) -> None:
    caplog.set_level(logging.WARNING, logger="bus.connection")
    same = f"agent-{uuid.uuid4().hex[:6]}"
    url = parse_broker_url(f"{mosquitto.url}?protocol={protocol}")
    pair = [BusConnection(url, client_id=same, persistent=True) for _ in range(2)]
    try:
        pair[0].start(wait=5)
        pair[1].start(wait=5)
        wait_until(lambda: any(c.failure for c in pair), timeout=20, what="one side giving up")
        loser, winner = pair if pair[0].failure else pair[::-1]
        time.sleep(1.5)  # a fight would show now
        assert winner.connected and winner.failure is None and not loser.connected
        assert "3 times in a row" in str(loser.failure) and same in str(loser.failure)
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 1 and "--agent-id" in errors[0].getMessage()
    finally:
        for connection in pair:
            connection.stop(publish_offline=False)


NASTY = "n4sty/#?@:pa ss\\\"'wörd"


def test_credentials_with_a_nasty_password_connect_and_never_show(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    broker = start_mosquitto(workdir=tmp_path, persistence=False, users={"watcher": NASTY})
    try:
        good = apply_credentials(parse_brokers([broker.url]), Credentials("watcher", NASTY))
        connection = BusConnection(good, client_id=f"auth-{uuid.uuid4().hex[:6]}")
        connection.start(wait=5)
        connection.stop(publish_offline=False)
        wrong = quote(NASTY[::-1], safe="")
        bad = apply_credentials(parse_brokers([f"mqtt://watcher:{wrong}@127.0.0.1:{broker.port}"]), Credentials())
        refused = BusConnection(bad, client_id=f"auth-{uuid.uuid4().hex[:6]}")
        with pytest.raises(BrokerUnavailable):
            refused.start(wait=2)
        assert "refused the connection: Not authorized" in caplog.text
        shown = caplog.text + "".join(str(r.args) for r in caplog.records)
        assert "n4sty" not in redact(shown) and NASTY[::-1] not in caplog.text
    finally:
        broker.stop()
