"""The PlanRunner: event order, one plan at a time, promote, abort, failures, listeners."""

from __future__ import annotations

import threading

import pytest

from console.executors import LogLine
from console.plans import (
    AppState,
    Delete,
    EnsureRoute,
    Install,
    Plan,
    Release,
    Scale,
    SetWeights,
    Step,
    Target,
    Upgrade,
    Values,
    WaitReady,
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
    StepFailed,
    StepStarted,
    WeightsSet,
)
from console.strategies import build_plan
from tests.console.runs import V2, WAIT_S, ScriptedExecutor, make_runner

V1 = Values("ffff00", "1.0.0", "rolling", 3)
START = AppState((Release("whoami", V1),), (("whoami", 100),))


def names(events: list[RunEvent]) -> list[str]:
    return [type(e).__name__ for e in events if not isinstance(e, Log)]


def test_a_run_reports_every_step_and_ends_with_the_new_state() -> None:
    executor = ScriptedExecutor()
    runner, recorder = make_runner(executor, START)
    plan = build_plan("blue-green", START, V2)
    runner.start(plan)
    assert runner.wait(WAIT_S)
    assert executor.steps == list(plan.steps)
    assert names(recorder.events) == [
        "PlanStarted",
        *["StepStarted", "StepDone"] * 2,
        *["StepStarted", "StepDone", "WeightsSet"],
        *["StepStarted", "StepDone"],
        *["StepStarted", "StepDone", "WeightsSet"],
        "Finished",
    ]
    assert recorder.of(StepStarted)[2] == StepStarted(2, plan.steps[2])
    assert Log(f"did {plan.steps[0].describe()}") in recorder.events
    assert recorder.of(WeightsSet)[-1] == WeightsSet("whoami", (("whoamiv2", 100),))
    assert recorder.finished() == Finished(ok=True, aborted=False, state=plan.end_state())
    assert runner.state == plan.end_state() and not runner.busy


def test_one_plan_at_a_time_and_only_for_the_current_state() -> None:
    runner, recorder = make_runner(ScriptedExecutor(), START)
    plan = build_plan("canary", START, V2)  # pauses until promoted
    paused = threading.Event()
    recorder.reactions.append(lambda e, _: paused.set() if isinstance(e, Paused) else None)
    runner.start(plan)
    assert paused.wait(WAIT_S) and runner.busy and runner.paused and runner.plan == plan
    with pytest.raises(RunnerBusy, match="a canary plan is running"):
        runner.start(plan)
    assert runner.promote()
    assert runner.wait(WAIT_S)
    assert not runner.promote()  # nothing paused any more
    with pytest.raises(StalePlan, match="another state"):
        runner.start(plan)
    assert [e for e in recorder.events if isinstance(e, Paused | Resumed)] == [
        Paused(3, None),
        Resumed(3, promoted=True),
    ]
    assert recorder.finished().ok


def test_a_timed_pause_ends_by_itself() -> None:
    executor = ScriptedExecutor()
    runner, recorder = make_runner(executor, START)
    runner.start(build_plan("canary", START, V2, pause_s=0.01))
    assert runner.wait(WAIT_S)
    assert executor.pauses == [0.01]
    assert Resumed(3, promoted=False) in recorder.events and recorder.finished().ok


def test_abort_while_paused_runs_the_abort_plan_from_the_state_reached() -> None:
    executor = ScriptedExecutor()
    runner, recorder = make_runner(executor, START)
    recorder.reactions.append(lambda e, r: r.abort() if isinstance(e, Paused) else None)
    plan = build_plan("canary", START, V2)
    runner.start(plan)
    assert runner.wait(WAIT_S)
    started = recorder.of(PlanStarted)
    assert len(started) == 2
    undo = started[1].plan
    assert undo.aborting and undo.steps == (SetWeights("whoami", (("whoami", 100),)), Delete("whoamiv2"))
    assert executor.steps == [*plan.steps[:3], *undo.steps]
    assert Aborted(3) in recorder.events
    assert recorder.finished() == Finished(ok=True, aborted=True, state=START)
    assert runner.state == START
    with pytest.raises(NothingToAbort, match="did not fail"):
        runner.abort()


def test_abort_cannot_be_aborted() -> None:
    runner, recorder = make_runner(ScriptedExecutor(), START)
    refusals: list[str] = []

    def abort_twice(event: RunEvent, r: PlanRunner) -> None:
        if isinstance(event, Paused):
            r.abort()
        if isinstance(event, PlanStarted) and event.plan.aborting:
            with pytest.raises(NothingToAbort, match="already aborting") as e:
                r.abort()
            refusals.append(str(e.value))

    recorder.reactions.append(abort_twice)
    runner.start(build_plan("canary", START, V2))
    assert runner.wait(WAIT_S)
    assert refusals == ["already aborting"]
    assert recorder.finished().aborted


def test_a_failed_step_stops_the_run_and_abort_then_undoes_it() -> None:
    executor = ScriptedExecutor(fail=(Delete,))
    runner, recorder = make_runner(executor, START)
    plan = build_plan("blue-green", START, V2)
    runner.start(plan)
    assert runner.wait(WAIT_S)
    failed = recorder.of(StepFailed)
    assert failed == [StepFailed(3, Delete("whoami"), "`helm something` exited with 1: Error: it broke")]
    assert recorder.finished().ok is False and not recorder.finished().aborted
    assert [type(s) for s in executor.steps] == [Install, WaitReady, SetWeights, Delete]
    assert runner.abortable  # a failed run can be undone
    # the failed delete is assumed to have happened: abort reinstalls the old release first
    executor.fail = ()
    runner.abort()
    assert runner.wait(WAIT_S)
    assert not runner.abortable
    assert executor.steps[4:] == [
        Install("whoami", V1),
        WaitReady("whoami"),
        SetWeights("whoami", (("whoami", 100),)),
        Delete("whoamiv2"),
    ]
    assert recorder.finished() == Finished(ok=True, aborted=True, state=START)


def test_a_failed_step_that_cannot_have_happened_leaves_the_state() -> None:
    executor = ScriptedExecutor(fail=(Install,))
    both = AppState((Release("whoami", V1), Release("whoamiv2", V1)), (("whoami", 100),))
    runner, recorder = make_runner(executor, both)
    runner.start(Plan("blue-green", (Install("whoamiv2", V1),), both))
    assert runner.wait(WAIT_S)
    assert recorder.of(StepFailed) and runner.state == both


def test_nothing_to_abort_before_any_run() -> None:
    runner, _ = make_runner(ScriptedExecutor(), START)
    assert not runner.abortable
    with pytest.raises(NothingToAbort):
        runner.abort()


def test_abortable_says_what_abort_would_do() -> None:
    runner, recorder = make_runner(ScriptedExecutor(), START)
    seen: list[bool] = []
    recorder.reactions.append(lambda event, r: seen.append(r.abortable) if isinstance(event, Paused) else None)
    recorder.reactions.append(abort_when_paused)
    runner.start(build_plan("canary", START, V2))
    assert runner.wait(WAIT_S)
    assert seen == [True]  # while the canary is paused: yes
    assert recorder.finished().aborted
    assert not runner.abortable  # after the abort plan: nothing left to undo
    assert runner.listener_errors == 0  # the reactions' own asserts held


def abort_when_paused(event: RunEvent, runner: PlanRunner) -> None:
    if isinstance(event, PlanStarted) and event.plan.aborting:
        assert not runner.abortable  # the abort plan itself cannot be aborted
    if isinstance(event, Paused):
        runner.abort()


def test_a_broken_listener_is_counted_and_never_stops_a_run() -> None:
    executor = ScriptedExecutor()

    def broken(event: RunEvent) -> None:
        raise RuntimeError("listener bug")

    runner = PlanRunner(executor, on_event=broken, state=START)
    plan = build_plan("scale", START, Target("1.0.0", "ffff00", 5))
    runner.start(plan)
    assert runner.wait(WAIT_S)
    assert executor.steps == [Scale("whoami", 5), WaitReady("whoami")]
    assert runner.state == plan.end_state()
    assert runner.listener_errors == 2 + 3 * len(plan.steps)  # PlanStarted, Finished; per step: started, log, done


def test_a_bug_in_an_executor_ends_the_run_with_an_error_instead_of_hanging() -> None:
    class Buggy(ScriptedExecutor):
        def execute(self, step: Step, *, log: LogLine, cancel: threading.Event) -> None:
            raise KeyError("oops")

    runner, recorder = make_runner(Buggy(), START)
    runner.start(build_plan("rolling", START, V2))
    assert runner.wait(WAIT_S)
    assert not runner.busy
    assert Log("internal error: KeyError('oops')") in recorder.events
    assert recorder.finished().ok is False
    assert runner.state == START
    upgrade = Upgrade("whoami", Values(color="a81399", version="2.2.0"))
    assert build_plan("rolling", runner.state, V2).steps[0] == upgrade


def test_an_install_ensures_the_route_and_reports_its_weights_like_any_weights_step() -> None:
    runner, recorder = make_runner(ScriptedExecutor())
    runner.start(build_plan("install", AppState(), Target("1.0.0", "ffff00", 3)))
    assert runner.wait(WAIT_S) and recorder.finished().ok
    (started,) = [e for e in recorder.of(StepStarted) if e.index == 2]
    assert started.step == EnsureRoute("whoami", (("whoami", 100),))
    assert started.step.describe() == "route whoami: traffic whoami 100 (creating the route if it is missing)"
    assert recorder.of(WeightsSet) == [WeightsSet("whoami", (("whoami", 100),))]
