"""A private RabbitMQ node with its MQTT plugin: never the system node on 5672.

Debian's ``rabbitmq-server`` (3.10 here) is started as the ``rabbitmq`` user with
everything of its own: node name (``shinealight-<random>@localhost``), AMQP, Erlang
distribution, MQTT and port-mapper (epmd) ports, all free loopback ports; a config
file, an enabled-plugins file (``[rabbitmq_mqtt].``), an empty env file (so
``/etc/rabbitmq/rabbitmq-env.conf`` does not rename the node), a home (its own Erlang
cookie) and data and log directories, in one directory owned by ``rabbitmq``. Its own
``epmd`` runs as our child on its own port, so the system's epmd on 4369 is not
shared either. Starting takes about 12 s: callers share one node (the tests: per
session).

RabbitMQ 3.10 speaks MQTT 3.1.1 only; it delivers a retained message only to a
subscription of exactly its topic, and turns every ``.`` of a topic into a level
separator. What that means for the project is in ``docs/operations.md`` ("Brokers").
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from broker.launching import BrokerStartError, free_port, stop_process, wait_for_port

SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
USER = "rabbitmq"
READY_TIMEOUT_SECONDS = 90.0


def find_rabbitmq() -> str | None:
    return SERVER if Path(SERVER).exists() else None


def find_epmd() -> str | None:
    return shutil.which("epmd") or next((str(p) for p in Path("/usr/lib/erlang").glob("erts-*/bin/epmd")), None)


def node_config(*, amqp_port: int, mqtt_port: int) -> str:
    return "\n".join([
        f"listeners.tcp.default = 127.0.0.1:{amqp_port}",
        f"mqtt.listeners.tcp.default = 127.0.0.1:{mqtt_port}",
        "mqtt.allow_anonymous = true",
        "loopback_users = none",
        "log.console = true",
        "log.console.level = warning",
        "log.file = false",
        "",
    ])


@dataclass
class RabbitNode:
    """A running private node; :attr:`urls` holds its MQTT URL."""

    name: str
    mqtt_port: int
    workdir: Path
    process: subprocess.Popen[bytes]
    epmd: subprocess.Popen[bytes]
    kind: str = "rabbitmq"

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.mqtt_port}"

    @property
    def urls(self) -> tuple[str, ...]:
        return (self.url,)

    def stop(self, *, timeout: float = 30.0) -> None:
        for process in (self.process, self.epmd):  # the node first: it deregisters from its epmd
            stop_process(process, timeout=timeout)
        shutil.rmtree(self.workdir, ignore_errors=True)


def _environment(workdir: Path, *, node: str, amqp_port: int, dist_port: int, epmd_port: int) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": str(workdir / "home"),
        "RABBITMQ_NODENAME": node,
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(amqp_port),
        "RABBITMQ_DIST_PORT": str(dist_port),
        "ERL_EPMD_PORT": str(epmd_port),
        "ERL_EPMD_ADDRESS": "127.0.0.1",
        "RABBITMQ_CONFIG_FILE": str(workdir / "rabbitmq.conf"),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(workdir / "advanced.config"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(workdir / "enabled_plugins"),
        "RABBITMQ_CONF_ENV_FILE": str(workdir / "rabbitmq-env.conf"),
        "RABBITMQ_MNESIA_BASE": str(workdir / "data"),
        "RABBITMQ_LOG_BASE": str(workdir / "log"),
        "RABBITMQ_PID_FILE": str(workdir / "rabbitmq.pid"),
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-start_epmd false",
    }


def _prepare(workdir: Path, *, amqp_port: int, mqtt_port: int) -> None:
    for sub in ("home", "data", "log"):
        (workdir / sub).mkdir(parents=True, exist_ok=True)
    (workdir / "rabbitmq.conf").write_text(node_config(amqp_port=amqp_port, mqtt_port=mqtt_port))
    (workdir / "enabled_plugins").write_text("[rabbitmq_mqtt].\n")
    (workdir / "rabbitmq-env.conf").write_text("")
    if os.geteuid() == 0:
        account = pwd.getpwnam(USER)
        for path in [workdir, *workdir.rglob("*")]:
            os.chown(path, account.pw_uid, account.pw_gid)


def _spawn(command: list[str], workdir: Path, env: dict[str, str], log_name: str) -> subprocess.Popen[bytes]:
    user = USER if os.geteuid() == 0 else None  # as root: the node runs as rabbitmq, like the system one
    with (workdir / log_name).open("ab") as log_file:
        return subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, cwd=workdir, env=env,
                                start_new_session=True, user=user, group=user)


def start_rabbitmq(*, timeout: float = READY_TIMEOUT_SECONDS) -> RabbitNode:
    """Start a private node with the MQTT plugin; return once its MQTT port listens."""
    server, epmd = find_rabbitmq(), find_epmd()
    if server is None or epmd is None:
        raise BrokerStartError("no rabbitmq-server found (apt-get install rabbitmq-server)")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(USER)
        except KeyError as e:
            raise BrokerStartError(f"no {USER!r} user to run RabbitMQ as") from e
    workdir = Path(tempfile.mkdtemp(prefix="shinealight-rabbitmq-"))
    amqp_port, dist_port, epmd_port, mqtt_port = free_port(), free_port(), free_port(), free_port()
    node = f"shinealight-{uuid.uuid4().hex[:8]}@localhost"
    _prepare(workdir, amqp_port=amqp_port, mqtt_port=mqtt_port)
    env = _environment(workdir, node=node, amqp_port=amqp_port, dist_port=dist_port, epmd_port=epmd_port)
    epmd_process = _spawn([epmd, "-port", str(epmd_port), "-address", "127.0.0.1"], workdir, env, "epmd.log")
    process = _spawn([server], workdir, env, "broker.log")
    running = RabbitNode(node, mqtt_port, workdir, process, epmd_process)
    try:
        wait_for_port(epmd_port, epmd_process, timeout=10, workdir=workdir)
        wait_for_port(mqtt_port, process, timeout=timeout, workdir=workdir)
    except BaseException:
        running.stop()
        raise
    return running
