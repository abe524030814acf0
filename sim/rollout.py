"""Rollout arithmetic of the Deployment controller, exactly as Kubernetes computes it.

Pure: integers and small frozen records in, integers and records out. The controller
(``sim.deployments``) feeds it the current ReplicaSet sizes and availability each pass.

Sources, so a reader can check every line against the real thing
(``kubernetes/pkg/controller/deployment``):

- ``util/deployment_util.go``: ``ResolveFenceposts`` (maxSurge rounds percentages *up*,
  maxUnavailable rounds *down*; if both resolve to 0, maxUnavailable becomes 1 "on the
  theory that surge might not work due to quota"), ``MaxUnavailable`` (0 for zero
  replicas, never more than replicas), ``NewRSNewReplicas`` (scale the new ReplicaSet
  up by ``min(replicas + surge - total, replicas - new)``, counting ReplicaSet *specs*,
  so terminating pods never count against the surge).
- ``rolling.go``: one sync either scales the new ReplicaSet (and stops there) or scales
  old ones down: first ``cleanupUnhealthyReplicas`` (oldest ReplicaSet first, only its
  unavailable replicas, bounded by ``all - minAvailable - newUnavailable``), then
  ``scaleDownOldReplicaSetsForRollingUpdate`` (oldest first, bounded by
  ``available - minAvailable``).
- ``recreate.go``: scale every old ReplicaSet to 0; create nothing new while any old
  pod still exists (terminating ones included); then the new one goes to ``replicas``.

API validation is reproduced in ``Strategy`` constructors: values are non-negative
integers or ``"N%"`` strings, maxUnavailable at most 100 %, and maxSurge and
maxUnavailable may not both be 0 as written (only rounding may make them so).

Errors: ``RolloutError`` (a ``ValueError``) for an invalid strategy.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

IntOrPercent = int | str

_PERCENT = re.compile(r"^(0|[1-9][0-9]*)%$")


class RolloutError(ValueError):
    """An invalid maxSurge/maxUnavailable or strategy, as the API server would reject it."""


def scaled_value(value: IntOrPercent, total: int, *, round_up: bool) -> int:
    """``intstr.GetScaledValueFromIntOrPercent``: an int as is, ``"N%"`` of ``total`` rounded."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise RolloutError(f"{value!r}: expected an integer or a percentage like '25%'")
    if isinstance(value, int):
        if value < 0:
            raise RolloutError(f"{value}: must be greater than or equal to 0")
        return value
    match = _PERCENT.match(value)
    if match is None:
        raise RolloutError(f"{value!r}: a string must be a percentage like '25%'")
    scaled = int(match[1]) * total
    # Integer arithmetic; Go's float ceil/floor gives the same for any realistic count.
    return -(-scaled // 100) if round_up else scaled // 100


def resolve_fenceposts(max_surge: IntOrPercent, max_unavailable: IntOrPercent, replicas: int) -> tuple[int, int]:
    """(surge, unavailable) for ``replicas``; both 0 after rounding → unavailable 1."""
    surge = scaled_value(max_surge, replicas, round_up=True)
    unavailable = scaled_value(max_unavailable, replicas, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_unavailable(max_surge: IntOrPercent, max_unavailable: IntOrPercent, replicas: int) -> int:
    """``deploymentutil.MaxUnavailable``: 0 for no replicas, capped at ``replicas``."""
    if replicas == 0:
        return 0
    return min(resolve_fenceposts(max_surge, max_unavailable, replicas)[1], replicas)


@dataclass(frozen=True)
class RollingUpdate:
    """The RollingUpdate strategy; the Kubernetes defaults are 25 % and 25 %."""

    max_surge: IntOrPercent = "25%"
    max_unavailable: IntOrPercent = "25%"

    def __post_init__(self) -> None:
        surge = scaled_value(self.max_surge, 100, round_up=True)
        unavailable = scaled_value(self.max_unavailable, 100, round_up=False)
        if isinstance(self.max_unavailable, str) and unavailable > 100:
            raise RolloutError(f"maxUnavailable {self.max_unavailable!r}: must not be greater than 100%")
        if surge == 0 and unavailable == 0:
            raise RolloutError("maxUnavailable may not be 0 when maxSurge is 0")

    def fenceposts(self, replicas: int) -> tuple[int, int]:
        return resolve_fenceposts(self.max_surge, self.max_unavailable, replicas)


@dataclass(frozen=True)
class Recreate:
    """The Recreate strategy: all old pods gone before the first new one is created."""


Strategy = RollingUpdate | Recreate


@dataclass(frozen=True)
class ReplicaSetCounts:
    """What one sync needs to know of a ReplicaSet: its spec size and its available pods."""

    name: str
    replicas: int
    available: int = 0


def new_rs_replicas(*, replicas: int, surge: int, new: int, total: int) -> int:
    """``NewRSNewReplicas`` for RollingUpdate: the new ReplicaSet's next size (never smaller)."""
    max_total = replicas + surge
    if total >= max_total:
        return new
    return new + max(0, min(max_total - total, replicas - new))


def cleanup_unhealthy(old: Sequence[ReplicaSetCounts], max_cleanup: int) -> list[ReplicaSetCounts]:
    """``cleanupUnhealthyReplicas``: drop unavailable replicas of old sets, oldest first."""
    result: list[ReplicaSetCounts] = []
    cleaned = 0
    for rs in old:
        unhealthy = rs.replicas - rs.available
        if cleaned >= max_cleanup or rs.replicas == 0 or unhealthy <= 0:
            result.append(rs)
            continue
        count = min(max_cleanup - cleaned, unhealthy)
        result.append(replace(rs, replicas=rs.replicas - count))
        cleaned += count
    return result


def scale_down_old(old: Sequence[ReplicaSetCounts], *, available: int, min_available: int) -> list[ReplicaSetCounts]:
    """``scaleDownOldReplicaSetsForRollingUpdate``: oldest first, never below ``min_available``."""
    budget = available - min_available
    result: list[ReplicaSetCounts] = []
    for rs in old:
        count = min(rs.replicas, max(budget, 0))
        result.append(replace(rs, replicas=rs.replicas - count))
        budget -= count
    return result


def rolling_sync(
    strategy: RollingUpdate, *, replicas: int, new: ReplicaSetCounts, old: Sequence[ReplicaSetCounts]
) -> dict[str, int]:
    """One sync of ``rolloutRolling``: the ReplicaSets to resize, name → new size (empty: nothing to do).

    ``old`` must be ordered oldest first (``ReplicaSetsByCreationTimestamp``).
    """
    if new.replicas > replicas:
        return {new.name: replicas}
    surge, _ = strategy.fenceposts(replicas)
    total = new.replicas + sum(rs.replicas for rs in old)
    grown = new_rs_replicas(replicas=replicas, surge=surge, new=new.replicas, total=total)
    if grown != new.replicas:
        return {new.name: grown}
    return _changed(old, _reconcile_old(strategy, replicas=replicas, new=new, old=old))


def _reconcile_old(
    strategy: RollingUpdate, *, replicas: int, new: ReplicaSetCounts, old: Sequence[ReplicaSetCounts]
) -> list[ReplicaSetCounts]:
    """``reconcileOldReplicaSets``: unhealthy cleanup, then the availability-bounded scale-down."""
    if sum(rs.replicas for rs in old) == 0:
        return list(old)
    min_available = replicas - max_unavailable(strategy.max_surge, strategy.max_unavailable, replicas)
    all_pods = new.replicas + sum(rs.replicas for rs in old)
    max_scaled_down = all_pods - min_available - (new.replicas - new.available)
    if max_scaled_down <= 0:
        return list(old)
    cleaned = cleanup_unhealthy(old, max_scaled_down)
    available = new.available + sum(rs.available for rs in cleaned)
    return scale_down_old(cleaned, available=available, min_available=min_available)


def recreate_sync(
    *, replicas: int, new: ReplicaSetCounts, old: Sequence[ReplicaSetCounts], old_pods_exist: bool
) -> dict[str, int]:
    """One sync of ``rolloutRecreate``: old sets to 0; the new one to ``replicas`` once no old pod exists."""
    scaled_down = {rs.name: 0 for rs in old if rs.replicas > 0}
    if scaled_down:
        return scaled_down
    if old_pods_exist or new.replicas == replicas:
        return {}
    return {new.name: replicas}


def _changed(before: Sequence[ReplicaSetCounts], after: Sequence[ReplicaSetCounts]) -> dict[str, int]:
    sizes: Mapping[str, int] = {rs.name: rs.replicas for rs in before}
    return {rs.name: rs.replicas for rs in after if sizes[rs.name] != rs.replicas}
