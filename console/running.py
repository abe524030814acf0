"""The PlanRunner: one plan at a time, in its own thread, with promote and abort.

The web console builds a plan (``console.strategies.build_plan``) from ``runner.state``,
calls ``start(plan)`` and shows the events that ``on_event`` receives; its buttons call
``promote()`` and ``abort()``. Events, in order, for one run::

    PlanStarted(plan)                         the plan (or, on abort, the abort plan)
    StepStarted(i, step) Log(line)* StepDone(i, step)      each step
    WeightsSet(route, weights)                after a SetWeights or EnsureRoute step is done
    Paused(i, seconds) … Resumed(i, promoted) around a Pause step
    StepFailed(i, step, error)                a step failed: the run stops there
    Aborted(i)                                abort requested during step i; then
    PlanStarted(abort plan) …                 the abort plan's own steps
    Finished(ok, aborted, state)              always last

Abort. ``abort()`` sets a flag and wakes a pause or a wait; the step in progress ends
(a helm command is never cut short, see ``console.executors``), its effect is recorded,
and the abort plan (``build_abort``: traffic back to the old release *before* any of its
pods goes away, then the new release removed) runs from the state reached. After a
*failed* run ``abort()`` is allowed too: it undoes what the failed run did. After a
successful run there is nothing to abort.

State. ``state`` is the ``AppState`` after every step that took effect. A failed step
is assumed to have taken effect (a ``helm install --wait`` that times out leaves the
release installed), so the abort plan undoes it too.

Listeners: ``on_event`` is called in the runner's thread; an exception in it is logged
and counted (``listener_errors``), never allowed to stop a run.

Errors: ``RunnerBusy`` (start while a plan runs), ``StalePlan`` (a plan built for
another state than ``runner.state``), ``NothingToAbort`` — all ``RunnerError``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import assert_never

from console.executors import Executor, ExecutorError
from console.plans import (
    AppState,
    Delete,
    DeletePod,
    EnsureRoute,
    Install,
    Pause,
    Plan,
    PlanError,
    Scale,
    SetWeights,
    Step,
    Upgrade,
    WaitReady,
    Weights,
)
from console.strategies import build_abort

log = logging.getLogger(__name__)


class RunnerError(Exception):
    """A request the runner cannot accept now."""


class RunnerBusy(RunnerError):
    pass


class StalePlan(RunnerError):
    pass


class NothingToAbort(RunnerError):
    pass


@dataclass(frozen=True)
class PlanStarted:
    plan: Plan


@dataclass(frozen=True)
class StepStarted:
    index: int
    step: Step


@dataclass(frozen=True)
class StepDone:
    index: int
    step: Step


@dataclass(frozen=True)
class StepFailed:
    index: int
    step: Step
    error: str


@dataclass(frozen=True)
class Paused:
    index: int
    seconds: float | None  # None: until promoted


@dataclass(frozen=True)
class Resumed:
    index: int
    promoted: bool  # False: the time was up (or an abort woke it)


@dataclass(frozen=True)
class Log:
    line: str


@dataclass(frozen=True)
class WeightsSet:
    route: str
    weights: Weights


@dataclass(frozen=True)
class Aborted:
    index: int  # the step in progress (or the failed one) when abort was asked


@dataclass(frozen=True)
class Finished:
    ok: bool
    aborted: bool
    state: AppState


RunEvent = PlanStarted | StepStarted | StepDone | StepFailed | Paused | Resumed | Log | WeightsSet | Aborted | Finished


class _Outcome:
    DONE, FAILED, ABORTED = "done", "failed", "aborted"


class PlanRunner:
    def __init__(
        self, executor: Executor, *, on_event: Callable[[RunEvent], None], state: AppState | None = None
    ) -> None:
        self.executor = executor
        self.listener_errors = 0
        self._on_event = on_event
        self._state = state or AppState()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._abort = threading.Event()
        self._wake = threading.Event()
        self._paused = False
        self._plan: Plan | None = None
        self._failed: tuple[Plan, int] | None = None  # a failed run abort() may still undo

    # --- Public ----------------------------------------------------------------------

    @property
    def state(self) -> AppState:
        with self._lock:
            return self._state

    @property
    def busy(self) -> bool:
        with self._lock:
            return self._thread is not None

    @property
    def paused(self) -> bool:
        with self._lock:
            return self._paused

    @property
    def abortable(self) -> bool:
        """Whether ``abort()`` would do something now: a run that is not aborting, or a failed one to undo."""
        with self._lock:
            if self._thread is not None:
                return self._plan is None or not self._plan.aborting
            return self._failed is not None

    @property
    def plan(self) -> Plan | None:
        """The plan running now (the abort plan while aborting), or None."""
        with self._lock:
            return self._plan

    def start(self, plan: Plan) -> None:
        with self._lock:
            if self._thread is not None:
                raise RunnerBusy(f"a {self._plan.strategy if self._plan else ''} plan is running; wait or abort it")
            if plan.start != self._state:
                raise StalePlan("the plan was built for another state; build it again from runner.state")
            self._failed = None
            self._launch(lambda: self._run_main(plan))

    def promote(self) -> bool:
        """End the current pause now; False when nothing is paused."""
        with self._lock:
            if not self._paused:
                return False
            self._wake.set()
            return True

    def abort(self) -> None:
        """Abort the running plan, or undo a failed one; NothingToAbort otherwise."""
        with self._lock:
            if self._thread is not None:
                if self._plan is not None and self._plan.aborting:
                    raise NothingToAbort("already aborting")
                self._abort.set()
                self._wake.set()
                return
            if self._failed is None:
                raise NothingToAbort("no plan is running and the last one did not fail")
            plan, index = self._failed
            self._failed = None
            self._launch(lambda: self._run_abort(plan, index))

    def wait(self, timeout: float | None = None) -> bool:
        """Block until no plan runs; False on timeout (for tests and the CLI)."""
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    # --- The thread ------------------------------------------------------------------

    def _launch(self, target: Callable[[], None]) -> None:
        self._abort.clear()
        self._wake.clear()
        self._thread = threading.Thread(target=self._guarded(target), name="plan-runner", daemon=True)
        self._thread.start()

    def _guarded(self, target: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                target()
            except Exception as e:  # a bug, not a step failure: report it, never hang busy
                log.exception("the plan runner failed")
                self._emit(Log(f"internal error: {e!r}"))
                self._emit(Finished(ok=False, aborted=False, state=self.state))
            finally:
                with self._lock:
                    self._thread, self._plan, self._paused = None, None, False

        return run

    def _run_main(self, plan: Plan) -> None:
        outcome, index = self._run_plan(plan)
        if outcome == _Outcome.ABORTED:
            self._run_abort(plan, index)
            return
        if outcome == _Outcome.FAILED:
            with self._lock:
                self._failed = (plan, index)
        self._emit(Finished(ok=outcome == _Outcome.DONE, aborted=False, state=self.state))

    def _run_abort(self, plan: Plan, index: int) -> None:
        self._emit(Aborted(index))
        undo = build_abort(plan, self.state)
        self._abort.clear()
        self._wake.clear()
        outcome, _ = self._run_plan(undo)
        self._emit(Finished(ok=outcome == _Outcome.DONE, aborted=True, state=self.state))

    def _run_plan(self, plan: Plan) -> tuple[str, int]:
        with self._lock:
            self._plan = plan
        self._emit(PlanStarted(plan))
        for index, step in enumerate(plan.steps):
            if not self._run_step(index, step):
                return _Outcome.FAILED, index
            if self._abort.is_set() and not plan.aborting:
                return _Outcome.ABORTED, index
        return _Outcome.DONE, len(plan.steps)

    def _run_step(self, index: int, step: Step) -> bool:
        self._emit(StepStarted(index, step))
        try:
            match step:
                case Pause():
                    self._pause(index, step)
                case (Install() | Upgrade() | Scale() | SetWeights() | EnsureRoute() | WaitReady() | Delete()
                      | DeletePod()):
                    self.executor.execute(step, log=self._log, cancel=self._abort)
                case _:
                    assert_never(step)
        except ExecutorError as e:
            self._record(step, failed=True)
            self._emit(StepFailed(index, step, str(e)))
            return False
        self._record(step)
        self._emit(StepDone(index, step))
        match step:
            case SetWeights() | EnsureRoute():
                self._emit(WeightsSet(step.route, step.weights))
            case Install() | Upgrade() | Scale() | WaitReady() | Pause() | Delete() | DeletePod():
                pass
            case _:
                assert_never(step)
        return True

    def _pause(self, index: int, step: Pause) -> None:
        with self._lock:
            self._paused = True
        self._emit(Paused(index, step.seconds))
        try:
            self.executor.pause(step.seconds, wake=self._wake, log=self._log)
        finally:
            with self._lock:
                self._paused = False
                promoted = self._wake.is_set() and not self._abort.is_set()
                self._wake.clear()
        self._emit(Resumed(index, promoted))

    def _record(self, step: Step, *, failed: bool = False) -> None:
        with self._lock:
            try:
                self._state = self._state.after(step)
            except PlanError:
                if not failed:  # a done step that does not fit the state is a builder bug
                    raise
                # A failed step that could not have taken effect (installing a release
                # that exists): the state stays as it was.

    def _log(self, line: str) -> None:
        self._emit(Log(line))

    def _emit(self, event: RunEvent) -> None:
        try:
            self._on_event(event)
        except Exception:  # a broken listener must not stop a rollout half-way
            self.listener_errors += 1
            log.exception("on_event failed (%d so far)", self.listener_errors)
