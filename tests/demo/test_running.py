"""``python -m demo`` as a user runs it: the tour on its own, a clean Ctrl-C, bad flags."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.support.paths import ROOT


def demo(*args: str, log: Path) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with log.open("w") as err:
        return subprocess.Popen([sys.executable, "-m", "demo", *args], cwd=ROOT, env=env, text=True,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)


def test_the_tour_runs_every_strategy_on_its_own(mosquitto: Any, probe: Any, topic_prefix: str, tmp_path: Path) -> None:
    bus = probe(f"{topic_prefix}nodes/+/pods")
    process = demo("--headless", "--scenario", "tour", "--speed", "10", "--console-port", "0",
                   "--broker", mosquitto.url, "--topic-prefix", topic_prefix, "--duration", "150", log=tmp_path / "err")
    out, _ = process.communicate(timeout=180)
    assert process.returncode == 0, (tmp_path / "err").read_text()[-2000:]
    lines = out.splitlines()
    assert [line.split(":")[0] for line in lines if line.startswith("tour ")] == [
        *(f"tour {i}/7" for i in range(1, 8)), "tour done",
    ]
    assert re.search(r"console: http://127\.0\.0\.1:\d+", out)
    events = [json.loads(m.payload) for m in bus.messages]
    colors = {e.get("color") for e in events if e["action"] == "add"}
    assert colors == {"ffff00", "a81399"}
    assert {m.topic.split("/")[-2] for m in bus.messages} == {"node-1", "node-2", "node-3"}
    late = probe(f"{topic_prefix}nodes/+/state")
    late.wait_for(lambda m: len(m) == 3)
    pods = [p for m in late.messages for p in json.loads(m.payload)["pods"]]
    assert len(pods) == 2 and {p["color"] for p in pods} == {"ffff00"}  # the tour ends scaled down to 2, in v1


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_ctrl_c_stops_everything_it_started(tmp_path: Path) -> None:
    process = demo("--headless", "--console-port", "0", log=tmp_path / "err")
    assert process.stdout is not None
    ports = {}
    for line in process.stdout:
        if match := re.match(r"(broker|cluster|console): .*?(?:mqtt|http)://127\.0\.0\.1:(\d+)", line):
            ports[match.group(1)] = int(match.group(2))
        if len(ports) == 3:
            break
    assert all(_port_open(p) for p in ports.values()), ports
    process.send_signal(signal.SIGINT)
    assert process.wait(30) == 0, (tmp_path / "err").read_text()[-2000:]
    process.stdout.close()
    deadline = time.monotonic() + 5
    while any(_port_open(p) for p in ports.values()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_port_open(p) for p in ports.values()), f"still listening: {ports}"


def test_bad_flags_are_clear_errors(tmp_path: Path) -> None:
    for args, message in [(["--nodes", "0"], "must be > 0"), (["--bogus"], "unrecognized arguments"),
                          (["--replay", str(tmp_path / "missing.jsonl")], "no such capture file")]:
        process = demo(*args, log=tmp_path / "err")
        process.communicate(timeout=60)
        assert process.returncode == 2
        assert message in (tmp_path / "err").read_text()


def test_on_a_bare_machine_the_embedded_broker_carries_the_bus(tmp_path: Path) -> None:
    """No Mosquitto: the embedded broker starts, and watchers publish every node's snapshot to it."""
    from tests.support.brokers import BrokerEndpoint
    from tests.support.probes import Probe

    process = demo("--headless", "--embedded-broker", "--console-port", "0", "--scenario", "tour", "--speed", "10",
                   log=tmp_path / "err")
    assert process.stdout is not None
    first = process.stdout.readline()
    match = re.match(r"broker: embedded on mqtt://127\.0\.0\.1:(\d+)", first)
    assert match, first
    try:
        bus = Probe(BrokerEndpoint("127.0.0.1", int(match.group(1))), "nodes/+/pods")
        bus.wait_for(lambda m: {x.topic.split("/")[1] for x in m} == {"node-1", "node-2", "node-3"}, timeout=60)
        bus.close()
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
    assert process.returncode == 0, (tmp_path / "err").read_text()[-2000:]
