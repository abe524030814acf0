"""Strategy plans as data: typed steps, the plans made of them, and what is deployed.

Pure: frozen dataclasses and functions over them, nothing runs here. A plan is built by
``console.strategies`` from an ``AppState`` and a ``Target``; the ``PlanRunner``
(``console.running``) hands its steps one by one to an executor (the simulated cluster
or helm/kubectl) and folds each step into the state with ``AppState.after``.

Steps mirror what an operator types:

- ``Install(release, values)`` — ``helm install``; a release is one Deployment and one
  Service, both named after it (the chart's naming).
- ``Upgrade(release, values, reuse_values=True)`` — ``helm upgrade --reuse-values``:
  only the values given change. A changed colour or version is a rollout.
- ``Scale(release, replicas)`` — the seed's ``helm upgrade --set replicaCount=N --wait``.
- ``SetWeights(route, weights)`` — the route's backends, ``(release, weight)`` pairs;
  a release left out gets no traffic. The whole list is replaced each time. The route
  must exist (on a cluster it is a ``kubectl patch``).
- ``EnsureRoute(route, weights)`` — the route created (or updated) with these weights:
  the ``install`` plan's way to bring the route into being. For the state, the runner's
  ``WeightsSet`` event and the page it sets weights like ``SetWeights``; the executors
  tell them apart, since creating is a different request from patching.

Every consumer of steps dispatches with one exhaustive ``match`` ending in
``assert_never``: a new step type is a type error until each of them handles it.
- ``WaitReady(release, timeout_s)`` — ``kubectl rollout status``: all pods updated and
  available, no old one left.
- ``Pause(seconds)`` — wait that long, or (``None``) until promoted; a promote ends
  either kind early.
- ``Delete(release)`` — ``helm uninstall --wait``: gone with all its pods.
- ``DeletePod(pod, namespace)`` — ``kubectl delete pod --wait=false``: a graceful delete
  of one pod (the Kill a pod button); its ReplicaSet replaces it. It changes no release,
  so it is the one step the console runs beside a plan, not in one (``console.controlling``).

Releases and the route. Two release names take turns (``whoami`` and ``whoamiv2``, the
seed's names): rolling, recreate and scale change the live release in place; blue-green
and canary install the *other* name next to it, move traffic, and remove the old one.
After a blue-green from ``whoami`` the live release is ``whoamiv2``, and the next
blue-green or canary goes back to ``whoami``. The route (``whoami``) outlives both
releases, so traffic can always be moved before a release is removed: on a cluster it
is its own Helm release (``whoami-route``), never part of ``whoami`` or ``whoamiv2``,
and no plan (an abort neither) ever deletes it.

Values are typed (``Values``): colour (six lower-case hex digits, the bus contract's
form), version (a label value), strategy (``rolling`` | ``recreate``) and replica count;
``None`` means "not given". A release's recorded values are always complete
(``CHART_DEFAULTS`` fill the gaps, as the chart's values.yaml does).

Errors: ``PlanError`` (a ``ValueError``) for bad input — an invalid colour, version or
count, or a step that does not fit the state (installing a release that exists,
upgrading one that does not).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal, assert_never

from bus.messages import normalize_color

RolloutKind = Literal["rolling", "recreate"]
StrategyName = Literal["install", "scale", "recreate", "rolling", "blue-green", "canary"]
Weights = tuple[tuple[str, int], ...]

MAX_REPLICAS = 100  # a demo of lights: more is a typo
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$")
_RELEASE = re.compile(r"^[a-z0-9](?:[-a-z0-9]{0,51}[a-z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?$")  # a DNS-1123 subdomain


class PlanError(ValueError):
    """Bad input for a plan, or a step that does not fit the state."""


def check_color(color: str) -> str:
    """The bus contract's colour rule (``bus.messages.normalize_color``: ``#FFF`` → ``ffffff``),
    with a PlanError instead of None for anything else."""
    normal = normalize_color(color)
    if normal is None:
        raise PlanError(f"color {color!r}: expected 3 or 6 hex digits, e.g. ffff00")
    return normal


def check_version(version: str) -> str:
    if not isinstance(version, str) or not _LABEL_VALUE.match(version):
        raise PlanError(f"version {version!r}: letters, digits, '.', '-', '_' (a label value, at most 63)")
    return version


def check_replicas(replicas: int) -> int:
    if isinstance(replicas, bool) or not isinstance(replicas, int) or not 0 <= replicas <= MAX_REPLICAS:
        raise PlanError(f"replicas {replicas!r}: an integer from 0 to {MAX_REPLICAS}")
    return replicas


def check_release(name: str) -> str:
    if not isinstance(name, str) or not _RELEASE.match(name):
        raise PlanError(f"release {name!r}: lower-case letters, digits and '-', at most 53 characters")
    return name


@dataclass(frozen=True)
class Values:
    """Chart values a step sets; ``None`` = not given (keep the current or the chart's)."""

    color: str | None = None
    version: str | None = None
    strategy: RolloutKind | None = None
    replica_count: int | None = None

    def __post_init__(self) -> None:
        if self.color is not None:
            object.__setattr__(self, "color", check_color(self.color))
        if self.version is not None:
            check_version(self.version)
        if self.strategy not in (None, "rolling", "recreate"):
            raise PlanError(f"strategy {self.strategy!r}: rolling or recreate")
        if self.replica_count is not None:
            check_replicas(self.replica_count)

    def over(self, base: Values) -> Values:
        """These values where given, ``base`` elsewhere (helm's --reuse-values merge)."""
        return Values(
            color=base.color if self.color is None else self.color,
            version=base.version if self.version is None else self.version,
            strategy=base.strategy if self.strategy is None else self.strategy,
            replica_count=base.replica_count if self.replica_count is None else self.replica_count,
        )

    def changes_from(self, base: Values) -> Values:
        """Only the values that differ from ``base``: the minimal ``--set`` list."""
        return Values(
            color=None if self.color == base.color else self.color,
            version=None if self.version == base.version else self.version,
            strategy=None if self.strategy == base.strategy else self.strategy,
            replica_count=None if self.replica_count == base.replica_count else self.replica_count,
        )

    def is_empty(self) -> bool:
        return self == Values()

    def describe(self) -> str:
        parts = [
            f"colour {self.color}" if self.color is not None else "",
            f"version {self.version}" if self.version is not None else "",
            f"strategy {self.strategy}" if self.strategy is not None else "",
            _replicas(self.replica_count) if self.replica_count is not None else "",
        ]
        return ", ".join(p for p in parts if p) or "no changes"


def _replicas(count: int) -> str:
    return f"{count} replica" if count == 1 else f"{count} replicas"


# The chart's values.yaml (helm/whoami): what a fresh install gets for what it omits.
CHART_DEFAULTS = Values(color="ffff00", version="1.0.0", strategy="rolling", replica_count=3)


@dataclass(frozen=True)
class Target:
    """What the user asks for: the version and colour to roll out, and how many pods."""

    version: str
    color: str
    replicas: int

    def __post_init__(self) -> None:
        check_version(self.version)
        object.__setattr__(self, "color", check_color(self.color))
        check_replicas(self.replicas)


# --- Steps -------------------------------------------------------------------------


@dataclass(frozen=True)
class Install:
    release: str
    values: Values

    def describe(self) -> str:
        return f"install release {self.release} ({self.values.describe()})"


@dataclass(frozen=True)
class Upgrade:
    release: str
    values: Values
    reuse_values: bool = True

    def describe(self) -> str:
        return f"upgrade release {self.release} ({self.values.describe()})"


@dataclass(frozen=True)
class Scale:
    release: str
    replicas: int

    def __post_init__(self) -> None:
        check_replicas(self.replicas)

    def describe(self) -> str:
        return f"scale release {self.release} to {_replicas(self.replicas)}"


def check_weights(route: str, weights: Weights) -> Weights:
    names = [name for name, _ in weights]
    if not weights or len(set(names)) != len(names):
        raise PlanError(f"route {route}: weights need distinct releases, got {weights!r}")
    if any(isinstance(w, bool) or not isinstance(w, int) or w < 0 for _, w in weights):
        raise PlanError(f"route {route}: weights are integers >= 0, got {weights!r}")
    return weights


def _traffic_split(route: str, weights: Weights) -> str:
    split = " / ".join(f"{name} {weight}" for name, weight in weights)
    return f"route {route}: traffic {split}"


@dataclass(frozen=True)
class SetWeights:
    route: str
    weights: Weights

    def __post_init__(self) -> None:
        check_weights(self.route, self.weights)

    def describe(self) -> str:
        return _traffic_split(self.route, self.weights)


@dataclass(frozen=True)
class EnsureRoute:
    """Create the route (or update it) with ``weights``; see the module docstring."""

    route: str
    weights: Weights

    def __post_init__(self) -> None:
        check_weights(self.route, self.weights)
        # The route's name goes into a helm --set-string value (where ',' or '=' would split
        # it) and the backends are Services named after releases: names only, said early.
        if not isinstance(self.route, str) or not _SUBDOMAIN.match(self.route):
            raise PlanError(f"route {self.route!r}: lower-case letters, digits, '-' and '.' (a Kubernetes name)")
        for name, _ in self.weights:
            check_release(name)

    def describe(self) -> str:
        return f"{_traffic_split(self.route, self.weights)} (creating the route if it is missing)"


@dataclass(frozen=True)
class WaitReady:
    release: str
    timeout_s: float = 300.0

    def describe(self) -> str:
        return f"wait until every pod of {self.release} is updated and ready (at most {self.timeout_s:g} s)"


@dataclass(frozen=True)
class Pause:
    seconds: float | None = None  # None: until promoted

    def __post_init__(self) -> None:
        if self.seconds is not None and not self.seconds >= 0:
            raise PlanError(f"pause {self.seconds!r}: seconds >= 0, or None for 'until promoted'")

    def describe(self) -> str:
        if self.seconds is None:
            return "pause until promoted"
        return f"pause {self.seconds:g} s (promote to go on now)"


@dataclass(frozen=True)
class Delete:
    release: str

    def describe(self) -> str:
        return f"remove release {self.release} and its pods"


@dataclass(frozen=True)
class DeletePod:
    """One pod deleted gracefully; ``namespace`` None: the executor's own."""

    pod: str
    namespace: str | None = None

    def __post_init__(self) -> None:
        for what, name in (("pod", self.pod), ("namespace", self.namespace)):
            if name is not None and not (isinstance(name, str) and _SUBDOMAIN.match(name)):
                raise PlanError(f"{what} {name!r}: lower-case letters, digits, '-' and '.' (a Kubernetes name)")

    def describe(self) -> str:
        where = f" in {self.namespace}" if self.namespace else ""
        return f"delete pod {self.pod}{where} (its ReplicaSet replaces it)"


# What executors carry out:
ClusterStep = Install | Upgrade | Scale | SetWeights | EnsureRoute | WaitReady | Delete | DeletePod
Step = ClusterStep | Pause  # a pause is the runner's own (it waits on the executor's clock)


def step_kind(step: Step) -> str:
    """A stable lower-case name of a step for the UI: ``install``, ``set-weights`` …"""
    return re.sub(r"(?<!^)([A-Z])", r"-\1", type(step).__name__).lower()


# --- What is deployed ----------------------------------------------------------------


@dataclass(frozen=True)
class Release:
    name: str
    values: Values  # complete: every field set


@dataclass(frozen=True)
class AppState:
    """The releases of the demo app (install order) and the route's weights (``()``: no route yet)."""

    releases: tuple[Release, ...] = ()
    weights: Weights = ()
    route: str = "whoami"

    def release(self, name: str) -> Release | None:
        return next((r for r in self.releases if r.name == name), None)

    @property
    def live(self) -> Release | None:
        """The release serving traffic: the heaviest-weighted one, else the oldest."""
        weighted = [(w, r) for r in self.releases for name, w in self.weights if name == r.name]
        if weighted and max(w for w, _ in weighted) > 0:
            return max(weighted, key=lambda pair: pair[0])[1]
        return self.releases[0] if self.releases else None

    @property
    def settled(self) -> bool:
        """Exactly one release: what every strategy starts from."""
        return len(self.releases) == 1

    def weight_of(self, name: str) -> int:
        return dict(self.weights).get(name, 0)

    def after(self, step: Step) -> AppState:
        """The state once ``step`` took effect; PlanError if it does not fit."""
        match step:
            case Install():
                if self.release(step.release):
                    raise PlanError(f"release {step.release} exists already")
                installed = Release(step.release, step.values.over(CHART_DEFAULTS))
                return replace(self, releases=(*self.releases, installed))
            case Upgrade() | Scale():
                current = self._existing(step.release)
                return self._with(Release(current.name, _upgraded(current.values, step)))
            case SetWeights() | EnsureRoute():
                return replace(self, weights=step.weights, route=step.route)
            case Delete():
                self._existing(step.release)
                return replace(self, releases=tuple(r for r in self.releases if r.name != step.release))
            case WaitReady() | Pause() | DeletePod():
                return self
            case _:
                assert_never(step)

    def _existing(self, name: str) -> Release:
        release = self.release(name)
        if release is None:
            raise PlanError(f"release {name} does not exist")
        return release

    def _with(self, release: Release) -> AppState:
        return replace(self, releases=tuple(release if r.name == release.name else r for r in self.releases))

    def describe(self) -> str:
        if not self.releases:
            return "nothing deployed"
        parts = [f"{r.name}: {r.values.describe()}" for r in self.releases]
        route = f"; route {self.route}: " + ", ".join(f"{n} {w}" for n, w in self.weights) if self.weights else ""
        return "; ".join(parts) + route


def _upgraded(values: Values, step: Upgrade | Scale) -> Values:
    match step:
        case Scale():
            return replace(values, replica_count=step.replicas)
        case Upgrade():
            return step.values.over(values if step.reuse_values else CHART_DEFAULTS)
        case _:
            assert_never(step)


@dataclass(frozen=True)
class Plan:
    """Steps for one strategy, built for the state ``start``; ``target`` is what was asked."""

    strategy: StrategyName
    steps: tuple[Step, ...]
    start: AppState
    target: Target | None = None
    aborting: bool = False  # True for the plan that undoes an aborted one

    def end_state(self) -> AppState:
        """The state after every step; PlanError if a step does not fit (a builder bug)."""
        state = self.start
        for step in self.steps:
            state = state.after(step)
        return state

    def describe(self) -> list[str]:
        return [f"{i + 1}. {step.describe()}" for i, step in enumerate(self.steps)]
