"""The plan's progress as the terminal shows it, folded from the console's run messages."""

from __future__ import annotations

from console.messages import (
    AbortedMessage,
    FinishedMessage,
    LogMessage,
    PausedMessage,
    PlanStartedMessage,
    ResumedMessage,
    RunMessage,
    StepMessage,
    WeightRow,
    WeightsMessage,
)
from demo.progress import advance, traffic
from led_agent.backends.terminal_layout import Phase, Progress

STEPS = ("1. upgrade release whoami-canary", "2. route whoami: 90/10", "3. pause until promoted", "4. scale")
SPLIT = (WeightRow(release="whoami", weight=90, version="1.0.0"),
         WeightRow(release="whoami-canary", weight=10, version="2.2.0"))


def fold(*messages: RunMessage) -> Progress | None:
    progress = None
    for message in messages:
        progress = advance(progress, message)
    return progress


def step(event: str, index: int, text: str, error: str | None = None) -> StepMessage:
    return StepMessage(event=event, index=index, step=text, kind="cluster", error=error)


START = PlanStartedMessage(strategy="canary", aborting=False, steps=STEPS)


def test_nothing_before_a_plan_starts() -> None:
    assert fold(step("step-started", 0, "scale"), LogMessage(line="hello")) is None


def test_a_plan_counts_its_steps() -> None:
    assert fold(START) == Progress("canary", done=0, total=4)
    assert fold(START, step("step-started", 0, "upgrade")) == Progress("canary", 0, 4, "upgrade", at=1)
    assert fold(START, step("step-started", 0, "upgrade"), step("step-done", 0, "upgrade")) == Progress(
        "canary", 1, 4, "upgrade", at=1)


def test_a_canary_pauses_with_its_traffic_and_resumes_promoted() -> None:
    paused = fold(START, step("step-started", 1, "route"), step("step-done", 1, "route"),
                  WeightsMessage(route="whoami", weights=SPLIT), step("step-started", 2, "pause"),
                  PausedMessage(index=2, seconds=None))
    assert paused == Progress("canary", 2, 4, "pause", at=3, phase=Phase.PAUSED, note="until promoted",
                              traffic="traffic 90% 1.0.0, 10% 2.2.0")
    resumed = advance(paused, ResumedMessage(index=2, promoted=True))
    assert resumed is not None and (resumed.phase, resumed.note) == (Phase.RUNNING, "promoted")
    assert advance(paused, PausedMessage(index=2, seconds=8.0)).note == "for 8 s"  # type: ignore[union-attr]


def test_the_end_of_a_plan_stays_until_the_next_one() -> None:
    done = fold(START, step("step-started", 3, "scale"), FinishedMessage(ok=True, aborted=False, summary="v2"))
    assert done == Progress("canary", 4, 4, "scale", at=4, phase=Phase.DONE, note="v2")
    assert advance(done, START) == Progress("canary", 0, 4)


def test_a_failed_step_says_why() -> None:
    failed = fold(START, step("step-started", 1, "route"), step("step-failed", 1, "route", "no route"),
                  FinishedMessage(ok=False, aborted=False, summary="v1"))
    assert failed == Progress("canary", 1, 4, "route", at=2, phase=Phase.FAILED, note="no route")


def test_an_abort_says_so_and_how_it_ended() -> None:
    aborting = fold(START, step("step-started", 2, "pause"), AbortedMessage(index=2))
    assert aborting is not None and aborting.phase is Phase.ABORTING
    undo = fold(START, AbortedMessage(index=2), PlanStartedMessage(strategy="canary", aborting=True, steps=STEPS[:2]),
                FinishedMessage(ok=True, aborted=True, summary="back to v1"))
    assert undo == Progress("canary (abort)", 0, 2, phase=Phase.ABORTED, note="back to v1")


def test_traffic_shares_by_version_or_release() -> None:
    assert traffic(SPLIT) == "90% 1.0.0, 10% 2.2.0"
    assert traffic((WeightRow(release="old", weight=1), WeightRow(release="new", weight=3))) == "25% old, 75% new"
    assert traffic((WeightRow(release="x", weight=0),)) == "none"
