"""Parts the benchmarks share: a broker, the simulated API server, watchers as processes, an agent in-process.

Everything runs on this machine, on loopback, on free ports; every loop is bounded in
count and time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bench.apiprocess import ApiProcess
from broker.engines import Engine, start_engine
from bus.topics import Topics
from bus.urls import parse_brokers
from led_agent.agent import Agent, AgentConfig
from led_agent.rendering import Frame
from sim.kubeconfig import write_kubeconfig

ROOT = Path(__file__).resolve().parents[1]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def report(results: Mapping[str, Mapping[str, float]], *, as_json: bool) -> None:
    """Print a bench's results: one JSON object, or a section per measurement."""
    if as_json:
        print(json.dumps(results, indent=2))
        return
    for section, numbers in results.items():
        print(f"{section}:")
        for key, value in numbers.items():
            print(f"  {key:28s} {value:10.2f}")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


@dataclass
class RecordingDevice:
    """A device that notes when each (node, colour) was first shown, and every write."""

    first_seen: dict[tuple[str, str], float] = field(default_factory=dict)
    writes: list[float] = field(default_factory=list)
    last: dict[str, Frame] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def show(self, frames: Mapping[str, Frame], brightness: float) -> None:
        now = time.monotonic()
        with self._lock:
            self.writes.append(now)
            for node, frame in frames.items():
                self.last[node] = frame
                for color in frame:
                    self.first_seen.setdefault((node, color), now)

    def close(self) -> None:
        pass


@dataclass
class Bench:
    """Broker + API server + one watcher process per node + an in-process agent.

    ``engine``: which MQTT engine to start (``broker.engines``); ``urls``: use these
    brokers instead (started and stopped by the caller). On several servers watchers
    take them in order and the agent the list rotated by one (a cluster: watchers on
    the first server, the agent on the second), each with the whole list for failover.
    """

    nodes: list[str]
    pods_per_node: int
    bookmark_interval: float = 30.0
    engine: str = "mosquitto"
    urls: tuple[str, ...] | None = None
    rotate: bool = True  # False: independent brokers, every part in the same order
    broker: Engine | None = field(init=False, default=None)
    api: ApiProcess = field(init=False)
    watchers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    agent: Agent | None = None
    device: RecordingDevice = field(default_factory=RecordingDevice)
    _tmp: tempfile.TemporaryDirectory[str] = field(default_factory=tempfile.TemporaryDirectory)

    def __post_init__(self) -> None:
        if self.urls is None:
            self.broker = start_engine(self.engine)
            self.urls = self.broker.urls
        try:
            self.api = ApiProcess(self.nodes, self.pods_per_node, bookmark_interval=self.bookmark_interval)
        except BaseException:  # no orphaned broker (a NATS cluster is three processes)
            if self.broker is not None:
                self.broker.stop()
            raise

    @property
    def publishers(self) -> str:
        assert self.urls
        return ",".join(self.urls)

    @property
    def subscribers(self) -> str:
        assert self.urls
        return ",".join(self.urls[1:] + self.urls[:1]) if self.rotate else self.publishers

    def start_watchers(self, *, all_nodes: bool = False, root: Path = ROOT) -> None:
        """``python -m watcher`` per node (or one ``--all-nodes``), from ``root`` (another checkout, to compare)."""
        kubeconfig = write_kubeconfig(Path(self._tmp.name) / "kubeconfig", self.api.url)
        env = dict(os.environ, PYTHONPATH=str(root), PYTHONDONTWRITEBYTECODE="1")
        targets = [["--all-nodes"]] if all_nodes else [["--node", n] for n in self.nodes]
        for target in targets:
            args = [*target, "--kubeconfig", str(kubeconfig), "--broker", self.publishers, "--log-level", "WARNING",
                    "--snapshot-interval", "0.2"]
            self.watchers.append(subprocess.Popen([sys.executable, "-m", "watcher", *args], cwd=root, env=env,
                                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                                  stderr=subprocess.DEVNULL))

    def start_agent(self, *, leds: int = 8) -> Agent:
        config = AgentConfig(broker=parse_brokers([self.subscribers]), nodes=tuple(self.nodes), agent_id="bench",
                             leds=leds, topics=Topics())
        self.agent = Agent(config, self.device)
        self.agent.start()
        return self.agent

    def wait_until(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what}")
            time.sleep(0.01)

    def recolor(self, node: str, index: int, color: str) -> None:
        self.api.recolor(node, index, color)

    def close(self) -> None:
        if self.agent is not None:
            self.agent.stop()
        for process in self.watchers:
            process.terminate()
        for process in self.watchers:
            process.wait(10)
        self.api.stop()
        if self.broker is not None:
            self.broker.stop()
        self._tmp.cleanup()
