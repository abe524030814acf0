"""Frames from the ordered list: a pure function of (list, scene, time).

Pure: no threads, no devices; ``now`` is passed in, so every animation is tested with
an injected clock and no sleeping. A frame is a tuple of exactly ``leds`` colours
``"rrggbb"``; dark is ``"000000"``. Global brightness is *not* folded in: devices apply
it (a Blinkt! has a hardware brightness; a terminal shows faithful colours).

Seed semantics, kept:

- LED *i* shows pod *i*; a new pod lights at the end.
- Removal: the pod's LED flashes red (``ff0000``) :data:`FLASH_COUNT` times at its place
  while the others stay (:data:`FLASH_SECONDS` in all); then the pods after it move up
  one place and trailing LEDs go dark. The :class:`Scene` keeps such "ghosts" in their
  slot; a ghost whose flash is over is simply not shown, which closes the gap.
- More pods (and ghosts) than LEDs: the extra ones are not shown and the *last LED*
  alternates every :data:`OVERFLOW_PERIOD` / 2 seconds between its own pod and white
  ``ffffff`` — the count of lit LEDs stays honest, and "there is more" is visible. Pods
  beyond the list's cap (``hidden``, see ``bus.ordering``) count as more, too.

Pod states (``None`` — a minimal publisher — counts as ready):

- ``pending``: steady, dimmed to :data:`PENDING_LEVEL` (25 %) of its colour.
- ``ready``: the full colour.
- ``unready``: pulsing ("breathing") between 25 % and 100 % with a period of
  :data:`PULSE_PERIOD` seconds, quantised to :data:`PULSE_STEPS` levels so a device is
  written a few times per second, not at the full frame rate.
- ``terminating``: blinking on/off at :data:`BLINK_HZ` (2 Hz).

All time-based effects take their phase from the absolute clock, so all terminating pods
blink in step and a frame is reproducible from ``now`` alone.

Cost: a frame looks at the first ``leds`` slots only, and the scene keeps its live and
ghost counts, so a node with a thousand pods renders as fast as one with ten.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import islice

from bus.messages import PodEntry, PodState
from bus.ordering import Changes

Frame = tuple[str, ...]

DARK = "000000"
RED = "ff0000"
WHITE = "ffffff"

FLASH_COUNT = 3
FLASH_HALF_PERIOD = 0.15
FLASH_SECONDS = FLASH_COUNT * 2 * FLASH_HALF_PERIOD  # 0.9 s
BLINK_HZ = 2.0
PENDING_LEVEL = 0.25
PULSE_PERIOD = 2.0
PULSE_STEPS = 8
PULSE_FLOOR = 0.25
OVERFLOW_PERIOD = 1.0


@dataclass(frozen=True)
class Ghost:
    """A removed pod, flashing red in its old slot until ``started + FLASH_SECONDS``."""

    key: str
    started: float

    def alive(self, now: float) -> bool:
        return now < self.started + FLASH_SECONDS

    def color(self, now: float) -> str:
        phase = int((now - self.started) / FLASH_HALF_PERIOD)
        return RED if phase % 2 == 0 else DARK


Slot = Ghost | None  # None: the next live pod of the list


class Scene:
    """The slots on the strip: live pods (in list order) and flashing ghosts.

    Invariant: the number of live slots equals the length of the list, so the k-th live
    slot shows the list's k-th pod; the list's order is therefore always what is shown,
    and ghosts only delay when the pods after them move up. The live and ghost counts are
    kept, so that nothing per frame or per message walks every slot of a long list.
    """

    def __init__(self) -> None:
        self._slots: list[Slot] = []
        self._live = 0  # slots that are None
        self._ghosts = 0  # slots that are a Ghost, flashing or not yet pruned

    def apply(self, changes: Changes, *, live_count: int, now: float) -> None:
        """Turn removed pods into ghosts where they stood; keep live slots = list length."""
        if changes.removed:
            live_at = [i for i, slot in enumerate(self._slots) if slot is None]
            for index, key in changes.removed:
                if index < len(live_at):
                    self._slots[live_at[index]] = Ghost(key, now)
                    self._live -= 1
                    self._ghosts += 1
        self._fit(live_count)

    def _fit(self, live_count: int) -> None:
        missing = live_count - self._live
        if missing > 0:
            self._slots.extend([None] * missing)
            self._live = live_count
        while self._live > live_count:  # only if a caller broke the invariant: drop trailing live slots
            last_live = max(i for i, slot in enumerate(self._slots) if slot is None)
            del self._slots[last_live]
            self._live -= 1

    def prune(self, now: float) -> None:
        """Forget ghosts whose flash is over (``visible`` already ignores them)."""
        if self._ghosts:
            self._slots = [s for s in self._slots if s is None or s.alive(now)]
            self._ghosts = len(self._slots) - self._live

    def visible(self, now: float) -> Iterator[Slot]:
        """The slots shown at ``now``, in order (lazily: a frame reads only the first few)."""
        if not self._ghosts:
            return iter(self._slots)
        return (s for s in self._slots if s is None or s.alive(now))

    def ghosts(self, now: float) -> int:
        """How many ghosts are flashing at ``now``."""
        if not self._ghosts:
            return 0
        return sum(1 for s in self._slots if s is not None and s.alive(now))

    def flashing(self, now: float) -> bool:
        return self.ghosts(now) > 0


def scale(color: str, level: float) -> str:
    """``color`` at ``level`` (0..1) of its intensity."""
    channels = (int(color[i : i + 2], 16) for i in (0, 2, 4))
    return "".join(f"{round(c * level):02x}" for c in channels)


def pulse_level(now: float) -> float:
    """Triangle wave PULSE_FLOOR → 1 → PULSE_FLOOR over PULSE_PERIOD, in PULSE_STEPS steps."""
    phase = (now % PULSE_PERIOD) / PULSE_PERIOD
    triangle = 1 - abs(2 * phase - 1)
    step = round(triangle * (PULSE_STEPS - 1)) / (PULSE_STEPS - 1)
    return PULSE_FLOOR + (1 - PULSE_FLOOR) * step


def blink_on(now: float, hz: float) -> bool:
    return (now * hz) % 1 < 0.5


def pod_color(entry: PodEntry, now: float) -> str:
    color = entry.shown_color
    if entry.state is PodState.PENDING:
        return scale(color, PENDING_LEVEL)
    if entry.state is PodState.UNREADY:
        return scale(color, pulse_level(now))
    if entry.state is PodState.TERMINATING:
        return color if blink_on(now, BLINK_HZ) else DARK
    return color


def render(entries: Sequence[PodEntry], scene: Scene, *, leds: int, now: float, more: int = 0) -> Frame:
    """The frame of one node at ``now``: exactly ``leds`` colours.

    ``more``: how many pods of the node follow ``entries`` without being passed (a caller
    may pass only the first ``leds``; pods hidden beyond the list's cap count too). They
    are never shown, but they make the last LED signal overflow.
    """
    live = iter(entries)
    colors: list[str] = []
    for slot in islice(scene.visible(now), leds):
        if slot is not None:
            colors.append(slot.color(now))
        elif (entry := next(live, None)) is not None:
            colors.append(pod_color(entry, now))
    colors.extend(pod_color(entry, now) for entry in islice(live, leds - len(colors)))  # if the scene lags
    if overflowing(entries, scene, leds=leds, now=now, more=more) and not blink_on(now, 1 / OVERFLOW_PERIOD):
        colors[leds - 1] = WHITE
    return tuple(colors) + (DARK,) * (leds - len(colors))


def overflowing(entries: Sequence[PodEntry], scene: Scene, *, leds: int, now: float, more: int = 0) -> bool:
    """Whether there is more to show than LEDs (pods, flashing ghosts, and ``more`` pods)."""
    return len(entries) + scene.ghosts(now) + more > leds


def animated(entries: Sequence[PodEntry], scene: Scene, *, leds: int, now: float, more: int = 0) -> bool:
    """Whether the frame can change with time alone (else the renderer may sleep)."""
    if scene.flashing(now) or overflowing(entries, scene, leds=leds, now=now, more=more):
        return True
    return any(e.state in (PodState.UNREADY, PodState.TERMINATING) for e in entries[:leds])
