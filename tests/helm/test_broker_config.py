"""The chart's broker setup run for real: its init script and its config on a real Mosquitto.

The init container's script (copy the config, hash the Secret's passwords with
``mosquitto_passwd -U``) runs here under /bin/sh with the container paths mapped to a
private folder; then the local ``mosquitto`` starts on the resulting files
(``tests/broker/mosquittos.py``: listeners on free loopback ports, paths mapped) as the
current user, as it runs as its own user in the pod. Clients then prove the ACL under a
topic prefix, the anonymous variant, and TLS with the CA handed to the clients the way
the chart hands it to its pods (``SSL_CERT_FILE``).
"""

from __future__ import annotations

import base64
import os
import pwd
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.broker.mosquittos import PATHS, Client, RunningConfig, clients, run_config
from tests.helm.charts import Helm, Rendered
from tests.helm.schemas import pod_spec

BROKER = "shinealight-mosquitto"
ME = f"\nuser {pwd.getpwuid(os.geteuid()).pw_name}\n"


def _prepare(rendered: Rendered, root: Path) -> Path:
    """Run the init container's script on the rendered ConfigMap and Secret; return the config dir."""
    src, auth, config = root / "src", root / "auth", root / "etc"
    for folder in (src, auth, config, root / "data"):
        folder.mkdir()
    for key, text in rendered.one("ConfigMap", BROKER)["data"].items():
        (src / key).write_text(text)
    for secret in rendered.all("Secret"):
        for user, encoded in secret["data"].items():
            (auth / user).write_bytes(base64.b64decode(encoded))
    init = pod_spec(rendered.one("Deployment", BROKER))["initContainers"][0]
    assert init["command"][:2] == ["/bin/sh", "-ec"]
    script = init["command"][2].replace("/config-src", str(src)).replace("/auth-src", str(auth))
    for production, local in PATHS.items():
        script = script.replace(production, str(root / local))
    subprocess.run(["/bin/sh", "-ec", script], check=True, capture_output=True, timeout=30)
    return config


@pytest.fixture
def chart_broker(helm: Helm, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[RunningConfig]:
    rendered = helm.template("shinealight", *request.param)
    config = _prepare(rendered, tmp_path)
    with run_config((config / "mosquitto.conf").read_text(), tmp_path, extra=ME) as running:
        yield running


AUTH = ("bus.topicPrefix=sal/", "auth.passwords.watcher=w-pass", "auth.passwords.agent=a-pass",
        "auth.passwords.viewer=v-pass", "auth.viewers={viewer,console}")


@pytest.mark.parametrize("chart_broker", [AUTH], indirect=True)
def test_auth_init_hashes_passwords_privately(chart_broker: RunningConfig) -> None:
    config = chart_broker.root / "etc"
    users = dict(line.split(":", 1) for line in (config / "passwd").read_text().splitlines())
    assert set(users) == {"watcher", "agent", "viewer", "console"}
    assert all(h.startswith("$7$") for h in users.values()), "passwords must be hashed"
    for name in ("passwd", "acl", "mosquitto.conf"):
        assert (config / name).stat().st_mode & 0o077 == 0, f"{name} readable by others"


@pytest.mark.parametrize("chart_broker", [AUTH], indirect=True)
def test_auth_acl_lets_each_user_do_its_job_only(chart_broker: RunningConfig) -> None:
    ports = chart_broker.ports
    with clients() as opened:
        for user, password in [(None, None), ("watcher", "wrong")]:
            refused = Client(ports.mqtt, user, password)
            opened.append(refused)
            assert refused.refused, f"{user} must be refused"
        viewer = Client(ports.bound, "viewer", "v-pass")
        watcher = Client(ports.mqtt, "watcher", "w-pass", client_id="watcher-n1-0")
        agent = Client(ports.mqtt, "agent", "a-pass", client_id="n1")
        opened += [viewer, watcher, agent]
        viewer.subscribe("sal/#")
        viewer.subscribe("homeassistant/#")  # Home Assistant's discovery prefix is not under the topic prefix
        agent.subscribe("sal/nodes/#")
        watcher.publish("sal/nodes/n1/state", '{"v":1,"node":"n1","seq":1,"pods":[]}', retain=True)
        agent.wait_for("sal/nodes/n1/state")
        agent.publish("sal/nodes/n1/pods", '{"action":"add","pod":"forged"}')
        viewer.publish("sal/nodes/n1/pods", '{"action":"add","pod":"forged-too"}')
        agent.publish("nodes/n1/pods", "outside the prefix")
        agent.publish("homeassistant/sensor/forged/pods/config", "{}")
        agent.publish("sal/agents/n1/status", "online")
        watcher.publish("homeassistant/sensor/shinealight_sal_n1/pods/config", "{}")
        watcher.publish("sal/watchers/watcher-n1-0/status", "online")
        viewer.wait_for("sal/agents/n1/status")
        viewer.wait_for("homeassistant/sensor/shinealight_sal_n1/pods/config")
        viewer.wait_for("sal/watchers/watcher-n1-0/status")
        assert "sal/nodes/n1/pods" not in viewer.topics()
        assert "homeassistant/sensor/forged/pods/config" not in viewer.topics()


@pytest.mark.parametrize("chart_broker", [("auth.enabled=false",)], indirect=True)
def test_anonymous_variant_accepts_anyone(chart_broker: RunningConfig) -> None:
    assert not (chart_broker.root / "etc" / "passwd").exists()
    client = Client(chart_broker.ports.mqtt, None)
    try:
        assert not client.refused
        client.subscribe("nodes/#")
        client.publish("nodes/n1/status", "online")
        client.wait_for("nodes/n1/status")
    finally:
        client.close()


def _certificates(folder: Path) -> None:
    """A CA and a server certificate for the broker's Service name (and 127.0.0.1)."""
    folder.mkdir()
    assert shutil.which("openssl"), "openssl (Debian package openssl) makes the test certificates"

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60, cwd=folder)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test CA",
            "-keyout", "ca.key", "-out", "ca.crt")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={BROKER}", "-keyout", "tls.key", "-out", "tls.csr")
    (folder / "san.ext").write_text(f"subjectAltName=DNS:{BROKER},IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
            "-extfile", "san.ext", "-out", "tls.crt")


# What bus/connection.py does for mqtts:// (paho's tls_set() with the default context),
# in a process of its own whose only CA is the one SSL_CERT_FILE names.
TLS_CLIENT = textwrap.dedent("""
    import sys, threading
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion
    done = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="tls-probe")
    client.tls_set()
    client.username_pw_set("watcher", "w-pass")
    client.on_connect = lambda c, u, f, reason, p: (print(reason), done.set())
    client.connect("127.0.0.1", int(sys.argv[1]))
    client.loop_start()
    done.wait(10)
    client.loop_stop()
""")


def test_tls_listener_with_the_ca_given_to_the_clients(helm: Helm, tmp_path: Path) -> None:
    rendered = helm.template("shinealight", *AUTH, "broker.tls.enabled=true", "broker.tls.secretName=mqtt-tls")
    env = {e["name"]: e.get("value") for e in pod_spec(rendered.one("DaemonSet"))["containers"][0]["env"]}
    config = _prepare(rendered, tmp_path)
    _certificates(tmp_path / "certs")
    with run_config((config / "mosquitto.conf").read_text(), tmp_path, extra=ME) as running:
        def connect(ca: Path) -> str:
            result = subprocess.run([sys.executable, "-c", TLS_CLIENT, str(running.ports.mqtt)], check=False,
                                    capture_output=True, text=True, timeout=30,
                                    env={**os.environ, "SSL_CERT_FILE": str(ca)})
            return result.stdout.strip() + result.stderr.strip()[-300:]

        assert env["SSL_CERT_FILE"].endswith("/ca.crt") and env["MQTT_URL"].startswith("mqtts://")
        assert connect(tmp_path / "certs" / "ca.crt") == "Success"
        assert "CERTIFICATE_VERIFY_FAILED" in connect(tmp_path / "certs" / "tls.crt"), "another CA must not verify"
