"""Plan builders: the steps of each strategy, what they refuse, and abort from any point."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from console.plans import (
    AppState,
    Delete,
    EnsureRoute,
    Install,
    Pause,
    PlanError,
    Release,
    Scale,
    SetWeights,
    Step,
    StrategyName,
    Target,
    Upgrade,
    Values,
    WaitReady,
)
from console.strategies import blocked, build_abort, build_plan, other_release

V1 = Values("ffff00", "1.0.0", "rolling", 3)
START = AppState((Release("whoami", V1),), (("whoami", 100),))
V2 = Target("2.2.0", "a81399", 3)


def kinds(steps: tuple[Step, ...]) -> list[str]:
    return [type(s).__name__ for s in steps]


def test_install_from_nothing_creates_the_route_once_the_release_is_ready() -> None:
    plan = build_plan("install", AppState(), Target("1.0.0", "FFFF00", 3))
    assert plan.steps == (Install("whoami", V1), WaitReady("whoami"), EnsureRoute("whoami", (("whoami", 100),)))
    assert plan.end_state() == START


def test_abort_of_an_install_removes_the_release_and_never_the_route() -> None:
    plan = build_plan("install", AppState(), Target("1.0.0", "FFFF00", 3))
    for done in range(len(plan.steps) + 1):
        state = AppState()
        for step in plan.steps[:done]:
            state = state.after(step)
        abort = build_abort(plan, state)
        assert abort.steps == ((Delete("whoami"),) if done else ())
        assert abort.end_state().weights == state.weights  # the route keeps what it had
    # the next install after an aborted one repoints the route it left
    again = build_plan("install", build_abort(plan, plan.end_state()).end_state(), Target("2.0.0", "00ff00", 2))
    assert again.steps[-1] == EnsureRoute("whoami", (("whoami", 100),))


@pytest.mark.parametrize("strategy", ["blue-green", "canary"])
def test_without_a_known_route_the_first_traffic_move_creates_it(strategy: StrategyName) -> None:
    no_route = AppState(START.releases)  # an install that failed before its route step
    plan = build_plan(strategy, no_route, V2)
    moves = [s for s in plan.steps if isinstance(s, SetWeights | EnsureRoute)]
    assert isinstance(moves[0], EnsureRoute) and all(isinstance(m, SetWeights) for m in moves[1:])
    with_route = build_plan(strategy, START, V2)
    assert not any(isinstance(s, EnsureRoute) for s in with_route.steps)
    # aborting after the move: traffic back by ensuring the route too (the create may have failed)
    state = no_route
    for step in plan.steps[: plan.steps.index(moves[0]) + 1]:
        state = state.after(step)
    assert build_abort(plan, state).steps == (EnsureRoute("whoami", (("whoami", 100),)), Delete("whoamiv2"))


def test_scale_rolling_and_recreate_change_the_live_release_in_place() -> None:
    scale = build_plan("scale", START, Target("1.0.0", "ffff00", 5))
    assert scale.steps == (Scale("whoami", 5), WaitReady("whoami"))
    rolling = build_plan("rolling", START, V2)
    assert rolling.steps == (Upgrade("whoami", Values(color="a81399", version="2.2.0")), WaitReady("whoami"))
    recreate = build_plan("recreate", START, Target("2.2.0", "a81399", 4), timeout_s=60)
    wanted = Values(color="a81399", version="2.2.0", strategy="recreate", replica_count=4)
    assert recreate.steps == (Upgrade("whoami", wanted), WaitReady("whoami", 60))
    # the next rolling update after a recreate sets the strategy back
    back = build_plan("rolling", recreate.end_state(), Target("3.0.0", "00ff00", 4))
    assert back.steps[0] == Upgrade("whoami", Values(color="00ff00", version="3.0.0", strategy="rolling"))


def test_blue_green_switches_at_once_then_removes_the_old_release() -> None:
    plan = build_plan("blue-green", START, V2)
    assert plan.steps == (
        Install("whoamiv2", Values("a81399", "2.2.0", "rolling", 3)),
        WaitReady("whoamiv2"),
        SetWeights("whoami", (("whoami", 0), ("whoamiv2", 100))),
        Delete("whoami"),
        SetWeights("whoami", (("whoamiv2", 100),)),
    )
    after = plan.end_state()
    assert after.live == Release("whoamiv2", Values("a81399", "2.2.0", "rolling", 3))
    # the next one goes back to the first name
    again = build_plan("blue-green", after, Target("3.0.0", "00ff00", 3))
    assert again.steps[0] == Install("whoami", Values("00ff00", "3.0.0", "rolling", 3))
    assert again.end_state().live is not None and again.end_state().live.name == "whoami"  # type: ignore[union-attr]


def test_canary_goes_95_5_then_pauses_then_0_100() -> None:
    plan = build_plan("canary", START, Target("2.2.0", "a81399", 4), pause_s=30)
    assert plan.steps == (
        Install("whoamiv2", Values("a81399", "2.2.0", "rolling", 1)),
        WaitReady("whoamiv2"),
        SetWeights("whoami", (("whoami", 95), ("whoamiv2", 5))),
        Pause(30),
        Scale("whoamiv2", 4),
        WaitReady("whoamiv2"),
        SetWeights("whoami", (("whoami", 0), ("whoamiv2", 100))),
        Delete("whoami"),
        SetWeights("whoami", (("whoamiv2", 100),)),
    )
    custom = build_plan("canary", START, V2, canary_weight=20, canary_replicas=2)
    assert custom.steps[0] == Install("whoamiv2", Values("a81399", "2.2.0", "rolling", 2))
    assert custom.steps[2] == SetWeights("whoami", (("whoami", 80), ("whoamiv2", 20)))
    assert custom.steps[3] == Pause(None)


@pytest.mark.parametrize(
    ("strategy", "state", "target", "options", "message"),
    [
        ("install", START, V2, {}, "installed already"),
        ("rolling", AppState(), V2, {}, "install the demo app first"),
        ("scale", START, Target("2.2.0", "a81399", 3), {}, "3 replicas already"),
        ("rolling", START, Target("1.0.0", "ffff00", 5), {}, "nothing to roll out"),
        ("recreate", START, Target("1.0.0", "FFFF00", 3), {}, "nothing to roll out"),
        ("blue-green", START, Target("2.2.0", "a81399", 0), {}, "at least one replica"),
        ("canary", START, V2, {"canary_weight": 0}, "between 1 and 99"),
        ("canary", START, V2, {"canary_weight": 100}, "between 1 and 99"),
        ("canary", START, V2, {"canary_replicas": 4}, "from 1 to the target's 3"),
        ("canary", START, V2, {"pause_s": -1.0}, "seconds >= 0"),
        ("bluegreen", START, V2, {}, "one of install, scale"),
    ],
)
def test_plans_that_cannot_start_are_refused_clearly(
    strategy: StrategyName, state: AppState, target: Target, options: dict[str, object], message: str
) -> None:
    with pytest.raises(PlanError, match=message):
        build_plan(strategy, state, target, **options)  # type: ignore[arg-type]


def test_a_half_finished_state_must_be_aborted_first() -> None:
    plan = build_plan("canary", START, V2)
    halfway = plan.start
    for step in plan.steps[:3]:
        halfway = halfway.after(step)
    with pytest.raises(PlanError, match=r"two releases are deployed \(whoami, whoamiv2\); abort"):
        build_plan("rolling", halfway, Target("3.0.0", "00ff00", 3))


def test_other_release_alternates() -> None:
    assert [other_release(n) for n in ("whoami", "whoamiv2", "custom")] == ["whoamiv2", "whoami", "whoami"]


def test_abort_mid_canary_moves_traffic_back_before_removing_anything() -> None:
    plan = build_plan("canary", START, V2)
    state = plan.start
    for step in plan.steps[:4]:
        state = state.after(step)
    abort = build_abort(plan, state)
    assert abort.aborting and abort.start == state
    assert abort.steps == (SetWeights("whoami", (("whoami", 100),)), Delete("whoamiv2"))


def test_abort_after_the_old_release_went_reinstalls_it_before_traffic_moves() -> None:
    plan = build_plan("blue-green", START, V2)
    state = plan.start
    for step in plan.steps[:4]:
        state = state.after(step)
    assert build_abort(plan, state).steps == (
        Install("whoami", V1),
        WaitReady("whoami"),
        SetWeights("whoami", (("whoami", 100),)),
        Delete("whoamiv2"),
    )


def test_abort_of_an_in_place_upgrade_upgrades_back() -> None:
    plan = build_plan("recreate", START, V2)
    state = plan.start.after(plan.steps[0])
    assert build_abort(plan, state).steps == (
        Upgrade("whoami", Values("ffff00", "1.0.0", "rolling")),
        WaitReady("whoami"),
    )
    scale = build_plan("scale", START, Target("1.0.0", "ffff00", 6))
    assert build_abort(scale, scale.end_state()).steps == (Scale("whoami", 3), WaitReady("whoami"))
    assert build_abort(scale, scale.start).steps == ()


STRATEGIES: list[StrategyName] = ["scale", "rolling", "recreate", "blue-green", "canary"]
targets = st.builds(
    Target,
    version=st.sampled_from(["1.0.0", "2.2.0", "3"]),
    color=st.sampled_from(["ffff00", "a81399", "00ff00"]),
    replicas=st.integers(1, 8),
)


@given(
    strategy=st.sampled_from(STRATEGIES),
    target=targets,
    live=st.sampled_from(["whoami", "whoamiv2"]),
    data=st.data(),
)
def test_abort_from_any_point_returns_to_the_start_and_never_removes_old_pods_before_traffic_is_back(
    strategy: StrategyName, target: Target, live: str, data: st.DataObject
) -> None:
    start = AppState((Release(live, V1),), ((live, 100),))
    try:
        plan = build_plan(strategy, start, target)
    except PlanError:
        return  # a target that changes nothing for this strategy
    done = data.draw(st.integers(0, len(plan.steps)), label="steps done")
    state = start
    for step in plan.steps[:done]:
        state = state.after(step)
    abort = build_abort(plan, state)
    end = abort.end_state()
    assert end.releases == start.releases
    assert end.weights == start.weights or (done == 0 and end.weights == state.weights)
    # nothing of the old release is removed by an abort; traffic comes back before new releases go
    assert Delete(live) not in abort.steps
    deletes = [i for i, s in enumerate(abort.steps) if isinstance(s, Delete)]
    weights = [i for i, s in enumerate(abort.steps) if isinstance(s, SetWeights)]
    assert all(w < d for w in weights for d in deletes)


TWO = AppState((Release("whoami", V1), Release("whoamiv2", V1)), (("whoami", 90), ("whoamiv2", 10)))
EMPTY_RELEASE = AppState((Release("whoami", Values("ffff00", "1.0.0", "rolling", 0)),), (("whoami", 100),))


@pytest.mark.parametrize(
    ("strategy", "state", "reason"),
    [
        ("install", AppState(), None),
        ("install", START, "installed already"),
        ("scale", AppState(), "nothing is deployed"),
        ("rolling", AppState(), "Scale installs"),
        ("scale", START, None),
        ("recreate", START, None),
        ("rolling", START, None),
        ("blue-green", START, None),
        ("canary", START, None),
        ("rolling", TWO, "abort the last plan first"),
        ("scale", TWO, "two releases"),
        ("canary", EMPTY_RELEASE, "scale it up first"),
        ("blue-green", EMPTY_RELEASE, "runs no replicas"),
        ("rolling", EMPTY_RELEASE, None),
    ],
)
def test_blocked_says_why_a_strategy_cannot_start_before_a_target_is_known(
    strategy: StrategyName, state: AppState, reason: str | None
) -> None:
    said = blocked(strategy, state)
    assert (said is None) == (reason is None), said
    live = state.live
    replicas = (live.values.replica_count or 0) if live else 2  # as the buttons ask: the live count …
    target = Target("9.9.9", "00ff00", replicas + (strategy == "scale"))  # … but Scale changes it
    if reason is not None:
        assert said is not None and reason in said
        with pytest.raises(PlanError):  # build_plan agrees
            build_plan(strategy, state, target)
    else:
        build_plan(strategy, state, target)
