"""The render loop: frames at most ``fps`` times a second, device writes only on change.

Runs on its own thread so that message handling never waits for a device. Each turn:

1. ask the board for every node's frame (a few microseconds under the board's lock);
2. write to the device the frames that differ from what it shows, if any;
3. sleep out the rest of the frame period — so however many messages arrive, there is
   at most one device write per period, and the frame written is always computed from
   the latest list (a burst of 1,000 events costs a handful of writes, and ends right);
4. when nothing is animating, wait for the board to report a change instead of
   ticking (a Pi showing a steady strip sleeps).

A device that fails is counted (``device_errors``) and logged at most once per
interval; the loop carries on, and the next changed frame tries again. On :meth:`stop`
the device is blanked (all ``000000``) and closed — unless it hangs in a write.

For health and metrics (``led_agent.agent``) the loop keeps what it already knows: when
its last turn started (:meth:`alive`: the thread runs and turned within
:data:`STALL_SECONDS`, which a device write hanging for good fails), whether the last
device write failed and why (:attr:`device_error`), and the frames computed per second,
measured over windows of about :data:`RATE_WINDOW_SECONDS` (:attr:`frame_rate`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

from bus.ratelimit import RateLimitedLog
from led_agent.backends import Device, DeviceError
from led_agent.board import Board
from led_agent.rendering import DARK, Frame

log = logging.getLogger(__name__)

DEFAULT_FPS = 60.0
IDLE_WAIT_SECONDS = 1.0
STALL_SECONDS = 10.0  # an idle loop turns every IDLE_WAIT_SECONDS; ten of them missed is a hang
RATE_WINDOW_SECONDS = 2.0
STOP_SECONDS = 2.0  # a turn takes milliseconds; longer is a device that hangs

FramesHook = Callable[[Mapping[str, Frame]], None]


class RenderLoop:
    def __init__(
        self,
        board: Board,
        device: Device,
        *,
        brightness: float,
        fps: float = DEFAULT_FPS,
        on_frames: FramesHook | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._board = board
        self._device = device
        self._brightness = brightness
        self._period = 1.0 / fps
        self._on_frames = on_frames
        self._clock = clock
        self._shown: dict[str, Frame] = {}
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._errors = RateLimitedLog(log, interval=10.0)
        self.last_turn: float | None = None
        self.device_error: str | None = None  # why the last device write failed; None after a success
        self.frame_rate = 0.0
        self._window = (clock(), 0)  # (start, renders then)

    @property
    def shown(self) -> dict[str, Frame]:
        """What the device was last told to show, per node."""
        return dict(self._shown)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="render", daemon=True)
        self._thread.start()

    def alive(self) -> bool:
        """The loop runs and started a turn within STALL_SECONDS."""
        running = self._thread is not None and self._thread.is_alive() and not self._stopping.is_set()
        return running and self.last_turn is not None and self._clock() - self.last_turn < STALL_SECONDS

    def stop(self, *, timeout: float = STOP_SECONDS) -> None:
        """Stop the loop, blank the device, close it.

        A loop still inside a device write after ``timeout`` is hung on the device: then the
        device is left alone (a second write would hang the stop too), so that the agent
        still publishes ``offline`` and exits within its pod's grace period.
        """
        self._stopping.set()
        self._board.wake()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("the device did not return within %g s; leaving it as it is", timeout)
                return
        dark = {node: (DARK,) * self._board.leds for node in self._board.nodes}
        self._write({n: f for n, f in dark.items() if self._shown.get(n) != f})
        try:
            self._device.close()
        except DeviceError as e:
            self._errors.report("close", "%s", e)

    def step(self) -> bool:
        """Render once; write what changed. Returns whether the device was written."""
        frames = self._board.frames()
        self._board.counters.renders += 1
        return self._write({n: f for n, f in frames.items() if self._shown.get(n) != f})

    def _write(self, changed: dict[str, Frame]) -> bool:
        if not changed:
            return False
        try:
            self._device.show(changed, self._brightness)
        except DeviceError as e:
            self._board.counters.device_errors += 1
            self.device_error = str(e) or type(e).__name__
            self._errors.report("show", "%s", e)
            return False
        self._board.counters.device_writes += 1
        self.device_error = None
        self._shown.update(changed)
        if self._on_frames is not None:
            self._on_frames(self.shown)
        return True

    def _run(self) -> None:
        while not self._stopping.is_set():
            started = self.last_turn = self._clock()
            self._measure(started)
            try:
                self.step()
            except Exception as e:  # a backend bug must not freeze the strip for good
                self._errors.report("bug", "render step failed: %r", e, exc_info=e)
            if not self._board.animated():
                self._board.wait_changed(IDLE_WAIT_SECONDS)
            rest = self._period - (self._clock() - started)
            if rest > 0:
                self._stopping.wait(rest)

    def _measure(self, now: float) -> None:
        """Update :attr:`frame_rate` once a window is over."""
        start, renders = self._window
        if now - start >= RATE_WINDOW_SECONDS:
            self.frame_rate = (self._board.counters.renders - renders) / (now - start)
            self._window = (now, self._board.counters.renders)
