"""Fixtures for the watcher on the wire: the project's API server and watchers in-process or as processes."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from paho.mqtt import publish

from bus.topics import Topics
from bus.urls import parse_broker_url
from sim.apiserver import ApiServer
from sim.kubeconfig import write_kubeconfig
from sim.pods import make_pod
from sim.podstore import PodStore
from tests.support.brokers import BrokerEndpoint
from tests.support.kube import pod_api
from tests.support.paths import ROOT
from tests.support.probes import Probe
from watcher.errors import ApiRejected
from watcher.service import Watcher, WatcherConfig


@pytest.fixture
def cluster() -> Iterator[ApiServer]:
    server = ApiServer(PodStore(history_size=100), bookmark_interval=0.2).start()
    try:
        yield server
    finally:
        server.stop()


def show_pod(name: str, *, node: str | None = "node-1", color: str | None = "ffff00", **kw: Any) -> dict[str, Any]:
    labels = {"app": "whoami", "blinkt": "show"}
    if color is not None:
        labels["blinktColor"] = color
    labels |= kw.pop("labels", {})
    return make_pod(name, node=node, labels=labels, **kw)



@pytest.fixture
def start_watcher(mosquitto: Any, cluster: ApiServer, topic_prefix: str) -> Iterator[Callable[..., Watcher]]:
    watchers: list[Watcher] = []

    def start(nodes: list[str] | None = ["node-1"], node_source: Nodes | None = None,  # noqa: B006
              **overrides: Any) -> Watcher:
        config = WatcherConfig(
            broker=parse_broker_url(overrides.pop("broker", mosquitto.url)),
            nodes=frozenset(nodes) if nodes is not None else None,
            topics=Topics(topic_prefix),
            snapshot_interval=0.05,
            min_watch_timeout=5,
            **overrides,
        )
        watcher = Watcher(config, pod_api(cluster), nodes=node_source)
        watchers.append(watcher)
        watcher.start()
        return watcher

    yield start
    for watcher in watchers:
        watcher.stop()


class Nodes:
    """A ``NodeSource`` the test steers (the simulated cluster serves pods only): the cluster's nodes, or 403."""

    def __init__(self, *names: str) -> None:
        self.names = set(names)
        self.forbidden = False
        self.asked: list[str | None] = []

    def node_names(self, name: str | None = None, *, timeout: float) -> frozenset[str]:
        self.asked.append(name)
        if self.forbidden:
            raise ApiRejected('HTTP 403: nodes is forbidden: cannot list resource "nodes"', status=403)
        return frozenset(n for n in self.names if name is None or n == name)


def retained_messages(endpoint: BrokerEndpoint, topic_filter: str) -> dict[str, bytes]:
    """What a fresh subscriber gets retained on ``topic_filter``, by topic.

    For a ``…/#`` filter, all of it: a marker published under the filter after the subscription
    comes back after every retained message (the broker handles one client's packets in
    order, as the watcher's seeding relies on). For one topic, what arrives within a second.
    """
    fresh = Probe(endpoint, topic_filter)
    try:
        if topic_filter.endswith("#"):
            marker = f"{topic_filter[:-1]}probe-marker-{uuid.uuid4().hex[:8]}"
            publish.single(marker, b"", qos=1, hostname=endpoint.host, port=endpoint.port)
            fresh.wait_for(lambda m: any(x.topic == marker for x in m))
        else:
            with contextlib.suppress(AssertionError):
                fresh.wait_for(lambda m: any(x.retain for x in m), timeout=1)
        return {x.topic: bytes(x.payload) for x in fresh.messages if x.retain}
    finally:
        fresh.close()


@pytest.fixture(scope="session")
def home_assistant() -> str:
    """The Python of Home Assistant's venv (tests/watcher/homeassistant/ensure-homeassistant), built once."""
    ensure = ROOT / "tests" / "watcher" / "homeassistant" / "ensure-homeassistant"
    built = subprocess.run([str(ensure)], capture_output=True, text=True, timeout=900, check=False)
    if built.returncode != 0:
        reason = built.stderr.strip().splitlines()[-1] if built.stderr.strip() else "no reason given"
        print(f"Home Assistant venv could not be built: {reason}")
        pytest.skip(f"Home Assistant venv could not be built: {reason}")
    return built.stdout.strip()


@pytest.fixture
def kubeconfig(cluster: ApiServer, tmp_path: Path) -> Path:
    return write_kubeconfig(tmp_path / "kubeconfig", cluster.url)


class WatcherProcess:
    """``python -m watcher`` as a user runs it; stderr goes to a log file we can read."""

    def __init__(self, *args: str, log: Path) -> None:
        self.log = log
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        with log.open("ab") as err:
            self.process = subprocess.Popen([sys.executable, "-m", "watcher", *args], cwd=ROOT, env=env,
                                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout)

    def wait(self, timeout: float = 30) -> int:
        return self.process.wait(timeout)

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")


def payloads(messages: list[Any], topic: str) -> list[dict[str, Any]]:
    return [json.loads(m.payload) for m in messages if m.topic == topic and m.payload]


def metric(text: str, sample: str) -> float:
    """The value of one sample (``name`` or ``name{labels}``) in Prometheus text."""
    for line in text.splitlines():
        if line.rsplit(" ", 1)[0] == sample:
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no sample {sample} in /metrics")
