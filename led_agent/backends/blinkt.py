"""The ``blinkt`` device: a Pimoroni Blinkt! (8 APA102 LEDs) through the real library.

The ``blinkt`` library (0.1.2) imports ``RPi.GPIO`` at import time and bit-bangs the
APA102 protocol on DAT=23 / CLK=24 with a ~0.5 µs sleep per clock edge, so one
``blinkt.show()`` takes milliseconds: it runs on the render thread only. The library
is imported when the device is opened, so other backends work on any machine; off a
Raspberry Pi, opening fails with a clear :class:`DeviceError`.

One Blinkt! shows one node (``--node`` exactly once) and has 8 LEDs (``--leds`` ≤ 8;
fewer leaves the rest dark). Brightness goes to the LEDs' 5-bit global brightness
(``set_pixel(..., brightness)``), not into the colours. On close the strip is cleared,
and the library's own exit hook clears it again should the process die otherwise.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from types import ModuleType

from led_agent.backends import DeviceError, DeviceOptionError, Frame
from led_agent.rendering import DARK

BLINKT_PIXELS = 8


def check_blinkt_options(*, nodes: Sequence[str], leds: int) -> None:
    if len(nodes) != 1:
        raise DeviceOptionError(f"a Blinkt! shows exactly one node; got {len(nodes)} (--node once)")
    if leds > BLINKT_PIXELS:
        raise DeviceOptionError(f"a Blinkt! has {BLINKT_PIXELS} LEDs; --leds {leds} is too many")


def load_blinkt() -> ModuleType:
    """Import the real library; RPi.GPIO raises RuntimeError off a Raspberry Pi."""
    try:
        return importlib.import_module("blinkt")
    except (ImportError, RuntimeError) as e:
        raise DeviceError(f"the blinkt device needs a Raspberry Pi with RPi.GPIO and blinkt: {e}") from e


def rgb(color: str) -> tuple[int, int, int]:
    return int(color[0:2], 16), int(color[2:4], 16), int(color[4:6], 16)


class BlinktDevice:
    def __init__(self, node: str, *, library: ModuleType | None = None) -> None:
        self.node = node
        self._lib = library or load_blinkt()
        self._lib.set_clear_on_exit(True)

    def show(self, frames: Mapping[str, Frame], brightness: float) -> None:
        frame = frames.get(self.node)
        if frame is None:
            return
        for x in range(BLINKT_PIXELS):
            r, g, b = rgb(frame[x] if x < len(frame) else DARK)
            self._lib.set_pixel(x, r, g, b, brightness)
        self._write()

    def close(self) -> None:
        self._lib.clear()
        self._write()

    def _write(self) -> None:
        try:
            self._lib.show()
        except (OSError, RuntimeError) as e:  # GPIO access lost (permissions, unexported pins)
            raise DeviceError(f"cannot write to the Blinkt!: {e}") from e
