"""The simulated executor's mapping of releases to Deployments and Services, and its errors."""

from __future__ import annotations

import threading

import pytest

from console.executors import ClusterRefused, StepTimeout
from console.executors.simulated import SimulatedExecutor, pod_labels, rollout_line
from console.plans import (
    ClusterStep,
    Delete,
    EnsureRoute,
    Install,
    Scale,
    SetWeights,
    Upgrade,
    Values,
    WaitReady,
)
from console.strategies import build_plan
from sim.clock import RealClock
from sim.cluster import Cluster
from sim.deployments import DeploymentStatus
from sim.lifecycle import Timings
from tests.console.history import state
from tests.console.runs import V1, V2, WAIT_S, make_runner

V1_VALUES = Values("ffff00", "1.0.0", "rolling", 2)


def run(executor: SimulatedExecutor, *steps: ClusterStep) -> list[str]:
    lines: list[str] = []
    for step in steps:
        executor.execute(step, log=lines.append, cancel=threading.Event())
    return lines


@pytest.fixture
def executor() -> SimulatedExecutor:
    return SimulatedExecutor(Cluster(seed=3, timings=Timings(startup=(1.0, 2.0), grace=1.0)), min_ready_seconds=0)


def test_a_release_is_a_deployment_and_a_service_labelled_like_the_chart(executor: SimulatedExecutor) -> None:
    run(executor, Install("whoamiv2", Values(color="A81399", version="2.2.0")), WaitReady("whoamiv2"))
    pods = executor.cluster.store.select()[0]
    assert len(pods) == 3  # the chart's default replicaCount
    labels = pods[0]["metadata"]["labels"]
    assert {k: v for k, v in labels.items() if k != "pod-template-hash"} == {
        "app.kubernetes.io/name": "whoami",
        "app.kubernetes.io/instance": "whoamiv2",
        "app": "whoami",
        "blinkt": "show",
        "blinktColor": "a81399",
        "version": "2.2.0",
    }
    assert labels == {
        **pod_labels("whoamiv2", Values("a81399", "2.2.0")),
        "pod-template-hash": labels["pod-template-hash"],
    }
    assert sorted(executor.cluster.service_endpoints("whoamiv2")) == sorted(p["metadata"]["name"] for p in pods)
    assert executor.releases == {"whoamiv2": Values("a81399", "2.2.0", "rolling", 3)}


def test_upgrade_reuses_values_like_helm_and_scale_keeps_them(executor: SimulatedExecutor) -> None:
    run(executor, Install("whoami", V1_VALUES), Upgrade("whoami", Values(version="1.1.0")), Scale("whoami", 4))
    assert executor.releases["whoami"] == Values("ffff00", "1.1.0", "rolling", 4)
    run(executor, Upgrade("whoami", Values(color="00ff00"), reuse_values=False), WaitReady("whoami"))
    assert executor.releases["whoami"] == Values("00ff00", "1.0.0", "rolling", 3)
    versions = {p["metadata"]["labels"]["version"] for p in executor.cluster.store.select()[0] if state(p) == "ready"}
    assert versions == {"1.0.0"}


def test_the_wait_logs_progress_like_kubectl_rollout_status(executor: SimulatedExecutor) -> None:
    lines = run(executor, Install("whoami", V1_VALUES), WaitReady("whoami"))
    assert lines[0] == "deployment whoami: colour ffff00, version 1.0.0, strategy rolling, 2 replicas"
    assert lines[1] == 'Waiting for deployment "whoami" rollout to finish: 0 of 2 updated replicas are available...'
    assert lines[-1] == 'deployment "whoami" successfully rolled out'
    status = DeploymentStatus("x", "default", 3, 4, 2, 2, 2, 1, 0, 2, False)
    assert (
        rollout_line(status)
        == 'Waiting for deployment "x" rollout to finish: 2 out of 3 new replicas have been updated...'
    )
    status = DeploymentStatus("x", "default", 2, 3, 2, 2, 2, 0, 1, 2, False)
    assert (
        rollout_line(status)
        == 'Waiting for deployment "x" rollout to finish: 1 old replicas are pending termination...'
    )


@pytest.mark.parametrize(
    ("steps", "error", "message"),
    [
        ((Install("whoami", V1_VALUES), Install("whoami", V1_VALUES)), ClusterRefused, "still in use: release whoami"),
        ((Upgrade("whoami", V1_VALUES),), ClusterRefused, "release whoami: not found"),
        ((Scale("whoami", 2),), ClusterRefused, "release whoami: not found"),
        ((Delete("whoami"),), ClusterRefused, "release whoami: not found"),
        ((WaitReady("whoami"),), ClusterRefused, 'deployments.apps "whoami" not found'),
        ((EnsureRoute("whoami", (("nope", 100),)),), ClusterRefused, 'services "nope" not found'),
        (
            (Install("whoami", V1_VALUES), SetWeights("whoami", (("whoami", 100),))),
            ClusterRefused,
            'route "whoami" not found',
        ),  # a patch needs the route: only EnsureRoute creates it
        ((Install("whoami", V1_VALUES), WaitReady("whoami", timeout_s=0.5)), StepTimeout, "not ready after 0.5 s"),
    ],
)
def test_refusals_and_timeouts_are_executor_errors(
    executor: SimulatedExecutor, steps: tuple[ClusterStep, ...], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        run(executor, *steps)


def test_the_route_is_created_once_patched_later_and_outlives_the_releases(executor: SimulatedExecutor) -> None:
    lines = run(executor, Install("whoami", V1_VALUES), WaitReady("whoami"), EnsureRoute("whoami", (("whoami", 100),)))
    assert lines[-1] == "route whoami: whoami=100"
    run(executor, Install("whoamiv2", V1_VALUES), WaitReady("whoamiv2"))
    run(executor, SetWeights("whoami", (("whoami", 0), ("whoamiv2", 100))), Delete("whoami"))
    hits = [executor.cluster.route_request("whoami") for _ in range(10)]
    assert {hit.service if hit else None for hit in hits} == {"whoamiv2"}
    run(executor, EnsureRoute("whoami", (("whoamiv2", 100),)))  # again: an update, not an error
    assert executor.cluster.route_stats("whoami").requests == 10


def test_delete_waits_until_the_pods_are_gone_and_cancel_cuts_waits_short(executor: SimulatedExecutor) -> None:
    run(executor, Install("whoami", V1_VALUES), WaitReady("whoami"))
    run(executor, Delete("whoami"))
    assert executor.cluster.store.select()[0] == [] and executor.releases == {}
    cancel = threading.Event()
    cancel.set()
    executor.execute(Install("whoami", V1_VALUES), log=lambda _: None, cancel=cancel)
    started = executor.cluster.clock.now()
    executor.execute(WaitReady("whoami"), log=lambda _: None, cancel=cancel)
    assert executor.cluster.clock.now() == started  # no time passed: the wait returned at once
    assert not executor.cluster.deployment_status("whoami").complete


def test_pause_takes_cluster_time_or_waits_for_promote(executor: SimulatedExecutor) -> None:
    wake = threading.Event()
    executor.pause(12.5, wake=wake, log=lambda _: None)
    assert executor.cluster.clock.now() == 12.5
    lines: list[str] = []
    threading.Timer(0.05, wake.set).start()
    executor.pause(None, wake=wake, log=lines.append)
    assert lines == ["paused: promote to go on, abort to go back"]
    assert executor.cluster.clock.now() == 12.5


def test_with_a_real_clock_and_a_ticking_cluster_a_canary_runs_in_real_time() -> None:
    cluster = Cluster(clock=RealClock(speed=50.0), seed=2, timings=Timings(startup=(1.0, 2.0), grace=1.0))
    ticking = cluster.start()
    try:
        runner, recorder = make_runner(SimulatedExecutor(cluster))  # the chart's minReadySeconds
        runner.start(build_plan("install", runner.state, V1))
        assert runner.wait(WAIT_S) and recorder.finished().ok
        runner.start(build_plan("canary", runner.state, V2, pause_s=5.0))
        assert runner.wait(WAIT_S) and recorder.finished().ok
        assert runner.state.live is not None and runner.state.live.name == "whoamiv2"
        answered = {b.version for b in (cluster.route_request("whoami") for _ in range(20)) if b}
        assert answered == {"2.2.0"}
    finally:
        ticking.stop()
