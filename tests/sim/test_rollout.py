"""Rollout arithmetic against the Kubernetes rules (deployment_util.go, rolling.go, recreate.go).

Expected values are worked out by hand from those rules; each row says why where it is not obvious.
"""

from __future__ import annotations

import pytest

from sim.rollout import (
    Recreate,
    ReplicaSetCounts,
    RollingUpdate,
    RolloutError,
    cleanup_unhealthy,
    max_unavailable,
    new_rs_replicas,
    recreate_sync,
    resolve_fenceposts,
    rolling_sync,
    scale_down_old,
    scaled_value,
)

RS = ReplicaSetCounts


@pytest.mark.parametrize(
    ("surge", "unavailable", "replicas", "expected"),
    [
        ("25%", "25%", 1, (1, 0)),  # 0.25: surge rounds up, unavailable down
        ("25%", "25%", 3, (1, 0)),  # 0.75
        ("25%", "25%", 4, (1, 1)),
        ("25%", "25%", 10, (3, 2)),  # 2.5
        ("50%", "50%", 1, (1, 0)),
        ("50%", "50%", 3, (2, 1)),  # 1.5
        ("33%", "33%", 3, (1, 0)),  # 0.99
        ("100%", "100%", 10, (10, 10)),
        ("30%", "0%", 10, (3, 0)),
        ("0%", "25%", 3, (0, 1)),  # both round to 0 → unavailable 1
        (0, "10%", 4, (0, 1)),  # 0.4 rounds down to 0 → 1
        ("25%", "25%", 0, (0, 1)),  # nothing to scale: still the fencepost rule
        (1, 0, 1, (1, 0)),
        (1, 0, 4, (1, 0)),
        (0, 1, 4, (0, 1)),
        (2, 3, 1, (2, 3)),  # absolute values are taken as written
        (3, "25%", 10, (3, 2)),
        ("200%", 0, 3, (6, 0)),  # surge may exceed 100 %
    ],
)
def test_resolve_fenceposts(surge: int | str, unavailable: int | str, replicas: int, expected: tuple[int, int]) -> None:
    assert resolve_fenceposts(surge, unavailable, replicas) == expected


@pytest.mark.parametrize(
    ("surge", "unavailable", "replicas", "expected"),
    [
        ("25%", "25%", 0, 0),  # MaxUnavailable is 0 for a deployment of 0
        (2, 3, 1, 1),  # capped at replicas
        (0, 5, 4, 4),
        ("25%", "25%", 10, 2),
        ("0%", "25%", 3, 1),
    ],
)
def test_max_unavailable(surge: int | str, unavailable: int | str, replicas: int, expected: int) -> None:
    assert max_unavailable(surge, unavailable, replicas) == expected


@pytest.mark.parametrize(
    ("value", "total", "round_up", "expected"),
    [(5, 100, True, 5), ("0%", 7, True, 0), ("1%", 1, True, 1), ("1%", 1, False, 0), ("99%", 100, False, 99)],
)
def test_scaled_value(value: int | str, total: int, round_up: bool, expected: int) -> None:
    assert scaled_value(value, total, round_up=round_up) == expected


@pytest.mark.parametrize("value", [-1, "25", "-5%", "5.5%", "abc%", "", 1.5, True, None])
def test_invalid_values_are_refused(value: object) -> None:
    with pytest.raises(RolloutError):
        scaled_value(value, 10, round_up=True)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("surge", "unavailable"), [(0, 0), ("0%", "0%"), (0, "0%"), (1, "101%"), (-1, 1), ("x", 1)]
)
def test_invalid_strategies_are_refused_like_the_api_does(surge: object, unavailable: object) -> None:
    with pytest.raises(RolloutError):
        RollingUpdate(surge, unavailable)  # type: ignore[arg-type]


def test_strategy_defaults_are_the_kubernetes_defaults() -> None:
    assert RollingUpdate() == RollingUpdate("25%", "25%")
    assert RollingUpdate().fenceposts(10) == (3, 2)


@pytest.mark.parametrize(
    ("replicas", "surge", "new", "total", "expected"),
    [
        (4, 1, 0, 4, 1),  # min(4 + 1 - 4, 4 - 0)
        (4, 1, 1, 5, 1),  # at replicas + surge: cannot scale up
        (4, 1, 1, 4, 2),
        (10, 3, 0, 10, 3),
        (10, 3, 8, 10, 10),  # min(3, 10 - 8)
        (10, 3, 5, 13, 5),
        (3, 0, 0, 3, 0),  # no surge: wait for old pods to go
        (1, 1, 0, 1, 1),
        (1, 0, 0, 0, 1),  # a new deployment without surge still starts
        (4, 2, 0, 2, 4),  # min(6 - 2, 4)
    ],
)
def test_new_rs_scale_up(replicas: int, surge: int, new: int, total: int, expected: int) -> None:
    assert new_rs_replicas(replicas=replicas, surge=surge, new=new, total=total) == expected


def test_cleanup_takes_unavailable_replicas_oldest_first_within_the_budget() -> None:
    old = [RS("a", 3, 1), RS("b", 2, 2), RS("c", 4, 0)]
    assert cleanup_unhealthy(old, 3) == [RS("a", 1, 1), RS("b", 2, 2), RS("c", 3, 0)]
    assert cleanup_unhealthy(old, 0) == old
    assert cleanup_unhealthy(old, 100) == [RS("a", 1, 1), RS("b", 2, 2), RS("c", 0, 0)]


def test_scale_down_old_is_oldest_first_and_bounded_by_availability() -> None:
    old = [RS("a", 1, 1), RS("b", 3, 3)]
    assert scale_down_old(old, available=6, min_available=4) == [RS("a", 0, 1), RS("b", 2, 3)]
    assert scale_down_old(old, available=4, min_available=4) == old
    assert scale_down_old(old, available=3, min_available=4) == old


# One rolloutRolling sync: (strategy, replicas, new, old oldest first) → ReplicaSets to resize.
ROLLING_SYNCS = [
    # 4 replicas, maxSurge 1, maxUnavailable 0: one new pod at a time, an old one goes when it is available.
    (RollingUpdate(1, 0), 4, RS("n", 0, 0), [RS("o", 4, 4)], {"n": 1}),
    (RollingUpdate(1, 0), 4, RS("n", 1, 0), [RS("o", 4, 4)], {}),  # 5 - 4 - 1 unavailable = 0
    (RollingUpdate(1, 0), 4, RS("n", 1, 1), [RS("o", 4, 4)], {"o": 3}),
    (RollingUpdate(1, 0), 4, RS("n", 1, 1), [RS("o", 3, 3)], {"n": 2}),
    (RollingUpdate(1, 0), 4, RS("n", 4, 4), [RS("o", 1, 1)], {"o": 0}),
    (RollingUpdate(1, 0), 4, RS("n", 4, 4), [RS("o", 0, 0)], {}),
    # 25 %/25 % of 4 = surge 1, unavailable 1.
    (RollingUpdate(), 4, RS("n", 1, 0), [RS("o", 4, 4)], {"o": 3}),  # budget 5 - 3 - 1 = 1; 4 available - 3
    (RollingUpdate(), 4, RS("n", 2, 0), [RS("o", 3, 3)], {}),  # 5 - 3 - 2 = 0
    (RollingUpdate(), 4, RS("n", 2, 2), [RS("o", 3, 3)], {"o": 1}),  # 5 available - 3
    # 25 %/25 % of 10 = surge 3, unavailable 2.
    (RollingUpdate(), 10, RS("n", 0, 0), [RS("o", 10, 10)], {"n": 3}),
    (RollingUpdate(), 10, RS("n", 3, 0), [RS("o", 10, 10)], {"o": 8}),
    (RollingUpdate(), 10, RS("n", 3, 0), [RS("o", 8, 8)], {"n": 5}),
    (RollingUpdate(), 10, RS("n", 5, 0), [RS("o", 8, 8)], {}),
    # 1 replica, 25 %/25 % = surge 1, unavailable 0; 3 replicas the same.
    (RollingUpdate(), 1, RS("n", 0, 0), [RS("o", 1, 1)], {"n": 1}),
    (RollingUpdate(), 1, RS("n", 1, 0), [RS("o", 1, 1)], {}),
    (RollingUpdate(), 1, RS("n", 1, 1), [RS("o", 1, 1)], {"o": 0}),
    (RollingUpdate(), 3, RS("n", 1, 1), [RS("o", 3, 3)], {"o": 2}),
    # maxSurge 0, maxUnavailable 1: an old pod goes first.
    (RollingUpdate(0, 1), 3, RS("n", 0, 0), [RS("o", 3, 3)], {"o": 2}),
    (RollingUpdate(0, 1), 3, RS("n", 0, 0), [RS("o", 2, 2)], {"n": 1}),
    # Absolute and percentage mixed: 10 replicas, surge 2, unavailable 30 % = 3.
    (RollingUpdate(2, "30%"), 10, RS("n", 0, 0), [RS("o", 10, 10)], {"n": 2}),
    (RollingUpdate(2, "30%"), 10, RS("n", 2, 0), [RS("o", 10, 10)], {"o": 7}),
    # Unhealthy old replicas are cleaned up first, and only as far as the budget allows.
    (RollingUpdate(1, 0), 4, RS("n", 1, 1), [RS("a", 2, 1), RS("b", 2, 2)], {"a": 1}),
    (RollingUpdate(), 4, RS("n", 1, 0), [RS("o", 4, 2)], {"o": 3}),  # budget 5 - 3 - 1 = 1
    # Oldest first across several old ReplicaSets.
    (RollingUpdate(), 4, RS("n", 2, 2), [RS("a", 1, 1), RS("b", 2, 2)], {"a": 0, "b": 1}),
    # The new ReplicaSet above replicas (a scale-down) is cut to replicas at once.
    (RollingUpdate(), 2, RS("n", 4, 4), [], {"n": 2}),
    (RollingUpdate(), 6, RS("n", 4, 4), [], {"n": 6}),  # scale up: min(6 + 2 - 4, 6 - 4)
]


@pytest.mark.parametrize(("strategy", "replicas", "new", "old", "expected"), ROLLING_SYNCS)
def test_rolling_sync(
    strategy: RollingUpdate, replicas: int, new: RS, old: list[RS], expected: dict[str, int]
) -> None:
    assert rolling_sync(strategy, replicas=replicas, new=new, old=old) == expected


@pytest.mark.parametrize(
    ("replicas", "new", "old", "old_pods_exist", "expected"),
    [
        (3, RS("n", 0), [RS("a", 3), RS("b", 1)], True, {"a": 0, "b": 0}),
        (3, RS("n", 0), [RS("a", 0)], True, {}),  # terminating old pods still exist: wait
        (3, RS("n", 0), [RS("a", 0)], False, {"n": 3}),
        (3, RS("n", 3), [RS("a", 0)], False, {}),
        (5, RS("n", 3), [], False, {"n": 5}),  # a plain scale
        (1, RS("n", 3), [], False, {"n": 1}),
    ],
)
def test_recreate_sync(
    replicas: int, new: RS, old: list[RS], old_pods_exist: bool, expected: dict[str, int]
) -> None:
    assert recreate_sync(replicas=replicas, new=new, old=old, old_pods_exist=old_pods_exist) == expected


def test_recreate_has_no_parameters() -> None:
    assert Recreate() == Recreate()
