"""Each strategy's invariants, checked on every event of the store's history over whole rollouts.

Rolling: never fewer than replicas - maxUnavailable ready pods, never more than
replicas + maxSurge pods that are not terminating (terminating pods do not count, as in
Kubernetes). Recreate: no v1 pod at all, not even a terminating one, when the first v2
pod is created. And every rollout finishes.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sim.cluster import Cluster
from sim.lifecycle import Timings
from sim.podstore import EventType
from sim.rollout import Recreate, RollingUpdate
from tests.sim.history import V1, V2, Mark, replay, rolling_bounds, settle, state, version

SURGES: list[int | str] = [0, 1, 2, 5, "0%", "10%", "25%", "50%", "100%"]
UNAVAILABLES: list[int | str] = [0, 1, 3, "0%", "10%", "25%", "50%", "100%"]


def roll(cluster: Cluster, *, replicas: int, strategy: RollingUpdate | Recreate) -> Mark:
    """v1 settled, then the update to v2 until settled; returns the version before the update."""
    cluster.apply_deployment("whoami", replicas=replicas, pod_labels=V1, strategy=strategy)
    settle(cluster)
    since = Mark.of(cluster.store)
    cluster.apply_deployment("whoami", replicas=replicas, pod_labels=V2, strategy=strategy)
    settle(cluster)
    assert {(version(p), state(p)) for p in cluster.store.select()[0]} == ({("v2", "ready")} if replicas else set())
    return since


def check_rolling(cluster: Cluster, since: Mark, *, replicas: int, strategy: RollingUpdate) -> int:
    most, fewest_ready = rolling_bounds(replicas, strategy.max_surge, strategy.max_unavailable)
    checked = 0
    for event, pods in replay(cluster.store, since):
        live = [p for p in pods.values() if state(p) != "terminating"]
        ready = [p for p in live if state(p) == "ready"]
        at = f"after {event.type} {event.object['metadata']['name']} at {event.resource_version}"
        assert len(live) <= most, f"{len(live)} pods not terminating > {most}, {at}"
        assert len(ready) >= fewest_ready, f"{len(ready)} ready < {fewest_ready}, {at}"
        checked += 1
    return checked


def check_recreate(cluster: Cluster, since: Mark) -> int:
    created = 0
    for event, pods in replay(cluster.store, since):
        if event.type == EventType.ADDED and version(event.object) == "v2":
            assert not [p for p in pods.values() if version(p) == "v1"], f"v1 pods left when {event.object} came"
            created += 1
    return created


def test_rolling_invariants_hold_for_the_issue_examples() -> None:
    examples = [(4, RollingUpdate(1, 0)), (4, RollingUpdate()), (10, RollingUpdate()), (1, RollingUpdate()),
                (3, RollingUpdate(0, 1)), (10, RollingUpdate("50%", 2)), (3, RollingUpdate("100%", 0))]  # fmt: skip
    for replicas, strategy in examples:
        cluster = Cluster(seed=replicas)
        since = roll(cluster, replicas=replicas, strategy=strategy)
        # each old pod is terminated and deleted, each new one created and made ready
        assert check_rolling(cluster, since, replicas=replicas, strategy=strategy) == 4 * replicas


def test_recreate_invariant_holds() -> None:
    for replicas in (1, 3, 4, 10):
        cluster = Cluster(seed=replicas)
        since = roll(cluster, replicas=replicas, strategy=Recreate())
        assert check_recreate(cluster, since) == replicas


def test_the_checks_catch_a_violation() -> None:
    """The replay really sees intermediate states: a rolling check with a stricter surge fails."""
    cluster = Cluster(seed=1)
    since = roll(cluster, replicas=4, strategy=RollingUpdate(2, 0))
    try:
        check_rolling(cluster, since, replicas=4, strategy=RollingUpdate(1, 0))
    except AssertionError as e:
        assert "not terminating > 5" in str(e)
    else:
        raise AssertionError("a surge of 2 went unnoticed by a check for 1")


@settings(max_examples=60)
@given(
    replicas=st.integers(1, 12),
    surge=st.sampled_from(SURGES),
    unavailable=st.sampled_from(UNAVAILABLES),
    seed=st.integers(0, 2**16),
    startup=st.tuples(st.floats(0, 3), st.floats(0, 3)).map(sorted),
    grace=st.sampled_from([0.0, 0.5, 3.0, 10.0]),
)
def test_rolling_invariants_property(
    replicas: int, surge: int | str, unavailable: int | str, seed: int, startup: list[float], grace: float
) -> None:
    if str(surge).rstrip("%") == "0" and str(unavailable).rstrip("%") == "0":
        return  # refused by validation (tested in test_rollout)
    strategy = RollingUpdate(surge, unavailable)
    cluster = Cluster(seed=seed, timings=Timings(startup=(startup[0], startup[1]), grace=grace))
    since = roll(cluster, replicas=replicas, strategy=strategy)
    assert check_rolling(cluster, since, replicas=replicas, strategy=strategy) == 4 * replicas


@settings(max_examples=25)
@given(replicas=st.integers(1, 12), seed=st.integers(0, 2**16), grace=st.sampled_from([0.0, 1.0, 3.0]))
def test_recreate_invariant_property(replicas: int, seed: int, grace: float) -> None:
    cluster = Cluster(seed=seed, timings=Timings(startup=(0.5, 4.0), grace=grace))
    since = roll(cluster, replicas=replicas, strategy=Recreate())
    assert check_recreate(cluster, since) == replicas
