"""The console's buttons, over a ``PlanRunner``: requests in, plans started, events out as JSON.

:class:`RunnerControls` owns the runner (it must be the runner's ``on_event`` listener,
so it builds it from an executor) and turns each button into a plan with
``console.strategies.build_plan`` from ``runner.state``:

- Scale: the ``scale`` plan; on an empty cluster it is an ``install`` of the chart's
  defaults (version 1.0.0, yellow) with that many replicas, so "scale to 4" is how a
  fresh demo starts.
- Recreate / Rolling / Blue-Green / Canary: the target version and colour, and the
  live release's replica count (the slider scales, the strategies roll out). Canary
  pauses until promoted, with ``canary_weight`` per cent of the traffic.
- Promote ends a pause; Abort runs the abort plan.

Errors, for the HTTP layer: :class:`ControlError` (a ``ValueError``: bad input, or a
strategy that cannot start from the state — 400) and :class:`Busy` (a plan runs, or
there is nothing to promote or abort — 409). Nothing changes when either is raised.

:func:`event_message` turns a runner event into the JSON the browser reads:
``{"type": "run", "event": "step-started", ...}`` plus the controls' state (busy,
paused, releases, weights), so the page enables Promote and Abort from the stream alone.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from typing import Any, Protocol

from console.executors import Executor
from console.plans import CHART_DEFAULTS, AppState, PlanError, Release, StrategyName, Target, step_kind
from console.running import (
    Finished,
    NothingToAbort,
    PlanRunner,
    PlanStarted,
    RunEvent,
    RunnerBusy,
    StalePlan,
    StepDone,
    StepFailed,
    StepStarted,
    WeightsSet,
)
from console.strategies import build_plan

log = logging.getLogger(__name__)

JsonDict = dict[str, Any]
BUTTONS: tuple[StrategyName, ...] = ("install", "recreate", "rolling", "blue-green", "canary")
DEFAULT_CANARY_WEIGHT = 10
FINISH_GRACE_SECONDS = 2.0


class ControlError(ValueError):
    """Bad input, or a strategy that cannot start from the current state (HTTP 400)."""


class Busy(Exception):
    """A plan runs, or there is nothing to promote or abort (HTTP 409)."""


class Controls(Protocol):
    """What the app needs behind its buttons."""

    def on_event(self, listener: Callable[[JsonDict], None]) -> None: ...

    def scale(self, replicas: int) -> JsonDict: ...

    def strategy(self, name: str, *, version: str, color: str, canary_weight: int | None = None) -> JsonDict: ...

    def promote(self) -> JsonDict: ...

    def abort(self) -> JsonDict: ...

    def weights(self) -> list[JsonDict]: ...

    def describe(self) -> JsonDict: ...


class RunnerControls:
    """The buttons over a PlanRunner built here from ``executor``."""

    def __init__(
        self,
        executor: Executor,
        *,
        state: AppState | None = None,
        canary_weight: int = DEFAULT_CANARY_WEIGHT,
        pause_s: float | None = None,
    ) -> None:
        self.canary_weight = canary_weight
        self.pause_s = pause_s
        self.runner = PlanRunner(executor, on_event=self._dispatch, state=state)
        self._listeners: list[Callable[[JsonDict], None]] = []
        self._finishing = threading.Event()  # Finished is out, the runner thread is ending

    def on_event(self, listener: Callable[[JsonDict], None]) -> None:
        self._listeners.append(listener)

    # -- buttons ---------------------------------------------------------------------

    def scale(self, replicas: int) -> JsonDict:
        live = self.runner.state.live
        if live is None:
            target = self._target(CHART_DEFAULTS.version or "", CHART_DEFAULTS.color or "", replicas)
            return self._start("install", target)
        return self._start("scale", self._target(live.values.version or "", live.values.color or "", replicas))

    def strategy(self, name: str, *, version: str, color: str, canary_weight: int | None = None) -> JsonDict:
        if name not in BUTTONS:
            raise ControlError(f"strategy {name!r}: one of {', '.join(BUTTONS)}")
        live = self.runner.state.live
        replicas = live.values.replica_count if live is not None else CHART_DEFAULTS.replica_count
        weight = self.canary_weight if canary_weight is None else canary_weight
        return self._start(name, self._target(version, color, replicas or 0), canary_weight=weight)

    def promote(self) -> JsonDict:
        if not self.runner.promote():
            raise Busy("nothing is paused: promote continues a paused canary")
        return {"promoted": True}

    def abort(self) -> JsonDict:
        try:
            self.runner.abort()
        except NothingToAbort as e:
            raise Busy(f"nothing to abort: {e}") from e
        return {"aborting": True}

    # -- state for the page ------------------------------------------------------------

    def weights(self) -> list[JsonDict]:
        """The route's weights with each release's version and colour (None once it is gone)."""
        state = self.runner.state
        rows = []
        for name, weight in state.weights:
            release = state.release(name)
            values = release.values if release is not None else None
            rows.append({"release": name, "weight": weight, "version": values and values.version,
                         "color": values and values.color})  # fmt: skip
        return rows

    def describe(self) -> JsonDict:
        state = self.runner.state
        busy = self.runner.busy and not self._finishing.is_set()
        releases = [_release_json(r) for r in state.releases]
        return {"busy": busy, "paused": self.runner.paused, "releases": releases, "weights": self.weights(),
                "summary": state.describe()}  # fmt: skip

    # -- helpers -----------------------------------------------------------------------

    def _target(self, version: str, color: str, replicas: int) -> Target:
        try:
            return Target(version, color, replicas)
        except PlanError as e:
            raise ControlError(str(e)) from e

    def _start(self, name: StrategyName, target: Target, *, canary_weight: int = DEFAULT_CANARY_WEIGHT) -> JsonDict:
        if self._finishing.is_set():  # the last run just said Finished: let its thread end
            self.runner.wait(FINISH_GRACE_SECONDS)
        if self.runner.busy:  # before building: a half-done plan's state is not a starting point
            raise Busy("a plan is running: wait for it, or abort it")
        try:
            plan = build_plan(name, self.runner.state, target, pause_s=self.pause_s, canary_weight=canary_weight)
            self.runner.start(plan)
        except PlanError as e:
            raise ControlError(str(e)) from e
        except (RunnerBusy, StalePlan) as e:
            raise Busy(str(e)) from e
        return {"strategy": plan.strategy, "steps": plan.describe()}

    def _dispatch(self, event: RunEvent) -> None:
        if isinstance(event, PlanStarted):
            self._finishing.clear()
        elif isinstance(event, Finished):
            self._finishing.set()
        message = event_message(event) | {"controls": self.describe()}
        for listener in self._listeners:
            listener(message)


def event_message(event: object) -> JsonDict:
    """A runner event as JSON for the browser; unknown events pass through generically."""
    message: JsonDict = {"type": "run", "event": _kebab(type(event).__name__)}
    if isinstance(event, PlanStarted):
        plan = event.plan
        return message | {"strategy": plan.strategy, "aborting": plan.aborting, "steps": plan.describe()}
    if isinstance(event, StepStarted | StepDone | StepFailed):
        message |= {"index": event.index, "step": event.step.describe(), "kind": step_kind(event.step)}
        return message | ({"error": event.error} if isinstance(event, StepFailed) else {})
    if isinstance(event, WeightsSet):
        return message | {"route": event.route, "weights": [{"release": n, "weight": w} for n, w in event.weights]}
    if isinstance(event, Finished):
        return message | {"ok": event.ok, "aborted": event.aborted, "summary": event.state.describe()}
    if is_dataclass(event) and not isinstance(event, type):
        return message | {k: v for k, v in asdict(event).items() if isinstance(v, str | int | float | bool | None)}
    return message


def _release_json(release: Release) -> JsonDict:
    values = release.values
    return {"release": release.name, "version": values.version, "color": values.color,
            "replicas": values.replica_count, "strategy": values.strategy}  # fmt: skip


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"-\1", name).lower()
