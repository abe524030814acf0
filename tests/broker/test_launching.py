"""broker/launching.py's Mosquitto keeps its database, also when started by root.

Started as root, Mosquitto drops to the ``mosquitto`` user unless its config names one;
that user cannot write into the root-owned private folder the launcher made, so every
save failed and a restarted broker came back empty. The launcher now names whoever
started it (``run_as_user``).
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path

from broker.launching import mosquitto_config, run_as_user, start_mosquitto
from tests.broker.mosquittos import Client


def test_the_config_names_the_launching_user(tmp_path: Path) -> None:
    assert run_as_user() == pwd.getpwuid(os.geteuid()).pw_name
    conf = mosquitto_config(port=1, ws_port=None, data_dir=tmp_path, persistence=True)
    assert conf.splitlines()[0] == f"user {run_as_user()}"


def test_retained_messages_survive_a_restart(tmp_path: Path) -> None:
    workdir = tmp_path / "broker"
    workdir.mkdir(mode=0o700)
    broker = start_mosquitto(workdir=workdir)
    try:
        writer = Client(broker.port, None)
        writer.publish("nodes/n1/state", "snapshot", retain=True)
        writer.close()
    finally:
        broker.stop()
    assert (workdir / "mosquitto.db").exists(), (workdir / "broker.log").read_text()
    broker = start_mosquitto(workdir=workdir, port=broker.port)
    try:
        reader = Client(broker.port, None)
        reader.subscribe("nodes/#")
        reader.wait_for("nodes/n1/state")
        reader.close()
    finally:
        broker.stop()
