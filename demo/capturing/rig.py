"""One capture's world: a Mosquitto of its own, the simulated cluster behind its API
server, one real watcher process per node, and a monitor of the retained snapshots.

"Settled" means the cluster has nothing pending (``next_due() is None``: no pod
starting, none terminating) and every node's retained snapshot lists exactly the
store's pods of that node, in the same states. Watchers publish a snapshot after the
events it includes, so by then every event is on the bus too.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

from broker.launching import BrokerStartError, RunningBroker, start_mosquitto
from bus.connection import BrokerUnavailable, BusConnection, Message
from bus.messages import BadMessage, decode_snapshot
from bus.topics import NodeTopic, TopicError, Topics
from bus.urls import parse_broker_url
from console.executors import ExecutorError
from console.executors.simulated import SimulatedExecutor
from console.plans import AppState, Pause, PlanError, StrategyName, Target
from console.strategies import build_plan
from sim.apiserver import ApiServer
from sim.clock import RealClock
from sim.cluster import Cluster
from sim.kubeconfig import write_kubeconfig
from sim.selectors import PodSelector
from watcher.podviews import pod_state

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
SHOWN = PodSelector.parse(labels="blinkt=show")
SETTLE_TIMEOUT = 60.0  # real seconds
PROCESS_TIMEOUT = 15.0


class CaptureFailed(RuntimeError):
    """A capture could not be made; the message says which part failed."""


NodeView = frozenset[tuple[str, str]]  # (pod name, state) of one node


class SnapshotMonitor:
    """The latest retained snapshot and status per node, as a subscriber sees them."""

    def __init__(self, url: str, topics: Topics) -> None:
        self._topics = topics
        self._lock = threading.Condition()
        self.views: dict[str, NodeView] = {}
        self.statuses: dict[str, bytes] = {}
        self.connection = BusConnection(
            parse_broker_url(url), client_id=f"capturing-monitor-{os.getpid()}",
            subscriptions=[(topics.state_filter(), 1), (f"{topics.prefix}nodes/+/{NodeTopic.STATUS.value}", 1)],
            on_message=self._take,
        )

    def _take(self, message: Message) -> None:
        try:
            parsed = self._topics.parse(message.topic)
            if parsed.kind is NodeTopic.STATE and message.payload:
                snapshot = decode_snapshot(message.payload)
                view = frozenset((p.pod, str(p.state)) for p in snapshot.pods)
                with self._lock:
                    self.views[parsed.node] = view
            elif parsed.kind is NodeTopic.STATUS:
                with self._lock:
                    self.statuses[parsed.node] = message.payload
                    self._lock.notify_all()
        except (TopicError, BadMessage) as e:  # our own watchers wrote it: worth a loud line
            log.warning("monitor: unexpected message on %s: %s", message.topic, e)

    def view(self, node: str) -> NodeView | None:
        with self._lock:
            return self.views.get(node)

    def wait_status(self, node: str, status: bytes, timeout: float) -> bool:
        with self._lock:
            return self._lock.wait_for(lambda: self.statuses.get(node) == status, timeout)


class Rig:
    """One capture's world: broker, cluster and its API server, watcher processes, a monitor."""

    def __init__(self, workdir: Path, *, speed: float, nodes: int = 3, seed: str = "capture",
                 hold_scale: float = 1.0) -> None:
        self.workdir = workdir
        self.hold_scale = hold_scale
        self.cluster = Cluster(nodes=nodes, clock=RealClock(speed), seed=seed)
        self.executor = SimulatedExecutor(self.cluster)
        self.state = AppState()
        self.watchers: dict[str, subprocess.Popen[bytes]] = {}
        self._cleanups: list[Callable[[], object]] = []

    def __enter__(self) -> Rig:
        try:
            self.broker: RunningBroker = start_mosquitto(persistence=False)
            self._cleanups.append(self.broker.stop)
            self._cleanups.append(self.cluster.start().stop)
            self.api = ApiServer(self.cluster.store, bookmark_interval=5.0).start()
            self._cleanups.append(self.api.stop)
            self.kubeconfig = write_kubeconfig(self.workdir / "kubeconfig", self.api.url)
            self.monitor = SnapshotMonitor(self.broker.url, Topics())
            self.monitor.connection.start(wait=10)
            self._cleanups.append(lambda: self.monitor.connection.stop(publish_offline=False))
            for node in self.cluster.nodes:
                self.start_watcher(node)
        except (BrokerStartError, BrokerUnavailable, OSError) as e:
            self.close()
            raise CaptureFailed(f"cannot set the stage: {e}") from e
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        for node in list(self.watchers):
            self._end_watcher(node, signal.SIGTERM)
        while self._cleanups:
            self._cleanups.pop()()

    # -- watchers ----------------------------------------------------------------------

    def start_watcher(self, node: str) -> None:
        argv = [sys.executable, "-m", "watcher", "--node", node, "--broker", self.broker.url,
                "--kubeconfig", str(self.kubeconfig), "--log-level", "WARNING"]
        with (self.workdir / f"watcher-{node}.log").open("ab") as err:
            self.watchers[node] = subprocess.Popen(argv, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)

    def kill_watcher(self, node: str) -> None:
        """SIGKILL: no clean goodbye, so the broker publishes the watcher's last will."""
        self._end_watcher(node, signal.SIGKILL)
        if not self.monitor.wait_status(node, b"offline", PROCESS_TIMEOUT):
            raise CaptureFailed(f"no last will 'offline' from the killed watcher of {node}")

    def _end_watcher(self, node: str, sig: int) -> None:
        process = self.watchers.pop(node)
        if process.poll() is None:
            process.send_signal(sig)
        try:
            process.wait(PROCESS_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _check_watchers(self) -> None:
        for node, process in self.watchers.items():
            if process.poll() is not None:
                tail = (self.workdir / f"watcher-{node}.log").read_text(errors="replace")[-800:]
                raise CaptureFailed(f"the watcher of {node} exited with {process.returncode}: {tail}")

    # -- the app -----------------------------------------------------------------------

    def run(self, strategy: StrategyName, version_color: tuple[str, str], replicas: int, *,
            pause_s: float | None = None) -> None:
        """Build the strategy's plan for the current state and carry it out step by step."""
        version, color = version_color
        try:
            plan = build_plan(strategy, self.state, Target(version, color, replicas), pause_s=pause_s)
            for step in plan.steps:
                if isinstance(step, Pause):
                    self.executor.pause(step.seconds, wake=threading.Event(), log=log.debug)
                else:
                    self.executor.execute(step, log=log.debug, cancel=threading.Event())
        except (PlanError, ExecutorError) as e:
            raise CaptureFailed(f"{strategy} to {version} failed: {e}") from e
        self.state = plan.end_state()

    def hold(self, seconds: float) -> None:
        """Let real time pass with nothing asked of the cluster (a pause the LEDs show)."""
        time.sleep(seconds * self.hold_scale)

    # -- settling ----------------------------------------------------------------------

    def store_view(self, node: str) -> NodeView:
        pods, _ = self.cluster.store.select(SHOWN)
        return frozenset((p["metadata"]["name"], str(pod_state(p))) for p in pods if p["spec"].get("nodeName") == node)

    def settled(self, skip: Sequence[str] = ()) -> bool:
        if self.cluster.next_due() is not None:
            return False
        return all(self.monitor.view(n) == self.store_view(n) for n in self.cluster.nodes if n not in skip)

    def settle(self, *, skip: Sequence[str] = (), timeout: float = SETTLE_TIMEOUT) -> None:
        """Wait until nothing is pending and every (not skipped) node's snapshot shows the store."""
        deadline = time.monotonic() + timeout
        while not self.settled(skip):
            self._check_watchers()
            if time.monotonic() > deadline:
                views = {n: (sorted(self.monitor.view(n) or ()), sorted(self.store_view(n)))
                         for n in self.cluster.nodes}
                raise CaptureFailed(f"not settled after {timeout:g} s: snapshot vs store {views}")
            time.sleep(0.05)
