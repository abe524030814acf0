"""Plan runs for the tests: an event recorder, a scripted in-memory executor, a sampled simulated cluster.

``SimRun`` runs plans against ``sim.cluster.Cluster`` on a ``SamplingClock``: a virtual
clock that takes a sample of the cluster (pods by release, version and state; the
route's weights; a burst of requests through the route) every time the cluster is about to
jump ahead in time, i.e. after every clock step, and the recorder takes one at every
runner event. Pod-level invariants are checked on the store's full write history
(``tests.console.history.replay``), so they hold for every state a watcher sees.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from console.executors import CommandFailed, LogLine
from console.executors.simulated import SimulatedExecutor
from console.plans import AppState, Plan, Step, Target, Weights
from console.running import Finished, PlanRunner, RunEvent, WeightsSet
from console.strategies import build_plan
from sim.clock import VirtualClock
from sim.cluster import Cluster
from sim.lifecycle import Timings
from sim.rollout import RollingUpdate
from sim.traffic import Backend
from tests.console.history import release, state, version

WAIT_S = 30.0  # real seconds a test waits for a runner thread; a virtual rollout takes milliseconds
REQUESTS_PER_SAMPLE = 20  # enough that a 5 % canary is hit in most samples
V1 = Target("1.0.0", "ffff00", 3)
V2 = Target("2.2.0", "a81399", 3)

E = TypeVar("E")
Reaction = Callable[[RunEvent, PlanRunner], None]


class Recorder:
    """Collects runner events; ``reactions`` run on each (in the runner's thread)."""

    def __init__(self) -> None:
        self.events: list[RunEvent] = []
        self.reactions: list[Reaction] = []
        self.runner: PlanRunner | None = None

    def __call__(self, event: RunEvent) -> None:
        self.events.append(event)
        assert self.runner is not None
        for react in list(self.reactions):
            react(event, self.runner)

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]

    def finished(self) -> Finished:
        done = self.of(Finished)
        assert done, f"no Finished event in {self.events}"
        return done[-1]


class ScriptedExecutor:
    """In memory: records steps; fails the steps in ``fail``; pauses until woken (or time)."""

    def __init__(self, *, fail: tuple[type, ...] = ()) -> None:
        self.steps: list[Step] = []
        self.fail = fail
        self.pauses: list[float | None] = []

    def execute(self, step: Step, *, log: LogLine, cancel: threading.Event) -> None:
        self.steps.append(step)
        log(f"did {step.describe()}")
        if isinstance(step, self.fail):
            raise CommandFailed("helm something", 1, "Error: it broke")

    def pause(self, seconds: float | None, *, wake: threading.Event, log: LogLine) -> None:
        self.pauses.append(seconds)
        wake.wait(WAIT_S if seconds is None else seconds)


def abort_once(when: Callable[[RunEvent], bool]) -> Reaction:
    """A reaction that aborts the run the first time ``when`` holds for an event."""
    fired: list[RunEvent] = []

    def react(event: RunEvent, runner: PlanRunner) -> None:
        if not fired and when(event):
            fired.append(event)
            runner.abort()

    return react


def make_runner(executor: object, state: AppState | None = None) -> tuple[PlanRunner, Recorder]:
    recorder = Recorder()
    runner = PlanRunner(executor, on_event=recorder, state=state)  # type: ignore[arg-type]
    recorder.runner = runner
    return runner, recorder


# --- The simulated cluster, sampled ----------------------------------------------------


class SamplingClock(VirtualClock):
    def __init__(self) -> None:
        super().__init__()
        self.before_jump: list[Callable[[], None]] = []

    def sleep_until(self, moment: float) -> None:
        if moment > self.now():
            for hook in self.before_jump:
                hook()
        super().sleep_until(moment)


@dataclass(frozen=True)
class Sample:
    at: float
    pods: tuple[tuple[str, str, str], ...]  # (release, version, state), one per pod
    weights: Weights
    requests: tuple[Backend | None, ...]  # a burst through the route (None: failed); () before a route
    version: int  # the store's resourceVersion: where the sample sits in the write history
    event: RunEvent | None = None

    @property
    def failed(self) -> int:
        return sum(r is None for r in self.requests)

    def count(self, *, release: str | None = None, version: str | None = None, state: str | None = None) -> int:
        return sum(
            (release is None or r == release) and (version is None or v == version) and (state is None or s == state)
            for r, v, s in self.pods
        )


@dataclass
class SimRun:
    cluster: Cluster
    executor: SimulatedExecutor
    runner: PlanRunner
    recorder: Recorder
    samples: list[Sample] = field(default_factory=list)
    weights: Weights = ()

    def sample(self, event: RunEvent | None = None) -> None:
        if isinstance(event, WeightsSet):
            self.weights = event.weights
        pods = tuple((release(p), version(p), state(p)) for p in self.cluster.store.select()[0])
        requests = tuple(self.cluster.route_request("whoami") for _ in range(REQUESTS_PER_SAMPLE) if self.weights)
        now, rv = self.cluster.clock.now(), self.cluster.store.resource_version
        self.samples.append(Sample(now, pods, self.weights, requests, rv, event))

    def settle(self) -> None:
        """Let the pods a finished plan left terminating go (a rollout is done before they are)."""

        def calm() -> bool:
            return all(state(p) != "terminating" for p in self.cluster.store.select()[0])

        assert self.cluster.wait_until(calm, 60.0)

    def run(self, plan: Plan) -> Finished:
        self.runner.start(plan)
        assert self.runner.wait(WAIT_S), "the plan did not finish"
        return self.recorder.finished()

    def build(self, strategy: str, target: Target, **options: object) -> Plan:
        return build_plan(strategy, self.runner.state, target, **options)  # type: ignore[arg-type]

    def install(self, target: Target = V1) -> None:
        assert self.run(self.build("install", target)).ok
        self.samples.clear()
        self.recorder.events.clear()


def make_sim(*, seed: int = 0, rolling: RollingUpdate | None = None, min_ready_seconds: float = 0.0) -> SimRun:
    clock = SamplingClock()
    cluster = Cluster(nodes=3, clock=clock, seed=seed, timings=Timings(startup=(2.0, 4.0), grace=3.0))
    executor = SimulatedExecutor(cluster, rolling=rolling or RollingUpdate(1, 0), min_ready_seconds=min_ready_seconds)
    runner, recorder = make_runner(executor)
    run = SimRun(cluster, executor, runner, recorder)
    clock.before_jump.append(run.sample)
    recorder.reactions.append(lambda event, _: run.sample(event))
    return run
