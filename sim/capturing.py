"""``python -m sim.capturing --out-dir tests/captures``: (re)make the captured bus streams.

Each capture is made as a user would make one by hand: a Mosquitto of its own, the
simulated cluster ticking in real time (``RealClock`` with a speed-up, so the timing is
realistic but short) behind its Kubernetes API server, one real ``python -m watcher``
process per node reading a kubeconfig (a DaemonSet, in miniature), and the real
:class:`bus.recording.Recorder` subscribed to ``nodes/#``. The app is driven through
the console's strategy plans on the console's simulated executor, so the pods carry the
chart's labels and roll out with the chart's strategy. Watchers are processes, not
threads, because one scenario kills one with SIGKILL: its last will, its successor's
new epoch and the successor's diff are what that capture is for.

A capture runs in three phases:

1. *prepare* (not recorded): install the app and wait until it is settled;
2. *record*: start the recorder — the broker first delivers the retained snapshots and
   statuses, so the capture opens with the state of the world and a replay into an
   empty broker bootstraps its subscribers — then *act* (scale, roll out, kill…);
3. wait until settled again, keep a short quiet tail, stop.

"Settled" means the cluster has nothing pending (``next_due() is None``: no pod
starting, none terminating) and every node's retained snapshot lists exactly the
store's pods of that node, in the same states. Watchers publish a snapshot after the
events it includes, so by then every event is on the bus too.

Deterministic-ish: the cluster is seeded (same pod names, same placement, same order of
events), but epochs, uids, timestamps and exact offsets differ from run to run. Tests
check the captures' properties, never their bytes.

Errors: :class:`CaptureFailed` (a part did not come up, a watcher died, the cluster did
not settle in time, the recorder could not write); the command prints it in one line
and exits with 1. A capture is written to a temporary file and renamed at the end, so a
failed run never leaves a half capture behind.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from broker.launching import BrokerStartError, RunningBroker, start_mosquitto
from bus.captures import CaptureWriter, load_capture
from bus.connection import BrokerUnavailable, BusConnection, Message
from bus.messages import BadMessage, decode_snapshot, utc_timestamp
from bus.recording import Recorder
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

log = logging.getLogger("sim.capturing")

ROOT = Path(__file__).resolve().parents[1]
RECORDED_TOPICS = ("nodes/#",)
SHOWN = PodSelector.parse(labels="blinkt=show")
YELLOW, VIOLET = "ffff00", "a81399"
V1, V2 = ("1.0.0", YELLOW), ("2.2.0", VIOLET)
SETTLE_TIMEOUT = 60.0  # real seconds
PROCESS_TIMEOUT = 15.0
QUIET_TAIL = 1.0  # real seconds recorded after settling: anything still on its way gets in


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


# -- scenarios ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    speed: float  # cluster seconds per real second
    prepare: Callable[[Rig], None]
    act: Callable[[Rig], None]


def _install(replicas: int) -> Callable[[Rig], None]:
    return lambda rig: rig.run("install", V1, replicas)


def _scaling(rig: Rig) -> None:
    rig.hold(1.0)
    rig.run("scale", V1, 6)
    rig.settle()
    rig.hold(1.5)
    rig.run("scale", V1, 2)


def _rolling(rig: Rig) -> None:
    rig.hold(1.0)
    rig.run("rolling", V2, 9)


def _watcher_restart(rig: Rig) -> None:
    down = rig.cluster.nodes[1]
    rig.hold(1.0)
    rig.kill_watcher(down)
    rig.hold(1.0)
    rig.run("rolling", V2, 6)  # every pod of the node goes and new ones come while nobody watches
    rig.settle(skip=[down])
    rig.hold(1.0)
    rig.start_watcher(down)


def _canary(rig: Rig) -> None:
    rig.hold(1.0)
    rig.run("canary", V2, 6, pause_s=9.0)


def _blue_green(rig: Rig) -> None:
    rig.hold(1.0)
    rig.run("blue-green", V2, 6)


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("scaling", "whoami 1 -> 6 -> 2 replicas, yellow, on 3 nodes", 2.0, _install(1), _scaling),
    Scenario("rolling-upgrade", "9 replicas rolled from 1.0.0 yellow to 2.2.0 violet (RollingUpdate 1/0)", 3.0,
             _install(9), _rolling),
    Scenario("watcher-restart", "node-2's watcher SIGKILLed, a rollout while it is down, then restarted", 4.0,
             _install(6), _watcher_restart),
    Scenario("canary", "canary whoamiv2 violet: 1 pod, pause, 6 pods, old release removed", 3.0, _install(6), _canary),
    Scenario("blue-green", "blue-green to whoamiv2 violet: 6 new pods, then the 6 old removed", 2.0, _install(6),
             _blue_green),
)}


# -- recording ---------------------------------------------------------------------------


def record(scenario: Scenario, out: Path, *, workdir: Path, speed_up: float = 1.0) -> None:
    """Make ``scenario``'s capture at ``out`` (replaced only when the whole capture succeeded).

    ``speed_up`` runs the cluster and the pauses that much faster than the scenario's own
    pace: a quick check that the generator works, not a capture for the demo.
    """
    partial = out.with_name(out.name + ".partial")
    try:
        with Rig(workdir, speed=scenario.speed * speed_up, seed=scenario.name, hold_scale=1 / speed_up) as rig:
            scenario.prepare(rig)
            rig.settle()
            _record_to(partial, rig, scenario)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(out)


def _record_to(path: Path, rig: Rig, scenario: Scenario) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as stream:
        writer = CaptureWriter(stream, started=utc_timestamp(time.time()), topics=RECORDED_TOPICS)
        recorder = Recorder(parse_broker_url(rig.broker.url), topics=RECORDED_TOPICS, writer=writer)
        try:
            _record_scenario(rig, recorder, scenario)
        finally:
            recorder.stop()
    if recorder.error is not None:
        raise CaptureFailed(f"cannot write {path}: {recorder.error}")


def _record_scenario(rig: Rig, recorder: Recorder, scenario: Scenario) -> None:
    try:
        recorder.start(wait=10)
    except BrokerUnavailable as e:
        raise CaptureFailed(f"the recorder cannot connect: {e}") from e
    opening = 2 * len(rig.cluster.nodes)  # a snapshot and a status per node, retained
    deadline = time.monotonic() + PROCESS_TIMEOUT
    while recorder.count < opening:
        if time.monotonic() > deadline:
            raise CaptureFailed(f"the recorder got {recorder.count} retained messages, expected {opening}")
        time.sleep(0.02)
    scenario.act(rig)
    rig.settle()
    rig.hold(QUIET_TAIL)


def describe(path: Path) -> str:
    capture = load_capture(path)
    duration = capture.messages[-1].offset if capture.messages else 0.0
    return f"{path.name}: {len(capture.messages)} messages, {path.stat().st_size / 1024:.1f} KiB, {duration:.1f} s"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sim.capturing",
        description="Record the bus captures of tests/captures/ from the simulated cluster.",
        epilog="scenarios: " + "; ".join(f"{s.name}: {s.summary}" for s in SCENARIOS.values()),
    )
    parser.add_argument("--out-dir", type=Path, required=True, help="where to write <scenario>.jsonl")
    parser.add_argument("--only", action="append", choices=sorted(SCENARIOS), metavar="NAME",
                        help=f"make only this capture (repeatable; one of {', '.join(SCENARIOS)})")
    parser.add_argument("--speed-up", type=_positive, default=1.0,
                        help="run every scenario this much faster (a quick check; default: %(default)s)")
    parser.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be > 0: {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    names = args.only or list(SCENARIOS)
    try:
        args.out_dir.mkdir(parents=True, exist_ok=True)
        for name in names:
            out = args.out_dir / f"{name}.jsonl"
            with tempfile.TemporaryDirectory(prefix=f"capturing-{name}-") as workdir:
                record(SCENARIOS[name], out, workdir=Path(workdir), speed_up=args.speed_up)
            print(describe(out), flush=True)
    except (CaptureFailed, OSError) as e:
        print(f"python -m sim.capturing: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
