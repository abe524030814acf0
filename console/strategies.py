"""Plan builders: each strategy as a list of steps, and the plan that undoes any of them.

Pure: an ``AppState`` and a ``Target`` in, a ``Plan`` out; every built plan is checked
by folding it over its start state (``Plan.end_state``), so a builder cannot hand out
a plan whose steps do not fit.

Every strategy except ``install`` starts from exactly one release (the *live* one); a
state with two (a failed or half-aborted run) must be aborted first. The other release
name (``whoami`` ↔ ``whoamiv2``) is the one blue-green and canary install next to it.
:func:`blocked` says, before anything is built, why a strategy cannot start now (the
page disables its button with that reason).

Naming, decided: the two names stay the seed's, ``whoami`` and ``whoamiv2``, and the
console shows them as what they are — Deployment names, the ones ``kubectl get deploy``
prints (the chart names the Deployment and the Service after the release) — each with
the version and colour it runs *now*, its ready pods, its route weight and its measured
share. Names that say what they run were considered and rejected: a release is upgraded
in place by rolling and recreate, so ``whoami-2-2-0`` would soon run 1.0.0, and a name
that lies is worse than a neutral one; renaming the slots (``whoami-a``/``-b``) would
orphan the releases the seed's ``helm install whoamiv2`` (docs/operations.md) and earlier
consoles created, which discovery finds by these names. So ``whoamiv2`` may run 1.0.0
after a canary back to yellow, and the page says exactly that, next to the kubectl line
that shows the same (``kubectl get deploy -L app.kubernetes.io/version``).

- ``install``: the demo app from nothing — release ``whoami``, wait, then the route
  ensured (created, or updated if an earlier run left it) with 100 to it. The route is
  not the release's (see ``console.plans``): removing a release never removes it.
- ``scale``: the seed's ``helm upgrade --set replicaCount=N --wait``, then wait.
- ``rolling`` / ``recreate``: upgrade the live release in place, setting only what
  differs (colour, version, strategy, replicas), so a default release gets exactly the
  seed's ``--set color=… --set version=…``; then wait for the rollout.
- ``blue-green``: the other release, full size, with the target values → wait until
  all of it is ready → all traffic to it in one step → old release removed → the
  route drops the removed release.
- ``canary``: the other release with ``canary_replicas`` pods → wait → traffic
  ``100-w``/``w`` (95/5) → pause (``pause_s``; ``None``: until promoted) → scale it to
  full size → wait → 0/100 → old release removed → the route drops it.
- Blue-green and canary move traffic with ``SetWeights`` (a patch); only if the state
  knows of no route yet (an install that failed before its route step) is the first
  move an ``EnsureRoute``, so no plan patches a route that may not exist.

Abort (``build_abort``) works from the state reached, not from step indices, so it is
right whichever step was interrupted or failed: first the old release is made whole
again (reinstalled if it was removed, upgraded back if it was changed) and waited for;
then traffic goes back to it; only then do the releases the plan added go away. So no
old pod goes away before traffic is back on the old version. The route itself always
stays (an aborted install leaves it pointing at nothing: the next install repoints it).

Errors: ``PlanError`` (from ``console.plans``) for a strategy that cannot start from
the state or a target that changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

from console.plans import (
    AppState,
    Delete,
    EnsureRoute,
    Install,
    Pause,
    Plan,
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
    Weights,
)

RELEASES = ("whoami", "whoamiv2")  # the seed's names: blue-green and canary alternate between them
STRATEGIES: tuple[StrategyName, ...] = get_args(StrategyName)
DEFAULT_TIMEOUT_S = 300.0


def other_release(live: str) -> str:
    """The name blue-green and canary install next to ``live``."""
    return RELEASES[1] if live == RELEASES[0] else RELEASES[0]


def blocked(strategy: StrategyName, state: AppState) -> str | None:
    """Why ``strategy`` cannot start from ``state`` whatever the target, or None if it can.

    The target-dependent refusals (nothing to roll out, a canary weight out of range) are
    ``build_plan``'s; this is what a page can say before the user has typed anything.
    """
    if strategy == "install":
        return f"the demo app is installed already ({state.describe()})" if state.releases else None
    if not state.releases:
        return "nothing is deployed yet: Scale installs the demo app"
    if not state.settled:
        names = ", ".join(r.name for r in state.releases)
        return f"two releases are deployed ({names}): abort the last plan first"
    live = state.releases[0]
    if strategy in ("blue-green", "canary") and not live.values.replica_count:
        return f"{live.name} runs no replicas: scale it up first"
    return None


def build_plan(
    strategy: StrategyName,
    state: AppState,
    target: Target,
    *,
    pause_s: float | None = None,
    canary_weight: int = 5,
    canary_replicas: int = 1,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> Plan:
    """The steps that take ``state`` to ``target`` with ``strategy``; PlanError if it cannot start."""
    if strategy not in STRATEGIES:
        raise PlanError(f"strategy {strategy!r}: one of {', '.join(STRATEGIES)}")
    if strategy == "install":
        steps = _install(state, target, timeout_s)
    else:
        live = _live(state, strategy)
        if strategy == "scale":
            steps = _scale(live, target, timeout_s)
        elif strategy in ("rolling", "recreate"):
            steps = _in_place(live, target, "recreate" if strategy == "recreate" else "rolling", timeout_s)
        elif strategy == "blue-green":
            steps = _blue_green(state, live, target, timeout_s)
        else:
            if not 0 < canary_weight < 100:
                raise PlanError(f"canary weight {canary_weight!r}: between 1 and 99 (per cent)")
            if not 1 <= canary_replicas <= target.replicas:
                raise PlanError(f"canary replicas {canary_replicas!r}: from 1 to the target's {target.replicas}")
            canary = _Canary(canary_weight, canary_replicas, pause_s)
            steps = _canary(state, live, target, canary, timeout_s)
    return _checked(Plan(strategy, tuple(steps), state, target))


def build_abort(plan: Plan, state: AppState) -> Plan:
    """The plan that takes ``state`` (reached while running ``plan``) back to ``plan.start``."""
    origin = plan.start
    old = origin.live
    steps: list[Step] = []
    if old is not None:
        steps += _restore(old, state.release(old.name))
        if state.weights != origin.weights and (origin.weights or state.weights):
            # No route at the start: the plan's EnsureRoute may have failed, so ensure, not patch.
            move = SetWeights if origin.weights else EnsureRoute
            steps.append(move(state.route, origin.weights or ((old.name, 100),)))
    steps += [Delete(r.name) for r in state.releases if origin.release(r.name) is None]
    back = Target(old.values.version or "", old.values.color or "", old.values.replica_count or 0) if old else None
    return _checked(Plan(plan.strategy, tuple(steps), state, back, aborting=True))


# --- The strategies --------------------------------------------------------------------


def _install(state: AppState, target: Target, timeout_s: float) -> list[Step]:
    if state.releases:
        raise PlanError(f"the demo app is installed already ({state.describe()})")
    release = RELEASES[0]
    values = Values(target.color, target.version, "rolling", target.replicas)
    return [Install(release, values), WaitReady(release, timeout_s), EnsureRoute(state.route, ((release, 100),))]


def _scale(live: Release, target: Target, timeout_s: float) -> list[Step]:
    if live.values.replica_count == target.replicas:
        raise PlanError(f"{live.name} runs {target.replicas} replicas already")
    return [Scale(live.name, target.replicas), WaitReady(live.name, timeout_s)]


def _in_place(live: Release, target: Target, kind: str, timeout_s: float) -> list[Step]:
    wanted = Values(target.color, target.version, "recreate" if kind == "recreate" else "rolling", target.replicas)
    changes = wanted.changes_from(live.values)
    if changes.color is None and changes.version is None:
        raise PlanError(f"{live.name} runs version {target.version} in {target.color} already: nothing to roll out")
    return [Upgrade(live.name, changes), WaitReady(live.name, timeout_s)]


def _blue_green(state: AppState, live: Release, target: Target, timeout_s: float) -> list[Step]:
    new = _new_release(live, target)
    return [
        Install(new.name, new.values),
        WaitReady(new.name, timeout_s),
        _first_move(state, ((live.name, 0), (new.name, 100))),
        Delete(live.name),
        SetWeights(state.route, ((new.name, 100),)),
    ]


@dataclass(frozen=True)
class _Canary:
    weight: int
    replicas: int
    pause_s: float | None


def _canary(state: AppState, live: Release, target: Target, canary: _Canary, timeout_s: float) -> list[Step]:
    new = _new_release(live, target)
    small = Values(new.values.color, new.values.version, new.values.strategy, canary.replicas)
    return [
        Install(new.name, small),
        WaitReady(new.name, timeout_s),
        _first_move(state, ((live.name, 100 - canary.weight), (new.name, canary.weight))),
        Pause(canary.pause_s),
        Scale(new.name, target.replicas),
        WaitReady(new.name, timeout_s),
        SetWeights(state.route, ((live.name, 0), (new.name, 100))),
        Delete(live.name),
        SetWeights(state.route, ((new.name, 100),)),
    ]


# --- Helpers ---------------------------------------------------------------------------


def _live(state: AppState, strategy: str) -> Release:
    if not state.releases:
        raise PlanError(f"{strategy}: nothing is deployed yet; install the demo app first")
    if not state.settled:
        names = ", ".join(r.name for r in state.releases)
        raise PlanError(f"{strategy}: two releases are deployed ({names}); abort the last plan first")
    return state.releases[0]


def _first_move(state: AppState, weights: Weights) -> SetWeights | EnsureRoute:
    """A patch of the route, or (no route known yet) the step that creates it."""
    return SetWeights(state.route, weights) if state.weights else EnsureRoute(state.route, weights)


def _new_release(live: Release, target: Target) -> Release:
    if target.replicas == 0:
        raise PlanError("blue-green and canary need at least one replica")
    values = Values(target.color, target.version, live.values.strategy, target.replicas)
    return Release(other_release(live.name), values)


def _restore(old: Release, current: Release | None) -> list[Step]:
    """Steps that make the old release what it was: reinstall, upgrade back, or nothing."""
    if current is None:
        return [Install(old.name, old.values), WaitReady(old.name)]
    changes = old.values.changes_from(current.values)
    if changes.is_empty():
        return []
    if changes == Values(replica_count=changes.replica_count):
        return [Scale(old.name, old.values.replica_count or 0), WaitReady(old.name)]
    return [Upgrade(old.name, changes), WaitReady(old.name)]


def _checked(plan: Plan) -> Plan:
    try:
        plan.end_state()
    except PlanError as e:
        raise PlanError(f"internal: the {plan.strategy} plan does not fit its state: {e}") from e
    return plan
