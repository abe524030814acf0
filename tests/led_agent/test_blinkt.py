"""The Blinkt! device over the REAL ``blinkt`` library (with its real sleeps) and a recording RPi.GPIO.

The library bit-bangs the APA102 stream itself; the stand-in records the pins and the
test decodes what the LEDs would have latched (``tests/support/gpio_standins.py``). The
library's ``time.sleep`` is left alone: a frame takes the ~50 ms it takes on a Pi, so
this is the slow path, kept for compatibility. Our own drivers are in test_drivers.py.
"""

from __future__ import annotations

import atexit
import importlib
import subprocess
import sys
from collections.abc import Iterator

import pytest

from led_agent.backends import DeviceError, DeviceOptionError, check_options, open_device
from led_agent.backends.blinkt import BlinktDevice, LibraryStrip, load_blinkt
from tests.support.gpio_standins import RPiGPIOStandIn
from tests.support.paths import ROOT


@pytest.fixture
def gpio(monkeypatch: pytest.MonkeyPatch) -> Iterator[RPiGPIOStandIn]:
    recorder = RPiGPIOStandIn()
    for name, module in recorder.modules().items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.delitem(sys.modules, "blinkt", raising=False)
    library = importlib.import_module("blinkt")  # fresh: its pixel buffer is module state
    monkeypatch.setitem(sys.modules, "blinkt", library)
    yield recorder
    atexit.unregister(library._exit)


def test_the_library_shows_frames_brightness_and_dark_padding(gpio: RPiGPIOStandIn) -> None:
    device = open_device("blinkt", nodes=["n1"], leds=5, gpio_driver="blinkt")
    assert isinstance(device, BlinktDevice) and isinstance(device.strip, LibraryStrip)
    device.show({"n1": ("ff0000", "00ff00", "0000ff", "123456", "000000")}, 0.2)
    device.show({"other": ("ffffff",) * 5}, 0.2)  # not this strip's node: nothing written
    device.show({"n1": ("a0b0c0",) * 5}, 1.0)
    assert gpio.calls["setup"] == 2 and gpio.mode == gpio.BCM
    first, second = gpio.wire.frames()
    assert first == [("ff0000", 6), ("00ff00", 6), ("0000ff", 6), ("123456", 6)] + [("000000", 6)] * 4
    assert second == [("a0b0c0", 31)] * 5 + [("000000", 31)] * 3


def test_close_clears_the_strip(gpio: RPiGPIOStandIn) -> None:
    device = open_device("blinkt", nodes=["n1"], leds=8, gpio_driver="blinkt")
    device.show({"n1": ("ffffff",) * 8}, 0.5)
    device.close()
    assert [color for color, _ in gpio.wire.frames()[-1]] == ["000000"] * 8


def test_the_real_library_off_a_raspberry_pi_fails_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("blinkt", "RPi", "RPi.GPIO", "RPi._GPIO"):
        monkeypatch.delitem(sys.modules, name, raising=False)  # the real RPi.GPIO refuses this machine
    with pytest.raises(DeviceError, match=r"needs a Raspberry Pi.*can only be run on a Raspberry Pi"):
        load_blinkt()


@pytest.mark.parametrize(
    ("nodes", "leds", "message"),
    [(["a", "b"], 8, "exactly one node"), ([], 8, "exactly one node"), (["a"], 9, "8 LEDs")],
)
def test_blinkt_options(nodes: list[str], leds: int, message: str) -> None:
    with pytest.raises(DeviceOptionError, match=message):
        check_options("blinkt", nodes=nodes, leds=leds)


def run_agent(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "led_agent", "--node", "n1", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False)


def test_the_command_line_on_this_machine_says_what_every_driver_misses() -> None:
    done = run_agent("--device", "blinkt", "--broker", "mqtt://127.0.0.1:1")
    assert done.returncode == 1, done.stderr
    assert "no GPIO driver can open the Blinkt!'s pins" in done.stderr
    for reason in ("rpi-gpio: RPi.GPIO cannot start here: This module can only be run on a Raspberry Pi!",
                   "lgpio: lgpio is not installed", "gpiod: gpiod is not installed (pip install 'gpiod>=2')",
                   "blinkt: the blinkt library needs a Raspberry Pi"):
        assert reason in done.stderr


def test_the_command_line_forces_a_driver_and_refuses_it_elsewhere() -> None:
    forced = run_agent("--device", "blinkt", "--gpio-driver", "gpiod", "--broker", "mqtt://127.0.0.1:1")
    assert forced.returncode == 1 and "gpiod is not installed (pip install 'gpiod>=2')" in forced.stderr
    assert "rpi-gpio" not in forced.stderr
    misplaced = run_agent("--device", "terminal", "--gpio-driver", "gpiod")
    assert misplaced.returncode == 2 and "--gpio-driver is for --device blinkt, not terminal" in misplaced.stderr
