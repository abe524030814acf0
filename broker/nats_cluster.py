"""A NATS cluster of our own with JetStream and an MQTT listener on every server.

``nats-server`` (Debian's 2.9 here) speaks MQTT 3.1.1 on top of JetStream: sessions,
retained messages and QoS 1 deliveries live in streams that the cluster replicates
(``stream_replicas``: on all three servers here), so a client that loses its server
reconnects to another and finds its session and the retained state there. A cluster
needs a JetStream meta leader before it accepts MQTT clients, and the first MQTT
connection creates the account's streams (about two seconds): :func:`start_nats_cluster`
returns only when every server has accepted an MQTT connection.

Every server gets free loopback ports (client, cluster routes, MQTT) and a private
store directory; nothing touches the system's ``nats-server`` on 4222. A server can be
killed with SIGKILL (:meth:`NatsCluster.kill`) and started again on the same ports and
store (:meth:`NatsCluster.restart`), as in a rolling upgrade of the cluster.

What NATS 2.9 refuses — a ``.`` or a space in a topic, QoS 2 publishes, MQTT 5 — it
answers by closing the connection (``docs/operations.md``, "Brokers").
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from broker.launching import BrokerStartError, free_port, private_workdir, stop_process, wait_for_port

DEFAULT_SIZE = 3
READY_TIMEOUT_SECONDS = 60.0


def find_nats_server() -> str | None:
    return shutil.which("nats-server") or next((p for p in ("/usr/sbin/nats-server", "/usr/bin/nats-server")
                                                if Path(p).exists()), None)


@dataclass
class NatsServer:
    """One server of the cluster: its ports, files and (while running) process."""

    name: str
    client_port: int
    cluster_port: int
    mqtt_port: int
    workdir: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.mqtt_port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


def server_config(server: NatsServer, routes: list[int], *, cluster: str, replicas: int) -> str:
    route_urls = ", ".join(f"nats-route://127.0.0.1:{port}" for port in routes)
    return "\n".join([
        f"server_name: {server.name}",
        f"listen: 127.0.0.1:{server.client_port}",
        f'jetstream {{ store_dir: "{server.workdir / "store"}" }}',
        f"cluster {{ name: {cluster}; listen: 127.0.0.1:{server.cluster_port}; routes: [{route_urls}] }}",
        f"mqtt {{ listen: 127.0.0.1:{server.mqtt_port}; stream_replicas: {replicas} }}",
        "",
    ])


@dataclass
class NatsCluster:
    """A running cluster this code started; :attr:`urls` are the MQTT URLs, one per server."""

    servers: list[NatsServer]
    binary: str
    workdir: Path
    kind: str = "nats"
    _tmp: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)

    @property
    def urls(self) -> tuple[str, ...]:
        return tuple(server.url for server in self.servers)

    def kill(self, index: int) -> None:
        """SIGKILL one server: no goodbye to its clients or its peers."""
        process = self.servers[index].process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait(10)

    def restart(self, index: int, *, timeout: float = READY_TIMEOUT_SECONDS) -> None:
        """Start a stopped server again, same ports and store; returns once it accepts MQTT clients."""
        server = self.servers[index]
        if server.running:
            raise BrokerStartError(f"{server.name} is running")
        self._spawn(server)
        wait_for_port(server.mqtt_port, _running(server), timeout=timeout, workdir=server.workdir)
        wait_mqtt_ready(server, timeout=timeout)

    def stop(self, *, timeout: float = 10.0) -> None:
        for server in self.servers:
            if server.process is not None:
                stop_process(server.process, timeout=timeout)
        if self._tmp is not None:
            self._tmp.cleanup()

    def _spawn(self, server: NatsServer) -> None:
        with (server.workdir / "broker.log").open("ab") as log_file:
            server.process = subprocess.Popen([self.binary, "-c", str(server.workdir / "nats.conf")],
                                              stdout=subprocess.DEVNULL, stderr=log_file, cwd=server.workdir,
                                              start_new_session=True)


def _running(server: NatsServer) -> subprocess.Popen[bytes]:
    assert server.process is not None
    return server.process


def wait_mqtt_ready(server: NatsServer, *, timeout: float) -> None:
    """Until the server accepts an MQTT connection (JetStream is up and the MQTT streams exist)."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if not server.running:
            tail = (server.workdir / "broker.log").read_text(errors="replace")[-500:]
            raise BrokerStartError(f"nats-server {server.name} exited: {tail}")
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"ready-{uuid.uuid4().hex[:8]}")
        try:
            client.connect("127.0.0.1", server.mqtt_port, keepalive=10)
            client.loop_start()
            ready = _wait_connack(client, min(5.0, max(0.1, deadline - time.monotonic())))
        except OSError as e:
            ready, last = False, str(e)
        finally:
            client.disconnect()
            client.loop_stop()
        if ready:
            return
        time.sleep(0.2)
    raise BrokerStartError(f"nats-server {server.name} accepted no MQTT connection within {timeout:g} s ({last})")


def _wait_connack(client: mqtt.Client, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.is_connected():
            return True
        time.sleep(0.05)
    return False


def start_nats_cluster(size: int = DEFAULT_SIZE, *, workdir: Path | None = None, binary: str | None = None,
                       timeout: float = READY_TIMEOUT_SECONDS) -> NatsCluster:
    """Start ``size`` servers as one cluster (JetStream, MQTT on each); return when all accept MQTT."""
    exe = binary or find_nats_server()
    if exe is None:
        raise BrokerStartError("no nats-server binary found (apt-get install nats-server)")
    workdir, tmp = private_workdir(workdir, "nats")
    servers = [NatsServer(f"s{i + 1}", free_port(), free_port(), free_port(), workdir / f"s{i + 1}")
               for i in range(size)]
    cluster = NatsCluster(servers, exe, workdir, _tmp=tmp)
    routes = [server.cluster_port for server in servers]
    name = f"shinealight-{uuid.uuid4().hex[:6]}"
    for server in servers:
        server.workdir.mkdir(parents=True, exist_ok=True)
        config = server_config(server, routes, cluster=name, replicas=min(size, 3))
        (server.workdir / "nats.conf").write_text(config)
    try:
        for server in servers:
            cluster._spawn(server)
        for server in servers:
            wait_for_port(server.mqtt_port, _running(server), timeout=timeout, workdir=server.workdir)
        for server in servers:
            wait_mqtt_ready(server, timeout=timeout)
    except BaseException:
        cluster.stop()
        raise
    return cluster
