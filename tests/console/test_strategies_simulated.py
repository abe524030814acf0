"""Each strategy on the simulated cluster: the invariants hold over every state it passes.

Pod invariants are checked on the store's write history; traffic invariants on the
samples taken after every clock step and at every runner event (see conftest).
"""

from __future__ import annotations

import pytest

from console.plans import Delete, Target, WaitReady
from console.running import Aborted, Finished, Paused, PlanRunner, RunEvent, StepStarted, WeightsSet
from sim.podstore import EventType
from sim.rollout import RollingUpdate
from tests.console.history import Mark, replay, rolling_bounds, state, version
from tests.console.runs import V1, V2, SimRun, abort_once, make_sim


def settled_on(run: SimRun, target: Target, release: str) -> None:
    """Only ``release`` is left, all of it ready with the target's version, and the route points at it."""
    run.settle()
    last = run.samples[-1] if run.samples else None
    run.sample()
    now = run.samples[-1]
    assert {(r, v, s) for r, v, s in now.pods} == {(release, target.version, "ready")}, last
    assert now.count() == target.replicas
    assert run.runner.state.live is not None and run.runner.state.live.name == release
    assert dict(run.runner.state.weights) == {release: 100}
    requests = [run.cluster.route_request("whoami") for _ in range(50)]
    assert {(b.service, b.version) for b in requests if b} == {(release, target.version)}
    assert None not in requests


def no_failed_requests(run: SimRun) -> None:
    failed = [s for s in run.samples if s.failed]
    assert not failed, f"requests failed at {[s.at for s in failed]}"


@pytest.mark.parametrize(
    ("rolling", "replicas"),
    [
        (RollingUpdate(1, 0), 3),
        (RollingUpdate(1, 0), 5),
        (RollingUpdate(), 4),
        (RollingUpdate(0, 1), 3),
        (RollingUpdate("50%", 2), 6),
    ],
)
def test_rolling_keeps_within_surge_and_unavailability_and_traffic_never_fails(
    rolling: RollingUpdate, replicas: int
) -> None:
    run = make_sim(rolling=rolling, seed=replicas)
    run.install(Target("1.0.0", "ffff00", replicas))
    since = Mark.of(run.cluster.store)
    target = Target("2.2.0", "a81399", replicas)
    assert run.run(run.build("rolling", target)).ok
    run.settle()
    most, fewest_ready = rolling_bounds(replicas, rolling.max_surge, rolling.max_unavailable)
    checked = 0
    for event, pods in replay(run.cluster.store, since):
        live = [p for p in pods.values() if state(p) != "terminating"]
        at = f"after {event.type} {event.object['metadata']['name']}"
        assert len(live) <= most, f"{len(live)} pods not terminating > {most}, {at}"
        assert sum(state(p) == "ready" for p in live) >= fewest_ready, at
        checked += 1
    assert checked == 4 * replicas  # each old pod: terminating, deleted; each new one: added, ready
    if fewest_ready > 0:
        no_failed_requests(run)
    settled_on(run, target, "whoami")


@pytest.mark.parametrize("replicas", [1, 3, 4])
def test_recreate_leaves_a_gap_with_no_v1_before_the_first_v2(replicas: int) -> None:
    run = make_sim(seed=replicas)
    run.install(Target("1.0.0", "ffff00", replicas))
    since = Mark.of(run.cluster.store)
    target = Target("2.2.0", "a81399", replicas)
    assert run.run(run.build("recreate", target)).ok
    run.settle()
    created = 0
    for event, pods in replay(run.cluster.store, since):
        if event.type == EventType.ADDED and version(event.object) == "2.2.0":
            assert not [p for p in pods.values() if version(p) == "1.0.0"], "a v1 pod was left when v2 came"
            created += 1
    assert created == replicas
    # the gap is visible: requests failed while nothing was ready
    assert any(s.failed == len(s.requests) > 0 for s in run.samples)
    settled_on(run, target, "whoami")


def test_scale_up_and_down_with_the_route_always_answering(sim: SimRun) -> None:
    for replicas in (5, 1):
        target = Target("1.0.0", "ffff00", replicas)
        assert sim.run(sim.build("scale", target)).ok
        settled_on(sim, target, "whoami")
    no_failed_requests(sim)


def test_blue_green_switches_only_when_every_v2_pod_is_ready(sim: SimRun) -> None:
    since = Mark.of(sim.cluster.store)
    assert sim.run(sim.build("blue-green", V2)).ok
    switch = next(s for s in sim.samples if isinstance(s.event, WeightsSet) and dict(s.weights).get("whoamiv2"))
    assert switch.weights == (("whoami", 0), ("whoamiv2", 100))
    assert switch.count(release="whoamiv2", state="ready") == V2.replicas == switch.count(release="whoamiv2")
    assert switch.count(release="whoami", state="ready") == V1.replicas  # the old one is still all there
    before = [s for s in sim.samples if s.at < switch.at or s is switch]
    assert {r.service for s in before[:-1] for r in s.requests if r} == {"whoami"}
    # no v1 pod starts terminating before the switch; they all do after it
    v1_going = [
        e.resource_version
        for e, _ in replay(sim.cluster.store, since)
        if e.type == EventType.MODIFIED and version(e.object) == "1.0.0" and state(e.object) == "terminating"
    ]
    assert len(v1_going) == V1.replicas and min(v1_going) > switch.version
    no_failed_requests(sim)
    settled_on(sim, V2, "whoamiv2")
    # and the next blue-green goes back to the first release name
    v3 = Target("3.0.0", "00ff00", 2)
    assert sim.run(sim.build("blue-green", v3)).ok
    settled_on(sim, v3, "whoami")


def test_canary_goes_95_5_then_0_100_with_traffic_split_as_weighted(sim: SimRun) -> None:
    shares: list[float] = []

    def at_pause(event: RunEvent, runner: PlanRunner) -> None:
        if isinstance(event, Paused):
            hits = [sim.cluster.route_request("whoami") for _ in range(2000)]
            shares.append(sum(1 for b in hits if b and b.version == "2.2.0") / len(hits))
            assert None not in hits
            runner.promote()

    sim.recorder.reactions.append(at_pause)
    target = Target("2.2.0", "a81399", 4)
    assert sim.run(sim.build("canary", target)).ok
    assert [e.weights for e in sim.recorder.of(WeightsSet)] == [
        (("whoami", 95), ("whoamiv2", 5)),
        (("whoami", 0), ("whoamiv2", 100)),
        (("whoamiv2", 100),),
    ]
    assert len(shares) == 1 and 0.02 < shares[0] < 0.09  # 5 % of 2000 requests, give or take
    canary = next(s for s in sim.samples if isinstance(s.event, WeightsSet))
    assert canary.count(release="whoamiv2", state="ready") == 1 and canary.count(release="whoami") == 3
    full = [s for s in sim.samples if isinstance(s.event, WeightsSet)][1]
    assert full.count(release="whoamiv2", state="ready") == 4
    no_failed_requests(sim)
    settled_on(sim, target, "whoamiv2")


def test_a_timed_canary_pause_takes_cluster_time(sim: SimRun) -> None:
    assert sim.run(sim.build("canary", V2, pause_s=30.0)).ok
    paused = next(s for s in sim.samples if isinstance(s.event, Paused))
    resumed = next(s for s in sim.samples if type(s.event).__name__ == "Resumed")
    assert resumed.at - paused.at == pytest.approx(30.0)


def v1_terminations_and_weights(run: SimRun, since: Mark) -> None:
    """No v1 pod ever terminates, and the route ends on v1 alone (if it ever left)."""
    changed = [s.weights for s in run.samples if isinstance(s.event, WeightsSet)]
    assert not changed or changed[-1] == (("whoami", 100),), changed
    terminated = [e for e, _ in replay(run.cluster.store, since)
                  if version(e.object) == "1.0.0" and state(e.object) == "terminating"]  # fmt: skip
    assert not terminated, f"v1 pods went away: {[e.object['metadata']['name'] for e in terminated]}"


def test_abort_mid_canary_brings_traffic_back_to_v1_and_removes_v2(sim: SimRun) -> None:
    since = Mark.of(sim.cluster.store)
    sim.recorder.reactions.append(abort_once(lambda e: isinstance(e, Paused)))
    done = sim.run(sim.build("canary", V2))
    assert done == Finished(ok=True, aborted=True, state=sim.runner.state) and Aborted(3) in sim.recorder.events
    weights = [e.weights for e in sim.recorder.of(WeightsSet)]
    assert weights == [(("whoami", 95), ("whoamiv2", 5)), (("whoami", 100),)]
    v1_terminations_and_weights(sim, since)
    no_failed_requests(sim)
    settled_on(sim, V1, "whoami")


@pytest.mark.parametrize("when", ["waiting for v2", "after the switch"])
def test_abort_mid_blue_green_keeps_every_v1_pod(sim: SimRun, when: str) -> None:
    since = Mark.of(sim.cluster.store)

    def moment(event: RunEvent) -> bool:
        if when == "waiting for v2":
            return isinstance(event, StepStarted) and isinstance(event.step, WaitReady)
        return isinstance(event, WeightsSet) and dict(event.weights).get("whoamiv2") == 100

    sim.recorder.reactions.append(abort_once(moment))
    assert sim.run(sim.build("blue-green", V2)) == Finished(ok=True, aborted=True, state=sim.runner.state)
    v1_terminations_and_weights(sim, since)
    no_failed_requests(sim)
    settled_on(sim, V1, "whoami")


def test_abort_while_the_old_release_goes_reinstalls_it_before_traffic_returns(sim: SimRun) -> None:
    sim.recorder.reactions.append(abort_once(lambda e: isinstance(e, StepStarted) and isinstance(e.step, Delete)))
    assert sim.run(sim.build("blue-green", V2)).aborted
    back = next(s for s in sim.samples if isinstance(s.event, WeightsSet) and s.weights == (("whoami", 100),))
    assert back.count(release="whoami", version="1.0.0", state="ready") == V1.replicas
    no_failed_requests(sim)
    settled_on(sim, V1, "whoami")


def test_abort_mid_rolling_update_rolls_back(sim: SimRun) -> None:
    sim.recorder.reactions.append(abort_once(lambda e: isinstance(e, StepStarted) and isinstance(e.step, WaitReady)))
    assert sim.run(sim.build("rolling", V2)).aborted
    no_failed_requests(sim)
    settled_on(sim, V1, "whoami")


def test_the_charts_min_ready_seconds_still_completes_every_strategy() -> None:
    run = make_sim(min_ready_seconds=2.0)
    run.install()
    steps = [("rolling", V2), ("recreate", V1), ("blue-green", V2), ("scale", Target("2.2.0", "a81399", 4))]
    for strategy, target in steps:
        assert run.run(run.build(strategy, target)).ok, strategy
    settled_on(run, Target("2.2.0", "a81399", 4), "whoamiv2")


def test_with_min_ready_seconds_an_install_takes_seconds_not_the_whole_timeout() -> None:
    for seed in range(6):
        run = make_sim(seed=seed, min_ready_seconds=2.0)
        run.install()
        assert run.cluster.clock.now() < 30.0, f"seed {seed}: the install took {run.cluster.clock.now():g} s"
