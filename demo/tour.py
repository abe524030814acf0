"""The demo's guided tour: every strategy once, on its own, in a few minutes.

scale 1 → 6, rolling (yellow → violet), canary back to yellow with a pause and a
promote, blue-green to violet, recreate to yellow, scale down to 2. Each step goes
through the console's controls, exactly as a click on its button would, and waits for
the plan to finish before the next; the canary is promoted after it has been paused
for a while, so the 90/10 split is visible on the wall and in the traffic row.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

POLL_SECONDS = 0.1
V1 = ("1.0.0", "ffff00")
V2 = ("2.2.0", "a81399")


class TourControls(Protocol):
    """The buttons the tour presses (``console.controlling.Controls``); their replies are not read."""

    def scale(self, replicas: int) -> object: ...

    def strategy(self, name: str, *, version: str, color: str, canary_weight: int | None = None) -> object: ...

    def promote(self) -> object: ...


class TourRunner(Protocol):
    @property
    def busy(self) -> bool: ...

    @property
    def paused(self) -> bool: ...



@dataclass(frozen=True)
class Stop:
    """One stop of the tour: a button and its arguments."""

    title: str
    action: str
    replicas: int = 0
    version: tuple[str, str] = V1

    def press(self, controls: TourControls) -> None:
        if self.action == "scale":
            controls.scale(self.replicas)
        else:
            controls.strategy(self.action, version=self.version[0], color=self.version[1])


TOUR: tuple[Stop, ...] = (
    Stop("install whoami 1.0.0 (yellow), 1 replica", "scale", replicas=1),
    Stop("scale to 6", "scale", replicas=6),
    Stop("rolling upgrade to 2.2.0 (violet)", "rolling", version=V2),
    Stop("canary 1.0.0 (yellow): 1 pod, 10% of the traffic, then promote", "canary", version=V1),
    Stop("blue-green to 2.2.0 (violet)", "blue-green", version=V2),
    Stop("recreate to 1.0.0 (yellow)", "recreate", version=V1),
    Stop("scale down to 2", "scale", replicas=2),
)


def run_tour(
    controls: TourControls,
    runner: TourRunner,
    *,
    say: Callable[[str], None],
    stop: threading.Event,
    canary_pause: float,
    settle: float,
    step_timeout: float = 600.0,
) -> bool:
    """Press every stop in turn; True if the whole tour ran, False if stopped early."""
    for number, tour_stop in enumerate(TOUR, start=1):
        if stop.is_set():
            return False
        say(f"tour {number}/{len(TOUR)}: {tour_stop.title}")
        tour_stop.press(controls)
        if not _follow(controls, runner, stop=stop, canary_pause=canary_pause, timeout=step_timeout):
            return False
        if stop.wait(settle):
            return False
    say("tour done")
    return True


def _follow(controls: TourControls, runner: TourRunner, *, stop: threading.Event, canary_pause: float,
            timeout: float) -> bool:
    """Wait for the plan to end, promoting a pause after ``canary_pause`` seconds."""
    waited = paused_for = 0.0
    while runner.busy:
        if stop.wait(POLL_SECONDS):
            return False
        waited += POLL_SECONDS
        paused_for = paused_for + POLL_SECONDS if runner.paused else 0.0
        if paused_for >= canary_pause:
            controls.promote()
            paused_for = 0.0
        if waited > timeout:
            raise TimeoutError(f"a tour step did not finish within {timeout:g} s")
    return True
