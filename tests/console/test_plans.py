"""Steps, values and the state they fold into: validation, merging, descriptions."""

from __future__ import annotations

import pytest

from console.plans import (
    CHART_DEFAULTS,
    AppState,
    Delete,
    DeletePod,
    EnsureRoute,
    Install,
    Pause,
    Plan,
    PlanError,
    Release,
    Scale,
    SetWeights,
    Step,
    Target,
    Upgrade,
    Values,
    WaitReady,
    check_color,
    step_kind,
)

V1 = Values("ffff00", "1.0.0", "rolling", 3)


@pytest.mark.parametrize(
    ("given", "expected"),
    [("ffff00", "ffff00"), ("FFFF00", "ffff00"), ("#A81399", "a81399"), ("#FFF", "ffffff"), (" 0f0 ", "00ff00")],
)
def test_colours_are_normalised_to_six_lower_case_digits(given: str, expected: str) -> None:
    assert check_color(given) == expected


@pytest.mark.parametrize("bad", ["", "fff0", "ggg000", "#ffff00f", "red", 123])
def test_bad_colours_are_refused_with_a_clear_error(bad: object) -> None:
    with pytest.raises(PlanError, match="hex digits"):
        Target("1.0.0", bad, 3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("version", "color", "replicas", "message"),
    [
        ("", "ffff00", 3, "version"),
        ("v 2", "ffff00", 3, "version"),
        ("-2", "ffff00", 3, "version"),
        ("x" * 64, "ffff00", 3, "version"),
        ("2.0", "ffff00", -1, "replicas"),
        ("2.0", "ffff00", 101, "replicas"),
        ("2.0", "ffff00", True, "replicas"),
    ],
)
def test_targets_are_validated(version: str, color: str, replicas: int, message: str) -> None:
    with pytest.raises(PlanError, match=message):
        Target(version, color, replicas)


def test_values_merge_like_reuse_values_and_diff_to_the_minimal_set_list() -> None:
    given = Values(color="A81399", version="2.2.0")
    assert given.color == "a81399"
    assert given.over(V1) == Values("a81399", "2.2.0", "rolling", 3)
    assert Values("a81399", "2.2.0", "rolling", 3).changes_from(V1) == Values(color="a81399", version="2.2.0")
    assert V1.changes_from(V1).is_empty()
    with pytest.raises(PlanError, match="rolling or recreate"):
        Values(strategy="bluegreen")  # type: ignore[arg-type]


def test_state_follows_each_kind_of_step() -> None:
    state = AppState().after(Install("whoami", Values(version="1.0.0")))
    assert state.release("whoami") == Release("whoami", CHART_DEFAULTS)
    state = state.after(Upgrade("whoami", Values(color="a81399", version="2.2.0")))
    assert state.release("whoami") == Release("whoami", Values("a81399", "2.2.0", "rolling", 3))
    state = state.after(Upgrade("whoami", Values(replica_count=1), reuse_values=False))
    assert state.release("whoami") == Release("whoami", Values("ffff00", "1.0.0", "rolling", 1))
    state = state.after(Scale("whoami", 4)).after(WaitReady("whoami")).after(Pause(None))
    assert state.release("whoami") == Release("whoami", Values("ffff00", "1.0.0", "rolling", 4))
    state = state.after(Install("whoamiv2", V1)).after(SetWeights("whoami", (("whoami", 10), ("whoamiv2", 90))))
    assert [r.name for r in state.releases] == ["whoami", "whoamiv2"]
    assert (state.live and state.live.name, state.weight_of("whoami"), state.settled) == ("whoamiv2", 10, False)
    state = state.after(Delete("whoami"))
    assert [r.name for r in state.releases] == ["whoamiv2"]
    assert state.settled
    ensured = state.after(EnsureRoute("whoami", (("whoamiv2", 100),)))
    assert ensured == state.after(SetWeights("whoami", (("whoamiv2", 100),)))
    assert EnsureRoute("whoami", (("whoamiv2", 100),)) != SetWeights("whoami", (("whoamiv2", 100),))  # type: ignore[comparison-overlap]


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (Install("whoami", V1), "exists already"),
        (Upgrade("whoamiv2", V1), "does not exist"),
        (Scale("whoamiv2", 2), "does not exist"),
        (Delete("whoamiv2"), "does not exist"),
    ],
)
def test_steps_that_do_not_fit_the_state_are_refused(step: Install | Upgrade | Scale | Delete, message: str) -> None:
    state = AppState((Release("whoami", V1),))
    with pytest.raises(PlanError, match=message):
        state.after(step)


def test_live_release_is_the_heaviest_weighted_else_the_oldest() -> None:
    both = AppState((Release("whoami", V1), Release("whoamiv2", V1)))
    assert both.live is not None and both.live.name == "whoami"
    assert AppState().live is None
    zero = AppState(both.releases, (("whoami", 0), ("whoamiv2", 0)))
    assert zero.live is not None and zero.live.name == "whoami"


@pytest.mark.parametrize(
    "make",
    [
        lambda: SetWeights("whoami", ()),
        lambda: SetWeights("whoami", (("whoami", 50), ("whoami", 50))),
        lambda: SetWeights("whoami", (("whoami", -1),)),
        lambda: SetWeights("whoami", (("whoami", 1.5),)),  # type: ignore[arg-type]
        lambda: Pause(-1),
        lambda: Scale("whoami", -2),
        lambda: EnsureRoute("whoami", ()),
        lambda: EnsureRoute("whoami", (("whoami", -5),)),
        lambda: EnsureRoute("Whoami", (("whoami", 100),)),
        lambda: EnsureRoute("whoami,kind=x", (("whoami", 100),)),
        lambda: EnsureRoute("whoami", (("a,b=c", 100),)),
        lambda: DeletePod(""),
        lambda: DeletePod("whoami-6d9f-x2x7q --all"),
        lambda: DeletePod("whoami-6d9f-x2x7q", "Default"),
    ],
)
def test_invalid_steps_are_refused(make: object) -> None:
    with pytest.raises(PlanError):
        make()  # type: ignore[operator]


def test_descriptions_read_like_a_step_log() -> None:
    steps: list[Step] = [
        Install("whoamiv2", Values("a81399", "2.2.0", "rolling", 1)),
        Upgrade("whoami", Values(color="a81399", version="2.2.0")),
        Scale("whoami", 5),
        SetWeights("whoami", (("whoami", 95), ("whoamiv2", 5))),
        WaitReady("whoamiv2", 120),
        Pause(30),
        Pause(None),
        Delete("whoami"),
        EnsureRoute("whoami", (("whoami", 100),)),
        DeletePod("whoami-6d9f-x2x7q", "demo"),
    ]
    plan = Plan("canary", tuple(steps), AppState())
    assert plan.describe() == [
        "1. install release whoamiv2 (colour a81399, version 2.2.0, strategy rolling, 1 replica)",
        "2. upgrade release whoami (colour a81399, version 2.2.0)",
        "3. scale release whoami to 5 replicas",
        "4. route whoami: traffic whoami 95 / whoamiv2 5",
        "5. wait until every pod of whoamiv2 is updated and ready (at most 120 s)",
        "6. pause 30 s (promote to go on now)",
        "7. pause until promoted",
        "8. remove release whoami and its pods",
        "9. route whoami: traffic whoami 100 (creating the route if it is missing)",
        "10. delete pod whoami-6d9f-x2x7q in demo (its ReplicaSet replaces it)",
    ]
    kinds = [step_kind(s) for s in steps]
    assert kinds == [
        "install", "upgrade", "scale", "set-weights", "wait-ready", "pause", "pause", "delete", "ensure-route",
        "delete-pod",
    ]  # fmt: skip


def test_deleting_a_pod_changes_no_release() -> None:
    state = AppState((Release("whoami", Values("ffff00", "1.0.0", "rolling", 3)),), (("whoami", 100),))
    assert state.after(DeletePod("whoami-6d9f-x2x7q")) is state
    assert DeletePod("whoami-6d9f-x2x7q").describe() == "delete pod whoami-6d9f-x2x7q (its ReplicaSet replaces it)"
