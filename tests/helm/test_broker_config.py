"""The chart's broker setup run for real: its init script and its config on a real Mosquitto.

The init container's script (copy the config, hash the Secret's passwords with
``mosquitto_passwd -U``) runs here under /bin/sh with the container paths mapped to a
temporary folder; then the local ``mosquitto`` starts on the resulting files, with only
the listeners moved to free loopback ports, the paths mapped, and ``user`` set to the
current user (a root Mosquitto would otherwise drop to ``mosquitto`` and lose access to
the 0600 files, which in the pod already belong to it). Clients then prove the ACL.
"""

from __future__ import annotations

import base64
import getpass
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from broker.launching import find_mosquitto, free_port, wait_for_port
from tests.helm.charts import Helm, Rendered

BROKER = "shinealight-mosquitto"


@dataclass
class Client:
    """A paho client with credentials that records what it receives."""

    port: int
    user: str | None
    password: str | None = None
    received: list[tuple[str, bytes]] = field(default_factory=list)
    connack: ReasonCode | None = None

    def __post_init__(self) -> None:
        self._arrived = threading.Condition()
        self._connected = threading.Event()
        self.mqtt = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"helm-test-{uuid.uuid4().hex[:8]}")
        if self.user:
            self.mqtt.username_pw_set(self.user, self.password)
        self.mqtt.on_connect = self._on_connect
        self.mqtt.on_message = self._on_message
        self.mqtt.connect("127.0.0.1", self.port)
        self.mqtt.loop_start()
        assert self._connected.wait(5), "no CONNACK within 5 s"

    def _on_connect(self, _c: object, _u: object, _f: object, reason: ReasonCode, _p: object) -> None:
        self.connack = reason
        self._connected.set()

    def _on_message(self, _c: object, _u: object, message: mqtt.MQTTMessage) -> None:
        with self._arrived:
            self.received.append((message.topic, bytes(message.payload)))
            self._arrived.notify_all()

    def subscribe(self, topic_filter: str) -> None:
        done = threading.Event()
        self.mqtt.on_subscribe = lambda *_: done.set()
        self.mqtt.subscribe(topic_filter, qos=1)
        assert done.wait(5), f"no SUBACK for {topic_filter}"

    def publish(self, topic: str, payload: str, *, retain: bool = False) -> None:
        self.mqtt.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def wait_for(self, topic: str, timeout: float = 5) -> None:
        with self._arrived:
            ok = self._arrived.wait_for(lambda: any(t == topic for t, _ in self.received), timeout)
        assert ok, f"{topic} did not arrive; got {self.received}"

    def close(self) -> None:
        self.mqtt.loop_stop()
        self.mqtt.disconnect()


def _prepare(rendered: Rendered, workdir: Path) -> Path:
    """Run the init container's script on the rendered ConfigMap and Secret; return the config dir."""
    src, auth, config = workdir / "src", workdir / "auth", workdir / "config"
    for folder in (src, auth, config):
        folder.mkdir()
    for key, text in rendered.one("ConfigMap", BROKER)["data"].items():
        (src / key).write_text(text)
    for secret in rendered.all("Secret"):
        for user, encoded in secret["data"].items():
            (auth / user).write_bytes(base64.b64decode(encoded))
    init = rendered.one("Deployment", BROKER)["spec"]["template"]["spec"]["initContainers"][0]
    assert init["command"][:2] == ["/bin/sh", "-ec"]
    script = init["command"][2].replace("/config-src", str(src)).replace("/auth-src", str(auth))
    script = script.replace("/mosquitto/config", str(config))
    subprocess.run(["/bin/sh", "-ec", script], check=True, capture_output=True, timeout=30)
    return config


@dataclass(frozen=True)
class ChartBroker:
    port: int
    config: Path


def _start(config: Path, workdir: Path) -> Iterator[ChartBroker]:
    exe = find_mosquitto()
    if exe is None:
        pytest.fail("no mosquitto binary (apt-get install mosquitto): the chart's broker config is tested on it")
    port, ws_port = free_port(), free_port()
    conf = (config / "mosquitto.conf").read_text()
    conf = conf.replace("listener 1883\n", f"listener {port} 127.0.0.1\n")
    conf = conf.replace("listener 9001\n", f"listener {ws_port} 127.0.0.1\n")
    conf = conf.replace("/mosquitto/config", str(config)).replace("/mosquitto/data/", f"{workdir}/")
    conf += f"\nuser {getpass.getuser()}\n"
    run_conf = workdir / "run.conf"
    run_conf.write_text(conf)
    with (workdir / "broker.log").open("wb") as log:
        process = subprocess.Popen([exe, "-c", str(run_conf)], stdout=subprocess.DEVNULL, stderr=log)
    try:
        wait_for_port(port, process, 10, workdir)
        yield ChartBroker(port, config)
    finally:
        process.terminate()
        process.wait(5)


@pytest.fixture
def chart_broker(helm: Helm, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[ChartBroker]:
    rendered = helm.template("shinealight", *request.param)
    yield from _start(_prepare(rendered, tmp_path), tmp_path)


AUTH = ("auth.enabled=true", "bus.topicPrefix=sal/", "auth.users.watcher=w-pass", "auth.users.agent=a-pass",
        "auth.users.console=c-pass")


@pytest.mark.parametrize("chart_broker", [AUTH], indirect=True)
def test_auth_init_hashes_passwords_privately(chart_broker: ChartBroker) -> None:
    passwd = chart_broker.config / "passwd"
    users = dict(line.split(":", 1) for line in passwd.read_text().splitlines())
    assert set(users) == {"watcher", "agent", "console"}
    assert all(h.startswith("$7$") for h in users.values()), "passwords must be hashed"
    for name in ("passwd", "acl", "mosquitto.conf"):
        assert (chart_broker.config / name).stat().st_mode & 0o077 == 0, f"{name} readable by others"


@pytest.mark.parametrize("chart_broker", [AUTH], indirect=True)
def test_auth_acl_lets_each_user_do_its_job_only(chart_broker: ChartBroker) -> None:
    port = chart_broker.port
    clients = []
    try:
        for user, password in [(None, None), ("watcher", "wrong")]:
            refused = Client(port, user, password)
            clients.append(refused)
            assert refused.connack is not None and refused.connack.is_failure, f"{user} must be refused"
        console, watcher, agent = (Client(port, u, p) for u, p in
                                   [("console", "c-pass"), ("watcher", "w-pass"), ("agent", "a-pass")])
        clients += [console, watcher, agent]
        console.subscribe("sal/#")
        agent.subscribe("sal/nodes/#")
        watcher.publish("sal/nodes/n1/state", '{"v":1,"node":"n1","seq":1,"pods":[]}', retain=True)
        agent.wait_for("sal/nodes/n1/state")
        # Denied publishes are dropped silently; each was acknowledged (so routed, had it
        # been allowed) before the markers below, which must then arrive after them.
        agent.publish("sal/nodes/n1/pods", '{"action":"add","pod":"forged"}')
        console.publish("sal/nodes/n1/pods", '{"action":"add","pod":"forged-too"}')
        agent.publish("sal/agents/n1/status", "online")
        watcher.publish("sal/watchers/w1/status", "online")
        console.wait_for("sal/agents/n1/status")
        console.wait_for("sal/watchers/w1/status")
        assert [t for t, _ in console.received if t == "sal/nodes/n1/pods"] == []
    finally:
        for client in clients:
            client.close()


@pytest.mark.parametrize("chart_broker", [()], indirect=True)
def test_anonymous_variant_accepts_anyone(chart_broker: ChartBroker) -> None:
    assert not (chart_broker.config / "passwd").exists()
    client = Client(chart_broker.port, None)
    try:
        assert client.connack is not None and not client.connack.is_failure
        client.subscribe("nodes/#")
        client.publish("nodes/n1/status", "online")
        client.wait_for("nodes/n1/status")
    finally:
        client.close()


def test_mosquitto_passwd_is_available() -> None:
    assert shutil.which("mosquitto_passwd"), "mosquitto_passwd (package mosquitto) is needed by the init script test"
