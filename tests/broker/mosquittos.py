"""A real Mosquitto on a production configuration, and MQTT clients that prove what it allows.

:func:`run_config` starts the local ``mosquitto`` on a configuration as written for
production (the repository's ``broker/mosquitto.prod.conf``, or what the chart rendered)
with only two kinds of change: its listeners move to free loopback ports, and its
absolute paths move into a private folder (``PATHS``). Nothing else is touched, so the
test runs what an operator runs. :class:`Client` is a paho client with credentials that
records what it receives and when it is disconnected.
"""

from __future__ import annotations

import re
import subprocess
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from broker.launching import find_mosquitto, free_port, wait_for_port
from tests.support.waiting import Collector

# Production paths -> folder names under the private root.
PATHS = {"/etc/mosquitto/shinealight": "etc", "/var/lib/mosquitto/shinealight": "data",
         "/etc/mosquitto/certs": "certs"}


@dataclass(frozen=True)
class Ports:
    """Where the production listeners (1883, 9001, 1884) ended up."""

    mqtt: int
    websockets: int
    bound: int


@dataclass
class RunningConfig:
    ports: Ports
    root: Path
    process: subprocess.Popen[bytes]

    @property
    def log(self) -> str:
        return (self.root / "broker.log").read_text(errors="replace")


def localise(conf: str, root: Path, ports: Ports) -> str:
    """The configuration with listeners on loopback free ports and paths under ``root``."""
    for production, local in PATHS.items():
        conf = conf.replace(production, str(root / local))
    mapping = {"1883": ports.mqtt, "9001": ports.websockets, "1884": ports.bound}
    return re.sub(r"^listener (1883|9001|1884)$", lambda m: f"listener {mapping[m[1]]} 127.0.0.1", conf,
                  flags=re.MULTILINE)


@contextmanager
def run_config(conf: str, root: Path, *, extra: str = "") -> Iterator[RunningConfig]:
    """Start Mosquitto on ``conf`` (localised; ``extra`` lines appended) until the block ends."""
    exe = find_mosquitto()
    if exe is None:
        pytest.fail("no mosquitto binary (apt-get install mosquitto): the production config is tested on it")
    ports = Ports(free_port(), free_port(), free_port())
    run_conf = root / "run.conf"
    run_conf.write_text(localise(conf, root, ports) + extra)
    run_conf.chmod(0o644)
    with (root / "broker.log").open("wb") as log:
        process = subprocess.Popen([exe, "-c", str(run_conf)], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(ports.mqtt, process, 10, root)
        yield RunningConfig(ports, root, process)
    finally:
        process.terminate()
        process.wait(10)


@dataclass
class Client:
    """A paho client with credentials that records what it receives and its disconnects."""

    port: int
    user: str | None
    password: str | None = None
    client_id: str = field(default_factory=lambda: f"test-{uuid.uuid4().hex[:8]}")
    clean: bool = True
    reconnect: bool = False
    connack: ReasonCode | None = None

    def __post_init__(self) -> None:
        self.received: Collector[tuple[str, bytes]] = Collector()
        self.disconnects: Collector[str] = Collector()
        self._connected = threading.Event()
        self.mqtt = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, clean_session=self.clean,
                                reconnect_on_failure=self.reconnect)
        if self.user:
            self.mqtt.username_pw_set(self.user, self.password)
        self.mqtt.on_connect = self._on_connect
        self.mqtt.on_disconnect = self._on_disconnect
        self.mqtt.on_message = lambda _c, _u, m: self.received.add((m.topic, bytes(m.payload)))
        self.mqtt.connect("127.0.0.1", self.port)
        self.mqtt.loop_start()
        assert self._connected.wait(10), "no CONNACK within 10 s"

    def _on_connect(self, _c: object, _u: object, _f: object, reason: ReasonCode, _p: object) -> None:
        self.connack = reason
        self._connected.set()

    def _on_disconnect(self, _c: object, _u: object, _f: object, reason: ReasonCode, _p: object) -> None:
        self.disconnects.add(str(reason))

    @property
    def refused(self) -> bool:
        return self.connack is not None and self.connack.is_failure

    def subscribe(self, topic_filter: str) -> None:
        done = threading.Event()
        self.mqtt.on_subscribe = lambda *_: done.set()
        self.mqtt.subscribe(topic_filter, qos=1)
        assert done.wait(10), f"no SUBACK for {topic_filter}"

    def publish(self, topic: str, payload: str | bytes, *, retain: bool = False, qos: int = 1) -> None:
        info = self.mqtt.publish(topic, payload, qos=qos, retain=retain)
        if qos:
            info.wait_for_publish(10)

    def wait_for(self, topic: str, timeout: float = 10) -> None:
        self.received.wait_for(lambda got: any(t == topic for t, _ in got), timeout=timeout, what=f"{topic} arrives")

    def topics(self) -> list[str]:
        return [t for t, _ in self.received.items]

    def close(self) -> None:
        self.mqtt.loop_stop()
        self.mqtt.disconnect()


@contextmanager
def clients() -> Iterator[list[Client]]:
    """A list to put clients in; all are closed when the block ends."""
    opened: list[Client] = []
    try:
        yield opened
    finally:
        for client in opened:
            client.close()
