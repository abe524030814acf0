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

:func:`run_message` turns a runner event into the message the browser reads
(``console.messages``: ``{"type": "run", "event": "step-started", ...}``) plus the
controls' state (busy, paused, releases, weights), so the page enables Promote and Abort
from the stream alone.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol, assert_never

from console.executors import Executor
from console.messages import (
    AbortedMessage,
    AbortingReply,
    ControlsState,
    FinishedMessage,
    LogMessage,
    PausedMessage,
    PlanStartedMessage,
    PromotedReply,
    ReleaseRow,
    ResumedMessage,
    RunMessage,
    StartedReply,
    StepMessage,
    WeightRow,
    WeightsMessage,
)
from console.plans import CHART_DEFAULTS, AppState, PlanError, Release, StrategyName, Target, Weights, step_kind
from console.running import (
    Aborted,
    Finished,
    Log,
    NothingToAbort,
    Paused,
    PlanRunner,
    PlanStarted,
    Resumed,
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

BUTTONS: tuple[StrategyName, ...] = ("install", "recreate", "rolling", "blue-green", "canary")
DEFAULT_CANARY_WEIGHT = 10
FINISH_GRACE_SECONDS = 2.0


class ControlError(ValueError):
    """Bad input, or a strategy that cannot start from the current state (HTTP 400)."""


class Busy(Exception):
    """A plan runs, or there is nothing to promote or abort (HTTP 409)."""


class Controls(Protocol):
    """What the app needs behind its buttons."""

    def on_event(self, listener: Callable[[RunMessage], None]) -> None: ...

    def scale(self, replicas: int) -> StartedReply: ...

    def strategy(self, name: str, *, version: str, color: str, canary_weight: int | None = None) -> StartedReply: ...

    def promote(self) -> PromotedReply: ...

    def abort(self) -> AbortingReply: ...

    def weights(self) -> tuple[WeightRow, ...]: ...

    def describe(self) -> ControlsState: ...


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
        self._listeners: list[Callable[[RunMessage], None]] = []
        self._finishing = threading.Event()  # Finished is out, the runner thread is ending

    def on_event(self, listener: Callable[[RunMessage], None]) -> None:
        self._listeners.append(listener)

    # -- buttons ---------------------------------------------------------------------

    def scale(self, replicas: int) -> StartedReply:
        live = self.runner.state.live
        if live is None:
            target = self._target(CHART_DEFAULTS.version or "", CHART_DEFAULTS.color or "", replicas)
            return self._start("install", target)
        return self._start("scale", self._target(live.values.version or "", live.values.color or "", replicas))

    def strategy(self, name: str, *, version: str, color: str, canary_weight: int | None = None) -> StartedReply:
        if name not in BUTTONS:
            raise ControlError(f"strategy {name!r}: one of {', '.join(BUTTONS)}")
        live = self.runner.state.live
        replicas = live.values.replica_count if live is not None else CHART_DEFAULTS.replica_count
        weight = self.canary_weight if canary_weight is None else canary_weight
        return self._start(name, self._target(version, color, replicas or 0), canary_weight=weight)

    def promote(self) -> PromotedReply:
        if not self.runner.promote():
            raise Busy("nothing is paused: promote continues a paused canary")
        return PromotedReply()

    def abort(self) -> AbortingReply:
        try:
            self.runner.abort()
        except NothingToAbort as e:
            raise Busy(f"nothing to abort: {e}") from e
        return AbortingReply()

    # -- state for the page ------------------------------------------------------------

    def weights(self) -> tuple[WeightRow, ...]:
        """The route's weights with each release's version and colour (None once it is gone)."""
        return weight_rows(self.runner.state, self.runner.state.weights)

    def describe(self) -> ControlsState:
        state = self.runner.state
        busy = self.runner.busy and not self._finishing.is_set()
        return ControlsState(busy=busy, paused=self.runner.paused, releases=tuple(map(_release_row, state.releases)),
                             weights=self.weights(), summary=state.describe())

    # -- helpers -----------------------------------------------------------------------

    def _target(self, version: str, color: str, replicas: int) -> Target:
        try:
            return Target(version, color, replicas)
        except PlanError as e:
            raise ControlError(str(e)) from e

    def _start(self, name: StrategyName, target: Target, *, canary_weight: int = DEFAULT_CANARY_WEIGHT) -> StartedReply:
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
        return StartedReply(strategy=plan.strategy, steps=tuple(plan.describe()))

    def _dispatch(self, event: RunEvent) -> None:
        if isinstance(event, PlanStarted):
            self._finishing.clear()
        elif isinstance(event, Finished):
            self._finishing.set()
        message = run_message(event, self.runner.state).model_copy(update={"controls": self.describe()})
        for listener in self._listeners:
            listener(message)


def run_message(event: RunEvent, state: AppState) -> RunMessage:
    """A runner event as the browser reads it (``state``: the releases the weights refer to)."""
    match event:
        case PlanStarted(plan):
            return PlanStartedMessage(strategy=plan.strategy, aborting=plan.aborting, steps=tuple(plan.describe()))
        case StepStarted(index, step):
            return StepMessage(event="step-started", index=index, step=step.describe(), kind=step_kind(step))
        case StepDone(index, step):
            return StepMessage(event="step-done", index=index, step=step.describe(), kind=step_kind(step))
        case StepFailed(index, step, error):
            return StepMessage(event="step-failed", index=index, step=step.describe(), kind=step_kind(step),
                               error=error)
        case WeightsSet(route, weights):
            return WeightsMessage(route=route, weights=weight_rows(state, weights))
        case Paused(index, seconds):
            return PausedMessage(index=index, seconds=seconds)
        case Resumed(index, promoted):
            return ResumedMessage(index=index, promoted=promoted)
        case Log(line):
            return LogMessage(line=line)
        case Aborted(index):
            return AbortedMessage(index=index)
        case Finished(ok, aborted, finished_state):
            return FinishedMessage(ok=ok, aborted=aborted, summary=finished_state.describe())
        case _:
            assert_never(event)


def weight_rows(state: AppState, weights: Weights) -> tuple[WeightRow, ...]:
    rows = []
    for name, weight in weights:
        release = state.release(name)
        values = release.values if release is not None else None
        rows.append(WeightRow(release=name, weight=weight, version=values and values.version,
                              color=values and values.color))
    return tuple(rows)


def _release_row(release: Release) -> ReleaseRow:
    values = release.values
    return ReleaseRow(release=release.name, version=values.version, color=values.color,
                      replicas=values.replica_count, strategy=values.strategy)
