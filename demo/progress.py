"""The running plan as the terminal view shows it: the console's run messages in, a Progress out.

Pure: :func:`advance` folds one message (``console.messages``, what the browser reads
too, so the terminal and the console never tell two stories) into the last
:class:`~led_agent.backends.terminal_layout.Progress`. A plan's start sets the total
from its steps; a step started names the current step, a step done counts it; a pause
says how long (or "until promoted"); weights set say where the traffic goes, until the
plan ends; the end says the plan's outcome and keeps the bar until the next plan starts.
"""

from __future__ import annotations

from dataclasses import replace
from typing import assert_never

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
from led_agent.backends.terminal_layout import Phase, Progress


def advance(progress: Progress | None, message: RunMessage) -> Progress | None:
    """``progress`` after ``message`` (None before the first plan)."""
    if isinstance(message, PlanStartedMessage):
        plan = f"{message.strategy} (abort)" if message.aborting else message.strategy
        return Progress(plan=plan, done=0, total=len(message.steps))
    if progress is None:
        return None
    match message:
        case StepMessage():
            return stepped(progress, message)
        case PausedMessage(seconds=None):
            return replace(progress, phase=Phase.PAUSED, note="until promoted")
        case PausedMessage(seconds=seconds):
            return replace(progress, phase=Phase.PAUSED, note=f"for {seconds:g} s")
        case ResumedMessage():
            return replace(progress, phase=Phase.RUNNING, note="promoted" if message.promoted else "")
        case WeightsMessage():
            return replace(progress, traffic=f"traffic {traffic(message.weights)}")
        case AbortedMessage():
            return replace(progress, phase=Phase.ABORTING, note="")
        case FinishedMessage():
            return finished(progress, message)
        case LogMessage():
            return progress
        case PlanStartedMessage():
            raise AssertionError("handled above")
        case _:
            assert_never(message)


def stepped(progress: Progress, message: StepMessage) -> Progress:
    step = replace(progress, step=message.step, at=message.index + 1)
    if message.event == "step-started":
        return replace(step, done=message.index, phase=Phase.RUNNING, note="")
    if message.event == "step-done":
        return replace(step, done=message.index + 1)
    return replace(step, done=message.index, phase=Phase.FAILED, note=message.error or "")


def finished(progress: Progress, message: FinishedMessage) -> Progress:
    if message.aborted:
        return replace(progress, phase=Phase.ABORTED, note=message.summary, traffic="")
    if not message.ok:
        return replace(progress, phase=Phase.FAILED, note=progress.note or message.summary, traffic="")
    return replace(progress, phase=Phase.DONE, done=progress.total, note=message.summary, traffic="")


def traffic(weights: tuple[WeightRow, ...]) -> str:
    """``90% 1.0.0, 10% 2.2.0``: each release's share of the total weight, by version where known."""
    total = sum(row.weight for row in weights)
    if total <= 0:
        return "none"
    return ", ".join(f"{round(100 * row.weight / total)}% {row.version or row.release}" for row in weights)
