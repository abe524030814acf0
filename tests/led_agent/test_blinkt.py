"""The Blinkt! backend over the REAL ``blinkt`` library and a recording stand-in for RPi.GPIO.

The test decodes the APA102 stream the library bit-banged: DAT sampled on every rising
edge of CLK; a start frame of 32 zero bits, then per pixel ``0b111`` + 5 bits of
brightness, blue, green, red; then the end frame (zero bits).
"""

from __future__ import annotations

import atexit
import importlib
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from led_agent.backends import DeviceError, DeviceOptionError, check_options, open_device
from led_agent.backends.blinkt import BlinktDevice

DAT, CLK = 23, 24


@dataclass
class RecordingGPIO:
    """What RPi.GPIO would have done to the pins, as (pin, level) writes."""

    writes: list[tuple[int, int]] = field(default_factory=list)
    setup_pins: list[int] = field(default_factory=list)

    def module(self) -> types.ModuleType:
        gpio = types.ModuleType("RPi.GPIO")
        gpio.BCM, gpio.OUT = 11, 0  # type: ignore[attr-defined]
        gpio.setmode = lambda mode: None  # type: ignore[attr-defined]
        gpio.setwarnings = lambda flag: None  # type: ignore[attr-defined]
        gpio.setup = lambda pin, mode: self.setup_pins.append(pin)  # type: ignore[attr-defined]
        gpio.output = lambda pin, value: self.writes.append((pin, 1 if value else 0))  # type: ignore[attr-defined]
        gpio.cleanup = lambda: None  # type: ignore[attr-defined]
        return gpio

    def bits(self) -> list[int]:
        """DAT as sampled on each rising edge of CLK."""
        dat, clk, sampled = 0, 0, []
        for pin, level in self.writes:
            if pin == DAT:
                dat = level
            elif pin == CLK:
                if level and not clk:
                    sampled.append(dat)
                clk = level
        return sampled

    def frames(self) -> list[list[tuple[str, int]]]:
        """Every show() decoded: per pixel (rrggbb, brightness 0..31)."""
        bits, shows = self.bits(), []
        per_show = 32 + 8 * 32 + 36
        assert len(bits) % per_show == 0, f"{len(bits)} bits is not a whole number of shows"
        for start in range(0, len(bits), per_show):
            chunk = bits[start : start + per_show]
            assert chunk[:32] == [0] * 32, "start frame"
            assert chunk[32 + 8 * 32 :] == [0] * 36, "end frame"
            shows.append([_pixel(chunk[32 + 32 * i : 64 + 32 * i]) for i in range(8)])
        return shows


def _pixel(bits: list[int]) -> tuple[str, int]:
    header, blue, green, red = (int("".join(map(str, bits[i : i + 8])), 2) for i in range(0, 32, 8))
    assert header >> 5 == 0b111, f"pixel header {header:08b}"
    return f"{red:02x}{green:02x}{blue:02x}", header & 0b11111


@pytest.fixture
def gpio(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingGPIO]:
    recorder = RecordingGPIO()
    rpi = types.ModuleType("RPi")
    rpi.GPIO = recorder.module()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "RPi", rpi)
    monkeypatch.setitem(sys.modules, "RPi.GPIO", rpi.GPIO)
    monkeypatch.delitem(sys.modules, "blinkt", raising=False)
    library = importlib.import_module("blinkt")  # fresh: its pixel buffer is module state
    monkeypatch.setitem(sys.modules, "blinkt", library)
    monkeypatch.setattr(library, "time", types.SimpleNamespace(sleep=lambda seconds: None))  # 0.5 µs per edge
    yield recorder
    atexit.unregister(library._exit)


def test_frames_brightness_and_dark_padding_reach_the_leds(gpio: RecordingGPIO) -> None:
    device = open_device("blinkt", nodes=["n1"], leds=5)
    device.show({"n1": ("ff0000", "00ff00", "0000ff", "123456", "000000")}, 0.2)
    device.show({"other": ("ffffff",) * 5}, 0.2)  # not this strip's node: nothing written
    device.show({"n1": ("a0b0c0",) * 5}, 1.0)
    assert set(gpio.setup_pins) == {DAT, CLK}
    first, second = gpio.frames()
    assert first == [("ff0000", 6), ("00ff00", 6), ("0000ff", 6), ("123456", 6)] + [("000000", 6)] * 4
    assert second == [("a0b0c0", 31)] * 5 + [("000000", 31)] * 3


def test_close_clears_the_strip(gpio: RecordingGPIO) -> None:
    device = open_device("blinkt", nodes=["n1"], leds=8)
    device.show({"n1": ("ffffff",) * 8}, 0.5)
    device.close()
    assert [color for color, _ in gpio.frames()[-1]] == ["000000"] * 8


def test_without_rpi_gpio_opening_fails_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "blinkt", raising=False)
    monkeypatch.setitem(sys.modules, "RPi.GPIO", None)  # import fails, as off a Raspberry Pi
    with pytest.raises(DeviceError, match="needs a Raspberry Pi"):
        BlinktDevice("n1")


@pytest.mark.parametrize(
    ("nodes", "leds", "message"),
    [(["a", "b"], 8, "exactly one node"), ([], 8, "exactly one node"), (["a"], 9, "8 LEDs")],
)
def test_blinkt_options(nodes: list[str], leds: int, message: str) -> None:
    with pytest.raises(DeviceOptionError, match=message):
        check_options("blinkt", nodes=nodes, leds=leds)
