"""broker/mosquitto.prod.conf and broker/acl.prod on a real Mosquitto, installed as documented.

The private root is set up with the commands of the config's header (as root: folders and
files owned by ``mosquitto``, which the broker drops to before it reads them), users are
created with ``mosquitto_passwd``, and the broker runs the repository's file with only its
listeners and paths moved (``tests/broker/mosquittos.py``). Then clients attack it as
docs/security.md says they may: no credentials, wrong ones, publishing outside their role,
taking over another client's id, oversized messages, floods.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.broker.mosquittos import Client, RunningConfig, clients, run_config
from tests.support.paths import ROOT
from tests.support.waiting import wait_until

PROD_CONF = (ROOT / "broker" / "mosquitto.prod.conf").read_text()
PASSWORDS = {"watcher": "w-pass", "agent": "a-pass", "viewer": "v-pass", "pi-kitchen": "k-pass",
             "pi-garden": "g-pass"}
# docs/operations.md: a device with a user of its own, on the bound port.
DEVICE_ACL = """
user {name}
topic read nodes/#
topic readwrite agents/{name}/#
topic deny {name}s/#
"""
AS_ROOT = os.geteuid() == 0


def _sh(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=30)


def install(root: Path) -> None:
    """The install steps of mosquitto.prod.conf's header, under ``root``."""
    etc, data = root / "etc", root / "data"
    owner = ("-o", "mosquitto", "-g", "mosquitto") if AS_ROOT else ()
    _sh("install", "-d", *owner, "-m", "0700", str(etc), str(data))
    _sh("install", *owner, "-m", "0600", str(ROOT / "broker" / "acl.prod"), str(etc / "acl"))
    with (etc / "acl").open("a") as acl:
        for device in ("pi-kitchen", "pi-garden"):
            acl.write(DEVICE_ACL.format(name=device))
    first = True
    for user, password in PASSWORDS.items():  # -b: the scriptable form of the documented prompt
        _sh("mosquitto_passwd", *(["-c"] if first else []), "-b", str(etc / "passwd"), user, password)
        first = False
    if AS_ROOT:
        _sh("chown", "mosquitto:mosquitto", str(etc / "passwd"))
    (etc / "passwd").chmod(0o600)


@pytest.fixture(scope="module")
def private_root() -> Iterator[Path]:
    # Not under pytest's tmp_path: its parents are 0700 root, which the `mosquitto` user
    # the broker drops to could not traverse.
    root = Path(tempfile.mkdtemp(prefix="shinealight-prod-"))
    root.chmod(0o755)
    try:
        install(root)
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def broker(private_root: Path) -> Iterator[RunningConfig]:
    with run_config(PROD_CONF, private_root) as running:
        yield running


def _client(broker: RunningConfig, user: str | None, *, port: str = "mqtt", **kwargs: object) -> Client:
    password = kwargs.pop("password", PASSWORDS.get(user or ""))
    return Client(getattr(broker.ports, port), user, password=password, **kwargs)  # type: ignore[arg-type]


def test_started_as_documented_it_drops_to_mosquitto_and_reads_its_files(broker: RunningConfig) -> None:
    owner = pwd.getpwuid(os.stat(f"/proc/{broker.process.pid}").st_uid).pw_name
    assert owner == ("mosquitto" if AS_ROOT else pwd.getpwuid(os.geteuid()).pw_name)
    assert "Error" not in broker.log, broker.log


@pytest.mark.parametrize(("user", "password"), [(None, None), ("watcher", "wrong"), ("nobody", "x"),
                                                ("viewer", "")])
def test_anonymous_and_wrong_credentials_are_refused(broker: RunningConfig, user: str | None,
                                                     password: str | None) -> None:
    for port in ("mqtt", "bound"):
        client = _client(broker, user, port=port, password=password)
        try:
            assert client.refused, f"{user!r} / {password!r} accepted on {port}"
        finally:
            client.close()


def test_each_role_publishes_only_its_own_topics(broker: RunningConfig) -> None:
    with clients() as opened:
        viewer = _client(broker, "viewer", port="bound")
        watcher = _client(broker, "watcher", client_id="watcher-n1-1a2b3c4d")
        agent = _client(broker, "agent", client_id="pi1")
        nosy_agent = _client(broker, "agent", client_id="pi2")
        opened += [viewer, watcher, agent, nosy_agent]
        viewer.subscribe("#")
        agent.subscribe("nodes/#")
        nosy_agent.subscribe("#")
        watcher.publish("nodes/n1/state", '{"v":1,"node":"n1","seq":1,"pods":[]}', retain=True)
        watcher.publish("watchers/watcher-n1-1a2b3c4d/sync", "marker")
        agent.wait_for("nodes/n1/state")
        # Denied publishes are dropped silently after their PUBACK: each is acknowledged
        # before the allowed markers below, which arrive after anything they had routed.
        forged = [(agent, "nodes/n1/pods"), (agent, "agents/pi2/status"), (agent, "watchers/pi1/status"),
                  (watcher, "agents/watcher-n1-1a2b3c4d/status"), (viewer, "nodes/n1/pods"),
                  (viewer, "agents/viewer/status"), (viewer, "viewers/viewer/x"), (viewer, "watchers/viewer/x"),
                  (agent, "homeassistant/sensor/forged/pods/config"), (viewer, "homeassistant/status")]
        for client, topic in forged:
            client.publish(topic, "forged")
        agent.publish("agents/pi1/status", "online", retain=True)
        watcher.publish("homeassistant/sensor/shinealight_n1/pods/config", "{}")  # --homeassistant
        watcher.publish("nodes/n1/status", "online", retain=True)
        viewer.wait_for("agents/pi1/status")
        viewer.wait_for("nodes/n1/status")
        assert set(viewer.topics()) == {"nodes/n1/state", "watchers/watcher-n1-1a2b3c4d/sync", "agents/pi1/status",
                                        "homeassistant/sensor/shinealight_n1/pods/config", "nodes/n1/status"}
        nosy_agent.wait_for("nodes/n1/status")
        assert {t.split("/")[0] for t in nosy_agent.topics()} == {"nodes"}, "agents read nodes/ only"


def test_the_bound_port_refuses_a_takeover_by_another_credential(broker: RunningConfig) -> None:
    with clients() as opened:
        agent = _client(broker, "agent", client_id="pi-shared")
        kitchen = _client(broker, "pi-kitchen", port="bound", client_id="whatever-it-asks")
        watcher = _client(broker, "watcher")
        opened += [agent, kitchen, watcher]
        for victim in (agent, kitchen):
            victim.subscribe("nodes/#")
        kitchen.publish("agents/pi-kitchen/status", "online", retain=True)
        # Another credential asking for the victims' ids on the bound port gets its own
        # user name as id instead: nobody is disconnected.
        opened.append(_client(broker, "viewer", port="bound", client_id="pi-shared"))
        opened.append(_client(broker, "pi-garden", port="bound", client_id="pi-kitchen"))
        watcher.publish("nodes/n9/status", "online")
        for victim in (agent, kitchen):
            victim.wait_for("nodes/n9/status")
            assert victim.disconnects.items == []


def test_the_mqtt_port_cannot_refuse_a_takeover_but_the_taker_gains_no_rights(broker: RunningConfig) -> None:
    """The documented limit (docs/security.md): Mosquitto 2.0 binds no client id to a user."""
    with clients() as opened:
        agent = _client(broker, "agent", client_id="pi-victim")
        observer = _client(broker, "viewer", port="bound")
        opened += [agent, observer]
        observer.subscribe("agents/#")
        taker = _client(broker, "viewer", client_id="pi-victim")
        opened.append(taker)
        agent.disconnects.wait_for(bool, what="the agent is taken over")
        taker.publish("agents/pi-victim/status", "forged")
        watcher = _client(broker, "watcher")
        opened.append(watcher)
        marker = _client(broker, "agent", client_id="pi-marker")
        opened.append(marker)
        marker.publish("agents/pi-marker/status", "online")
        observer.wait_for("agents/pi-marker/status")
        assert "agents/pi-victim/status" not in observer.topics()


def test_oversized_messages_are_dropped_and_huge_packets_disconnect(broker: RunningConfig) -> None:
    with clients() as opened:
        watcher = _client(broker, "watcher")
        agent = _client(broker, "agent", client_id="pi-size")
        opened += [watcher, agent]
        agent.subscribe("nodes/#")
        watcher.publish("nodes/big/state", b"x" * 300_000, retain=True)  # > message_size_limit 262144
        watcher.publish("nodes/big/status", "online")
        agent.wait_for("nodes/big/status")
        assert "nodes/big/state" not in agent.topics()
        assert watcher.disconnects.items == [], "a dropped message keeps the connection"
        watcher.mqtt.publish("nodes/huge/state", b"x" * 1_100_000, qos=0)  # > max_packet_size 1 MiB
        watcher.disconnects.wait_for(bool, what="the broker closes the connection")
        assert "nodes/huge/state" not in agent.topics()


def test_one_flooding_client_does_not_stop_the_others(broker: RunningConfig) -> None:
    flood_count, events = 20_000, 30
    with clients() as opened:
        flooder = _client(broker, "agent", client_id="pi-flood")
        watcher = _client(broker, "watcher")
        agent = _client(broker, "agent", client_id="pi-steady")
        reader = _client(broker, "viewer", port="bound")
        opened += [flooder, watcher, agent, reader]
        agent.subscribe("nodes/flood-test/#")
        reader.subscribe("#")
        payload = b"f" * 1024

        def flood() -> None:
            for _ in range(flood_count):
                flooder.mqtt.publish("agents/pi-flood/frame", payload, qos=0)

        thread = threading.Thread(target=flood, name="flooder", daemon=True)
        started = time.monotonic()
        thread.start()
        for seq in range(events):
            watcher.publish("nodes/flood-test/pods", str(seq))
        agent.received.wait_for(lambda got: len(got) >= events, timeout=60, what=f"{events} events arrive")
        assert [int(p) for _, p in agent.received.items] == list(range(events))
        thread.join(120)
        assert not thread.is_alive()
        wait_until(lambda: broker.process.poll() is None, timeout=1, what="the broker is still running")
        assert time.monotonic() - started < 120


def test_autosave_writes_the_database_as_the_broker_user(tmp_path: Path) -> None:
    root = Path(tempfile.mkdtemp(prefix="shinealight-save-"))
    root.chmod(0o755)
    try:
        install(root)
        with run_config(PROD_CONF, root) as running:
            watcher = _client(running, "watcher")
            watcher.publish("nodes/kept/state", "snapshot", retain=True)
            watcher.close()
        database = root / "data" / "mosquitto.db"
        assert database.exists(), "Mosquitto saved nothing on exit:\n" + running.log
        assert pwd.getpwuid(database.stat().st_uid).pw_name == ("mosquitto" if AS_ROOT else
                                                                   pwd.getpwuid(os.geteuid()).pw_name)
        with run_config(PROD_CONF, root) as running:
            agent = _client(running, "agent", client_id="pi-kept")
            agent.subscribe("nodes/kept/state")
            agent.wait_for("nodes/kept/state")
            agent.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
