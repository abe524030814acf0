"""The large simulated cluster and its API server, in a process of their own.

A ``sim.cluster.Cluster`` of ``nodes`` nodes ticking on a sped-up ``RealClock``, one
Deployment of ``nodes * pods_per_node`` replicas, and the ``ApiServer`` the watchers
read. It runs in a spawn-context child (as ``bench/apiprocess.py`` does) because the
simulator is the most expensive part of the benchmark: a controller pass deep-copies
every pod of the store, so with 3000-6600 pods one pass costs ~0.1-0.2 s of CPU. In
the measuring process it would share a GIL with the paho counter and the browser
driver; here it only shares the machine's two cores, and its CPU time is reported.

The parent drives it over a pipe, one command at a time:

- ``("deploy", color)``: apply the Deployment with that ``blinktColor`` (the first
  call creates it, later ones start a rolling update); answers the monotonic time just
  before the apply (which already runs the first controller step).
- ``("wait", timeout)``: wait until the rollout is complete *and* no old pod is left
  terminating; answers a :class:`Done`.
- ``("spread",)``: (fewest, most) active pods on a node, to check the scheduler.
- ``("stop",)``: stop the server and the ticking.

The store's resourceVersion is sampled every :data:`SAMPLE_SECONDS` into a timeline,
so the parent gets the API's own events per second (the watcher's input) and the
moment the last write of the rollout happened, without extra work in the controllers.
``time.monotonic`` is one clock for every process on Linux, so those moments compare
directly with the parent's.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sim.apiserver import ApiServer
from sim.clock import RealClock
from sim.cluster import Cluster
from sim.lifecycle import Timings
from sim.podstore import PodStore
from sim.rollout import RollingUpdate

SAMPLE_SECONDS = 0.05
POLL_SECONDS = 0.5  # a status read is a full controller view (~0.1 s of CPU): not too often
DEPLOYMENT = "large"


@dataclass(frozen=True)
class ClusterSettings:
    nodes: int = 100
    pods_per_node: int = 30
    speed: float = 10.0
    startup: tuple[float, float] = (1.0, 3.0)
    grace: float = 1.0
    max_surge: str = "10%"
    max_unavailable: str = "10%"
    tick: float = 0.1
    history: int = 25_000

    @property
    def replicas(self) -> int:
        return self.nodes * self.pods_per_node


@dataclass(frozen=True)
class Done:
    complete: bool
    last_write: float  # monotonic time the store reached its final version
    timeline: list[tuple[float, int]] = field(default_factory=list)  # (monotonic, resourceVersion)
    cpu_seconds: float = 0.0  # of this whole process, so far
    errors: int = 0  # controller steps that failed (logged in the child)


class _Timeline:
    """(monotonic, resourceVersion) every SAMPLE_SECONDS, in a daemon thread."""

    def __init__(self, store: PodStore) -> None:
        self.samples: list[tuple[float, int]] = []
        self._store = store
        self._stop = threading.Event()
        threading.Thread(target=self._run, name="rv-timeline", daemon=True).start()

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self.samples.append((time.monotonic(), self._store.resource_version))

    def reached(self, version: int) -> float:
        return next((t for t, rv in self.samples if rv >= version), time.monotonic())

    def stop(self) -> None:
        self._stop.set()


def _labels(color: str) -> dict[str, str]:
    return {"app": DEPLOYMENT, "blinkt": "show", "blinktColor": color}


def _wait(cluster: Cluster, timeline: _Timeline, timeout: float) -> Done:
    deadline = time.monotonic() + timeout
    complete = False
    while time.monotonic() < deadline and not complete:
        time.sleep(POLL_SECONDS)
        status = cluster.deployment_status(DEPLOYMENT)
        complete = status.complete and status.terminating == 0
    final = cluster.store.resource_version
    time.sleep(2 * SAMPLE_SECONDS)  # the timeline has a sample at the final version
    return Done(complete, timeline.reached(final), list(timeline.samples), time.process_time(), cluster.errors)


def _spread(cluster: Cluster) -> tuple[int, int]:
    pods, _ = cluster.store.select()
    counts = Counter(p["spec"]["nodeName"] for p in pods if not p["metadata"].get("deletionTimestamp"))
    per_node = [counts.get(node, 0) for node in cluster.nodes]
    return min(per_node), max(per_node)


def _handle(command: tuple[object, ...], *, cluster: Cluster, timeline: _Timeline, strategy: RollingUpdate,
            settings: ClusterSettings) -> object:
    match command:
        case ("deploy", str(color)):
            before = time.monotonic()  # the apply runs the first controller step: count its writes
            cluster.apply_deployment(DEPLOYMENT, replicas=settings.replicas, pod_labels=_labels(color),
                                     strategy=strategy)  # fmt: skip
            return before
        case ("wait", float(timeout)):
            return _wait(cluster, timeline, timeout)
        case ("spread",):
            return _spread(cluster)
    raise ValueError(f"unknown command {command!r}")


def _serve(conn: multiprocessing.connection.Connection, settings: ClusterSettings) -> None:
    clock = RealClock(speed=settings.speed)
    store = PodStore(clock=clock.wall, history_size=settings.history)
    timings = Timings(startup=settings.startup, grace=settings.grace)
    cluster = Cluster(store, nodes=settings.nodes, clock=clock, timings=timings, tick=settings.tick)
    ticking = cluster.start()
    api = ApiServer(store, bookmark_interval=30).start()
    timeline = _Timeline(store)
    strategy = RollingUpdate(max_surge=settings.max_surge, max_unavailable=settings.max_unavailable)
    conn.send(api.url)
    while (command := conn.recv())[0] != "stop":
        try:
            conn.send(_handle(command, cluster=cluster, timeline=timeline, strategy=strategy, settings=settings))
        except (ValueError, LookupError) as e:  # a bad command or spec: the parent raises it
            conn.send(e)
    timeline.stop()
    api.stop()
    ticking.stop()


class ClusterProcess:
    """The child process and its pipe; every call blocks until the child answers."""

    def __init__(self, settings: ClusterSettings) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve, args=(child, settings), name="large-cluster", daemon=True)
        self._process.start()
        self.url: str = self._conn.recv()

    @property
    def pid(self) -> int:
        assert self._process.pid is not None
        return self._process.pid

    def deploy(self, color: str) -> float:
        started: float = self._ask("deploy", color)
        return started

    def wait(self, timeout: float) -> Done:
        done: Done = self._ask("wait", float(timeout))
        return done

    def spread(self) -> tuple[int, int]:
        fewest, most = self._ask("spread")
        return int(fewest), int(most)

    def stop(self) -> None:
        if self._process.is_alive():
            self._conn.send(("stop",))
            self._process.join(15)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(5)

    def _ask(self, *command: object) -> Any:
        self._conn.send(command)
        answer = self._conn.recv()
        if isinstance(answer, Exception):
            raise answer
        return answer
