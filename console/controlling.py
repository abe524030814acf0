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
- Kill a pod: one ``DeletePod`` step handed straight to the executor, beside whatever
  plan runs (a pod killed mid-rollout is the point of the button); it changes no
  release, so the runner's state is not involved. Its lines go to the step log.

A double click is not an error: a request identical to the one started less than
:data:`DUPLICATE_SECONDS` ago answers with that plan (``already_running``), whether it
still runs or has finished in the meantime.

``describe()`` is the controls' state for the page: which release is live, each release
with its route weight, and ``blocked``: every action that cannot act now, with the reason
(a plan runs; nothing deployed; two releases; nothing paused; nothing to abort), so the
page disables exactly those buttons and says why.

Errors, for the HTTP layer: :class:`ControlError` (a ``ValueError``: bad input, or a
strategy that cannot start from the state — 400), :class:`Busy` (a plan runs, or
there is nothing to promote or abort — 409) and :class:`ActionFailed` (the executor
could not delete the pod — 502). Nothing changes when either of the first two is raised.

:func:`run_message` turns a runner event into the message the browser reads
(``console.messages``: ``{"type": "run", "event": "step-started", ...}``) plus the
controls' state (busy, paused, releases, weights), so the page enables Promote and Abort
from the stream alone.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Literal, Protocol, assert_never, get_args

from console.executors import Executor, ExecutorError
from console.messages import (
    AbortedMessage,
    AbortingReply,
    Action,
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
from console.plans import (
    CHART_DEFAULTS,
    MAX_REPLICAS,
    AppState,
    DeletePod,
    Plan,
    PlanError,
    Release,
    StrategyName,
    Target,
    Weights,
    step_kind,
)
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
from console.strategies import blocked, build_plan

log = logging.getLogger(__name__)

BUTTONS: tuple[StrategyName, ...] = ("install", "recreate", "rolling", "blue-green", "canary")
Rollout = Literal["recreate", "rolling", "blue-green", "canary"]  # a strategy and an action alike
ROLLOUTS: tuple[Rollout, ...] = get_args(Rollout)
DEFAULT_CANARY_WEIGHT = 10
FINISH_GRACE_SECONDS = 2.0
DUPLICATE_SECONDS = 2.0
RUNNING = "a plan is running: wait for it, or abort it"


class ControlError(ValueError):
    """Bad input, or a strategy that cannot start from the current state (HTTP 400)."""


class Busy(Exception):
    """A plan runs, or there is nothing to promote or abort (HTTP 409)."""


class ActionFailed(Exception):
    """The executor could not carry out a control's request (HTTP 502)."""


class Controls(Protocol):
    """What the app needs behind its buttons."""

    def on_event(self, listener: Callable[[RunMessage], None]) -> None: ...

    def scale(self, replicas: int) -> StartedReply: ...

    def strategy(self, name: str, *, version: str, color: str, canary_weight: int | None = None) -> StartedReply: ...

    def promote(self) -> PromotedReply: ...

    def abort(self) -> AbortingReply: ...

    def kill(self, pod: str, *, namespace: str | None) -> None: ...

    def weights(self) -> tuple[WeightRow, ...]: ...

    @property
    def state(self) -> AppState: ...

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
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.canary_weight = canary_weight
        self.pause_s = pause_s
        self.runner = PlanRunner(executor, on_event=self._dispatch, state=state)
        self._listeners: list[Callable[[RunMessage], None]] = []
        self._finishing = threading.Event()  # Finished is out, the runner thread is ending
        self._undoable = False  # what abort() can do while finishing: undo a failed run
        self._clock = clock
        self._last: tuple[tuple[str, Target], float, StartedReply] | None = None  # for double clicks
        self._lock = threading.Lock()  # one start at a time: a double click's two requests race

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

    def kill(self, pod: str, *, namespace: str | None) -> None:
        """Delete one pod gracefully, now, whether or not a plan runs; ActionFailed if it cannot."""
        try:
            step = DeletePod(pod, namespace)
        except PlanError as e:
            raise ControlError(str(e)) from e
        self._say(LogMessage(line=f"kill a pod: {step.describe()}"))
        try:
            self.runner.executor.execute(step, log=lambda line: self._say(LogMessage(line=line)),
                                         cancel=threading.Event())  # fmt: skip
        except ExecutorError as e:
            self._say(LogMessage(line=f"kill a pod failed: {e}"))
            raise ActionFailed(f"{step.describe()}: {e}") from e

    # -- state for the page ------------------------------------------------------------

    def weights(self) -> tuple[WeightRow, ...]:
        """The route's weights with each release's version and colour (None once it is gone)."""
        return weight_rows(self.runner.state, self.runner.state.weights)

    @property
    def state(self) -> AppState:
        return self.runner.state

    def describe(self) -> ControlsState:
        state = self.runner.state
        finishing = self._finishing.is_set()
        busy = self.runner.busy and not finishing
        paused = self.runner.paused
        abortable = self._undoable if finishing else self.runner.abortable
        live = state.live
        return ControlsState(busy=busy, paused=paused, releases=tuple(_release_row(r, state) for r in state.releases),
                             weights=self.weights(), summary=state.describe(), live=live.name if live else None,
                             blocked=_blocked(state, busy=busy, paused=paused, abortable=abortable),
                             max_replicas=MAX_REPLICAS)  # fmt: skip

    # -- helpers -----------------------------------------------------------------------

    def _target(self, version: str, color: str, replicas: int) -> Target:
        try:
            return Target(version, color, replicas)
        except PlanError as e:
            raise ControlError(str(e)) from e

    def _start(self, name: StrategyName, target: Target, *, canary_weight: int = DEFAULT_CANARY_WEIGHT) -> StartedReply:
        with self._lock:
            request = ("scale" if name == "install" else name, target)
            last = self._last
            if last is not None and last[0] == request and self._clock() - last[1] < DUPLICATE_SECONDS:
                return last[2].model_copy(update={"already_running": True})
            reply = self._start_plan(name, target, canary_weight=canary_weight)
            self._last = (request, self._clock(), reply)
            return reply

    def _start_plan(self, name: StrategyName, target: Target, *, canary_weight: int) -> StartedReply:
        if self._finishing.is_set():  # the last run just said Finished: let its thread end
            self.runner.wait(FINISH_GRACE_SECONDS)
        if self.runner.busy:  # before building: a half-done plan's state is not a starting point
            raise Busy(RUNNING)
        plan: Plan
        try:
            plan = build_plan(name, self.runner.state, target, pause_s=self.pause_s, canary_weight=canary_weight)
            self.runner.start(plan)
        except PlanError as e:
            raise ControlError(str(e)) from e
        except (RunnerBusy, StalePlan) as e:
            raise Busy(str(e)) from e
        return StartedReply(strategy=plan.strategy, steps=tuple(plan.describe()))

    def _dispatch(self, event: RunEvent) -> None:
        if isinstance(event, PlanStarted | Aborted):
            self._finishing.clear()
        elif isinstance(event, Finished):
            self._undoable = not event.ok and not event.aborted
            self._finishing.set()
        self._say(run_message(event, self.runner.state))

    def _say(self, message: RunMessage) -> None:
        message = message.model_copy(update={"controls": self.describe()})
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


def _release_row(release: Release, state: AppState) -> ReleaseRow:
    values = release.values
    weight = dict(state.weights).get(release.name)
    return ReleaseRow(release=release.name, version=values.version, color=values.color,
                      replicas=values.replica_count, strategy=values.strategy, weight=weight)


def _blocked(state: AppState, *, busy: bool, paused: bool, abortable: bool) -> dict[Action, str]:
    """Every action that cannot act now, with the reason the page shows on its button."""
    reasons: dict[Action, str | None] = {"scale": RUNNING} if busy else {
        "scale": blocked("scale" if state.releases else "install", state),
        **{name: blocked(name, state) for name in ROLLOUTS},
    }  # fmt: skip
    if busy:
        reasons |= dict.fromkeys(ROLLOUTS, RUNNING)
    if not paused:
        reasons["promote"] = "nothing is paused: promote continues a paused canary"
    if not abortable:
        reasons["abort"] = "nothing to abort: no plan is running and the last one did not fail"
    return {action: reason for action, reason in reasons.items() if reason is not None}
