"""Device backends: where frames go. One small protocol, four implementations.

A :class:`Device` receives the frames of the nodes whose frame *changed* (every node on
the first call) and the global brightness (0..1), which the device applies its own way:
the Blinkt! in hardware, the JSON stream as a field, the terminal not at all (faithful
colours on a monitor). ``show`` is only ever called from the render thread, at most
once per frame period, so a slow device (the Blinkt! bit-bangs for milliseconds) never
holds up message handling. ``close`` releases the device; the render loop blanks it first.
A device that shows more than colours (the terminal's pod counts) is a
:class:`FollowsBoard`: the agent hands it its board (a :class:`PodSource`) once.

Errors: :class:`DeviceError` for a device that cannot be opened or written (the agent
logs and counts it), :class:`DeviceOptionError` (a subclass) for options the device
cannot honour (``--leds 9`` on an 8-LED Blinkt!, two nodes on one strip, a
``--gpio-driver`` for a device without GPIO), which the command line reports as a usage
error. The Blinkt!'s GPIO drivers (``--gpio-driver``) are described in ``blinkt.py``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Protocol, TextIO, runtime_checkable

from led_agent.rendering import Frame

__all__ = ["DEVICE_NAMES", "GPIO_DRIVER_NAMES", "Device", "DeviceError", "DeviceOptionError", "FollowsBoard", "Frame",
           "PodSource", "check_options", "open_device"]

DEVICE_NAMES = ("terminal", "json", "blinkt", "null")
GPIO_DRIVER_NAMES = ("auto", "rpi-gpio", "lgpio", "gpiod", "blinkt")  # the Blinkt!'s; blinkt.py checks it agrees


class DeviceError(RuntimeError):
    """A device that cannot be opened or written."""


class DeviceOptionError(DeviceError):
    """Options that this device cannot honour."""


class Device(Protocol):
    def show(self, frames: Mapping[str, Frame], brightness: float) -> None: ...

    def close(self) -> None: ...


class PodSource(Protocol):
    """What a device may read of the agent's board: each node's list and its watcher's status."""

    def entries(self, node: str) -> Sequence[object]: ...

    def status(self, node: str) -> str | None: ...


@runtime_checkable
class FollowsBoard(Protocol):
    """A device that shows more than frames (the terminal: pod counts); the agent hands it its board."""

    def follow(self, source: PodSource) -> None: ...


def check_options(name: str, *, nodes: Sequence[str], leds: int, gpio_driver: str | None = None) -> None:
    """Raise DeviceOptionError if ``name`` cannot show ``nodes`` on ``leds`` LEDs (with ``gpio_driver``)."""
    if name not in DEVICE_NAMES:
        raise DeviceOptionError(f"unknown device {name!r}: choose one of {', '.join(DEVICE_NAMES)}")
    if leds < 1:
        raise DeviceOptionError(f"--leds must be at least 1, got {leds}")
    if gpio_driver is not None and name != "blinkt":
        raise DeviceOptionError(f"--gpio-driver is for --device blinkt, not {name}")
    if gpio_driver is not None and gpio_driver not in GPIO_DRIVER_NAMES:
        raise DeviceOptionError(f"unknown GPIO driver {gpio_driver!r}: choose one of {', '.join(GPIO_DRIVER_NAMES)}")
    if name == "blinkt":
        from led_agent.backends.blinkt import check_blinkt_options

        check_blinkt_options(nodes=nodes, leds=leds)


def open_device(
    name: str, *, nodes: Sequence[str], leds: int, stream: TextIO | None = None, gpio_driver: str | None = None
) -> Device:
    """Open the backend called ``name`` (see DEVICE_NAMES); ``stream`` defaults to stdout.

    ``gpio_driver`` (the Blinkt! only; default ``auto``) is one of GPIO_DRIVER_NAMES."""
    check_options(name, nodes=nodes, leds=leds, gpio_driver=gpio_driver)
    out = stream or sys.stdout
    if name == "json":
        from led_agent.backends.jsonlines import JsonLinesDevice

        return JsonLinesDevice(out)
    if name == "terminal":
        from led_agent.backends.terminal import TerminalDevice

        return TerminalDevice(nodes, stream=out, leds=leds)
    if name == "blinkt":
        from led_agent.backends.blinkt import open_blinkt

        return open_blinkt(nodes[0], driver=gpio_driver or "auto")
    from led_agent.backends.null import NullDevice

    return NullDevice()
