"""The ``blinkt`` device: a Pimoroni Blinkt! (8 APA102 LEDs on DAT = BCM 23, CLK = BCM 24).

Two ways to the LEDs behind one device:

- **ours** (:class:`Apa102Strip`): the pure encoder (``apa102.py``) turns the 8 colours
  and the brightness into the frame's bits, :func:`~led_agent.backends.clocking.clock_out`
  clocks them out with no sleep, over one of the GPIO drivers of ``drivers.py``
  (``rpi-gpio``, ``lgpio``, ``gpiod``). A frame costs a fraction of a millisecond of
  Python, so the render loop keeps its 60 frames a second.
- **the ``blinkt`` library** (0.1.2, :class:`LibraryStrip`), the compatible fallback: it
  sleeps after every clock edge, which makes a frame ~54 ms (~18 frames a second) —
  the red flash and the blinking stutter. It runs over whatever ``RPi.GPIO`` is
  installed (``rpi-lgpio`` on a Pi 5).

``--gpio-driver auto`` (the default) tries ``rpi-gpio``, ``lgpio``, ``gpiod``, then
``blinkt``: fastest first (``RPi.GPIO`` writes mapped registers without a system call;
``lgpio`` and ``gpiod`` make one ioctl per write, ``lgpio`` with less Python around
it), the library last. It logs the driver it picked and why it passed over the ones
before; if none can open the pins, the :class:`DeviceError` lists every driver's reason.
A named driver is used or fails with its own reason.

One Blinkt! shows one node (``--node`` exactly once) and has 8 LEDs (``--leds`` ≤ 8;
fewer leaves the rest dark). Brightness goes to the LEDs' 5-bit global brightness, not
into the colours. On close the strip is blanked and the lines are released.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Protocol

from led_agent.backends import GPIO_DRIVER_NAMES, DeviceError, DeviceOptionError, Frame
from led_agent.backends.apa102 import Pixel, brightness_level, encode
from led_agent.backends.clocking import Port, clock_out
from led_agent.backends.drivers import DEV, DRIVER_NAMES, open_port
from led_agent.rendering import DARK

log = logging.getLogger(__name__)

BLINKT_PIXELS = 8
AUTO_ORDER = (*DRIVER_NAMES, "blinkt")  # GPIO_DRIVER_NAMES is "auto" and these (a test checks it)


def check_blinkt_options(*, nodes: Sequence[str], leds: int) -> None:
    if len(nodes) != 1:
        raise DeviceOptionError(f"a Blinkt! shows exactly one node; got {len(nodes)} (--node once)")
    if leds > BLINKT_PIXELS:
        raise DeviceOptionError(f"a Blinkt! has {BLINKT_PIXELS} LEDs; --leds {leds} is too many")


def rgb(color: str) -> Pixel:
    return int(color[0:2], 16), int(color[2:4], 16), int(color[4:6], 16)


class Strip(Protocol):
    """Eight LEDs that take colours and a brightness."""

    @property
    def description(self) -> str: ...

    def show(self, pixels: Sequence[Pixel], brightness: float) -> None: ...

    def close(self) -> None: ...


class Apa102Strip:
    """Our encoder, clocked out over a GPIO driver's port."""

    def __init__(self, port: Port) -> None:
        self._port = port
        self.description = port.description

    def show(self, pixels: Sequence[Pixel], brightness: float) -> None:
        bits = encode(pixels, brightness_level(brightness))
        try:
            clock_out(self._port, bits)
        except self._port.errors as e:  # GPIO access lost (permissions, a released line)
            raise DeviceError(f"cannot write to the Blinkt! ({self.description}): {e}") from e

    def close(self) -> None:
        try:
            self._port.close()
        except self._port.errors as e:
            raise DeviceError(f"cannot release the Blinkt!'s pins ({self.description}): {e}") from e


class LibraryStrip:
    """The ``blinkt`` library; its exit hook clears the strip should the process die otherwise."""

    def __init__(self, library: ModuleType) -> None:
        self._lib = library
        self._lib.set_clear_on_exit(True)
        self.description = f"the blinkt library {getattr(library, '__version__', '')}".rstrip()

    def show(self, pixels: Sequence[Pixel], brightness: float) -> None:
        for x, (r, g, b) in enumerate(pixels):
            self._lib.set_pixel(x, r, g, b, brightness)
        try:
            self._lib.show()
        except (OSError, RuntimeError) as e:  # GPIO access lost (permissions, unexported pins)
            raise DeviceError(f"cannot write to the Blinkt!: {e}") from e

    def close(self) -> None:
        """Nothing to release: the library keeps its pins until the process exits."""


def load_blinkt() -> ModuleType:
    """Import the real library; RPi.GPIO raises RuntimeError off a Raspberry Pi."""
    try:
        return importlib.import_module("blinkt")
    except (ImportError, RuntimeError) as e:
        raise DeviceError(f"the blinkt library needs a Raspberry Pi with RPi.GPIO and blinkt: {e}") from e


def open_strip(driver: str, *, dev: Path = DEV, auto: bool = False) -> Strip:
    """Open one driver (see GPIO_DRIVER_NAMES), or with ``auto`` the first that opens."""
    if driver == "auto":
        return _open_first(dev)
    if driver == "blinkt":
        return LibraryStrip(load_blinkt())
    if driver not in DRIVER_NAMES:
        raise DeviceOptionError(f"unknown GPIO driver {driver!r}: choose one of {', '.join(GPIO_DRIVER_NAMES)}")
    return Apa102Strip(open_port(driver, dev=dev, auto=auto))


def _open_first(dev: Path) -> Strip:
    passed: list[str] = []
    for driver in AUTO_ORDER:
        try:
            strip = open_strip(driver, dev=dev, auto=True)
        except DeviceError as e:
            passed.append(f"{driver}: {e}")
            continue
        log.info("Blinkt! over %s (--gpio-driver auto%s)", strip.description,
                 "; passed over " + "; ".join(passed) if passed else "")
        return strip
    raise DeviceError(f"no GPIO driver can open the Blinkt!'s pins (DAT BCM 23, CLK BCM 24): {' | '.join(passed)}")


def open_blinkt(node: str, *, driver: str = "auto", dev: Path = DEV) -> BlinktDevice:
    strip = open_strip(driver, dev=dev)
    if driver != "auto":
        log.info("Blinkt! over %s (--gpio-driver %s)", strip.description, driver)
    return BlinktDevice(node, strip)


class BlinktDevice:
    def __init__(self, node: str, strip: Strip) -> None:
        self.node = node
        self.strip = strip

    def show(self, frames: Mapping[str, Frame], brightness: float) -> None:
        frame = frames.get(self.node)
        if frame is None:
            return
        self.strip.show([rgb(frame[x] if x < len(frame) else DARK) for x in range(BLINKT_PIXELS)], brightness)

    def close(self) -> None:
        try:
            self.strip.show([(0, 0, 0)] * BLINKT_PIXELS, 0.0)
        finally:
            self.strip.close()
