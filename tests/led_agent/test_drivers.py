"""The Blinkt!'s GPIO drivers over recording stand-ins of RPi.GPIO, lgpio and gpiod.

Each test decodes the APA102 stream its driver put on the pins (``tests/support/
gpio_standins.py`` and ``gpiod_standin.py``: the stand-ins enforce the real libraries' signatures and call order)
and checks colours, brightness and frame boundaries. ``time.sleep`` fails in this
module: the fast drivers must never sleep.
"""

from __future__ import annotations

import errno
import importlib.abc
import logging
import os
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from led_agent.backends import GPIO_DRIVER_NAMES, DeviceError, DeviceOptionError, check_options
from led_agent.backends.apa102 import frame_bits
from led_agent.backends.blinkt import AUTO_ORDER, open_blinkt
from led_agent.backends.drivers import DRIVER_NAMES
from tests.support.gpio_standins import (
    CLK,
    DAT,
    LgpioStandIn,
    RPiGPIOStandIn,
    installed,
    make_dev,
)
from tests.support.gpiod_standin import GpiodStandIn

StandIn = RPiGPIOStandIn | LgpioStandIn | GpiodStandIn
Modules = Mapping[str, ModuleType | None]
ABSENT: Modules = {"RPi": None, "RPi.GPIO": None, "lgpio": None, "gpiod": None, "gpiod.line": None, "blinkt": None}


def stand_in(driver: str, dev: Path) -> StandIn:
    """Each driver's library as on a typical board: RPi.GPIO on a Pi 4, lgpio on a Pi 4, gpiod on a Pi 5."""
    if driver == "rpi-gpio":
        (dev / "gpiomem").touch()
        return RPiGPIOStandIn()
    if driver == "lgpio":
        make_dev(dev, [0, 1])
        return LgpioStandIn({0: "pinctrl-bcm2711", 1: "raspberrypi-exp-gpio"})
    make_dev(dev, [0, 10, 11])
    return GpiodStandIn({str(dev / "gpiochip0"): "pinctrl-rp1", str(dev / "gpiochip10"): "gpio-brcmstb@107d508500",
                         str(dev / "gpiochip11"): "gpio-brcmstb@107d517c00"})


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """``time.sleep`` fails in the test's thread (other threads of the session sleep as usual)."""
    slept: list[float] = []
    real_sleep, test_thread = time.sleep, threading.get_ident()

    def sleep(seconds: float) -> None:
        if threading.get_ident() != test_thread:
            return real_sleep(seconds)
        slept.append(seconds)
        raise AssertionError(f"a fast driver slept {seconds} s")

    monkeypatch.setattr(time, "sleep", sleep)
    return slept


@pytest.fixture
def install(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    def put(*many: Modules) -> None:
        for modules in (ABSENT, *many):
            for name, module in modules.items():
                monkeypatch.setitem(sys.modules, name, module)

    return put


@pytest.fixture
def dev(tmp_path: Path) -> Path:
    return make_dev(tmp_path / "dev", [])


@pytest.fixture(params=DRIVER_NAMES)
def rig(request: pytest.FixtureRequest, install: Callable[..., None], dev: Path) -> Iterator[tuple[str, StandIn]]:
    gpio = stand_in(request.param, dev)
    install(gpio.modules())
    yield request.param, gpio


def test_frames_brightness_and_dark_padding_reach_the_leds(rig: tuple[str, StandIn], dev: Path,
                                                           no_sleep: list[float]) -> None:
    driver, gpio = rig
    device = open_blinkt("n1", driver=driver, dev=dev)
    device.show({"n1": ("ff0000", "00ff00", "0000ff", "123456", "000000")}, 0.2)
    device.show({"other": ("ffffff",) * 5}, 0.2)  # not this strip's node: nothing written
    device.show({"n1": ("a0b0c0",) * 5}, 1.0)
    first, second = gpio.wire.frames()
    assert first == [("ff0000", 6), ("00ff00", 6), ("0000ff", 6), ("123456", 6)] + [("000000", 6)] * 4
    assert second == [("a0b0c0", 31)] * 5 + [("000000", 31)] * 3
    assert gpio.wire.levels == {DAT: 0, CLK: 0}  # the lines idle low between frames
    assert no_sleep == []


def test_close_blanks_the_strip_and_releases_the_lines(rig: tuple[str, StandIn], dev: Path) -> None:
    driver, gpio = rig
    device = open_blinkt("n1", driver=driver, dev=dev)
    device.show({"n1": ("ffffff",) * 8}, 0.5)
    device.close()
    assert gpio.wire.frames()[-1] == [("000000", 0)] * 8
    if isinstance(gpio, RPiGPIOStandIn):
        assert gpio.outputs == set() and gpio.calls["cleanup"] == 1
    elif isinstance(gpio, LgpioStandIn):
        assert gpio.handles == {} and gpio.claimed == set()
    else:
        assert gpio.held == set()
    with pytest.raises(DeviceError, match="cannot write to the Blinkt!"):  # a released line fails loudly
        device.show({"n1": ("ffffff",) * 8}, 0.5)


def test_gpio_calls_per_frame(rig: tuple[str, StandIn], dev: Path) -> None:
    driver, gpio = rig
    device = open_blinkt("n1", driver=driver, dev=dev)
    before = sum(gpio.calls.values())
    device.show({"n1": ("ff00ff", "00ff00") * 4}, 0.2)
    calls = sum(gpio.calls.values()) - before
    edges = frame_bits(8)
    if driver == "rpi-gpio":  # one call per clock edge, plus one per change of data
        changes = sum(1 for a, b in zip([0, *gpio.wire.bits], gpio.wire.bits, strict=False) if a != b)
        assert calls == 2 * edges + changes + (gpio.wire.bits[-1] == 1)
    else:  # both lines in one call: data with the clock down, then the clock up; then both down
        assert calls == 2 * edges + 1


def test_the_header_chip_is_found_by_label_not_by_number(install: Callable[..., None], dev: Path) -> None:
    make_dev(dev, [0, 4])  # a Raspberry Pi 5 on an early kernel: RP1 is gpiochip4
    install(GpiodStandIn({str(dev / "gpiochip0"): "gpio-brcmstb@107d508500", str(dev / "gpiochip4"): "pinctrl-rp1"})
            .modules())
    assert open_blinkt("n1", driver="gpiod", dev=dev).strip.description == f"gpiod on {dev}/gpiochip4 [pinctrl-rp1]"
    install(LgpioStandIn({0: "gpio-brcmstb@107d508500", 4: "pinctrl-rp1"}).modules())
    assert open_blinkt("n1", driver="lgpio", dev=dev).strip.description == f"lgpio on {dev}/gpiochip4 [pinctrl-rp1]"


@settings(max_examples=25, deadline=None)
@given(driver=st.sampled_from(DRIVER_NAMES),
       colors=st.lists(st.integers(0, 0xFFFFFF).map(lambda c: f"{c:06x}"), min_size=1, max_size=8),
       brightness=st.floats(0, 1))
def test_round_trip_through_every_driver(driver: str, colors: list[str], brightness: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        dev = Path(tmp)
        gpio = stand_in(driver, dev)
        with installed({**ABSENT, **gpio.modules()}):
            open_blinkt("n1", driver=driver, dev=dev).show({"n1": tuple(colors)}, brightness)
    level = int(31 * brightness)
    assert gpio.wire.frames() == [[(c, level) for c in colors] + [("000000", level)] * (8 - len(colors))]


# -- what is missing, said clearly ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("driver", "message"), [
    ("rpi-gpio", r"RPi\.GPIO is not installed \(pip install RPi\.GPIO; on a Pi 5, rpi-lgpio\)"),
    ("lgpio", r"lgpio is not installed \(pip install lgpio, or rpi-lgpio which brings it\)"),
    ("gpiod", r"gpiod is not installed \(pip install 'gpiod>=2'\)"),
    ("blinkt", r"the blinkt library needs a Raspberry Pi with RPi\.GPIO and blinkt"),
])  # fmt: skip
def test_a_missing_package_is_named_with_its_pip_name(driver: str, message: str, install: Callable[..., None],
                                                      dev: Path) -> None:
    install()
    with pytest.raises(DeviceError, match=message):
        open_blinkt("n1", driver=driver, dev=dev)


class ReadOnlyWorkingDirectory(importlib.abc.MetaPathFinder):
    """Importing lgpio where it cannot make its notification pipe: an OSError out of the import."""

    def find_spec(self, name: str, path: object, target: object = None) -> None:
        if name == "lgpio":
            raise OSError(errno.EROFS, "Read-only file system", ".lgd-nfy0")


def test_lgpio_in_a_read_only_working_directory(dev: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "lgpio", raising=False)
    monkeypatch.setattr(sys, "meta_path", [ReadOnlyWorkingDirectory(), *sys.meta_path])
    with pytest.raises(DeviceError, match=r"lgpio cannot start here: .*Read-only file system.* set LG_WD=/tmp"):
        open_blinkt("n1", driver="lgpio", dev=dev)


def test_the_real_rpi_gpio_off_a_raspberry_pi(monkeypatch: pytest.MonkeyPatch, dev: Path) -> None:
    for name in ("RPi", "RPi.GPIO", "RPi._GPIO"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    with pytest.raises(DeviceError, match=r"RPi\.GPIO cannot start here: This module can only be run on a Raspberry"):
        open_blinkt("n1", driver="rpi-gpio", dev=dev)


def test_rpi_gpio_without_access_to_gpiomem(install: Callable[..., None], dev: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    (dev / "gpiomem").touch()
    (dev / "gpiomem").chmod(0o660)
    install(RPiGPIOStandIn(setup_error="No access to /dev/mem.  Try running as root!").modules())
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # as a user outside the gpio group
    with pytest.raises(DeviceError) as info:
        open_blinkt("n1", driver="rpi-gpio", dev=dev)
    assert "RPi.GPIO cannot set up BCM 23 and 24: No access to /dev/mem" in str(info.value)
    assert f"no permission on {dev}/gpiomem (-rw-rw----" in str(info.value)
    assert f"in groups {sorted(os.getgroups())}" in str(info.value) and "supplementalGroups" in str(info.value)


def test_rpi_gpio_on_a_pi_5(install: Callable[..., None], dev: Path) -> None:
    install(RPiGPIOStandIn(setup_error="Cannot determine SOC peripheral base address").modules())
    with pytest.raises(DeviceError, match=f"{dev}/gpiomem does not exist; a Raspberry Pi 5 needs the lgpio or gpiod"):
        open_blinkt("n1", driver="rpi-gpio", dev=dev)


@pytest.mark.parametrize("driver", ["lgpio", "gpiod"])
def test_no_gpio_character_device(driver: str, install: Callable[..., None], dev: Path) -> None:
    install(LgpioStandIn({}).modules(), GpiodStandIn({}).modules())
    with pytest.raises(DeviceError, match=f"no {dev}/gpiochip\\*: not a board with the GPIO character device, or"):
        open_blinkt("n1", driver=driver, dev=dev)


@pytest.mark.parametrize("driver", ["lgpio", "gpiod"])
def test_no_header_chip(driver: str, install: Callable[..., None], dev: Path) -> None:
    make_dev(dev, [0, 1])
    install(LgpioStandIn({0: "tegra-gpio", 1: "max77620-gpio"}).modules(),
            GpiodStandIn({str(dev / "gpiochip0"): "tegra-gpio", str(dev / "gpiochip1"): "max77620-gpio"}).modules())
    with pytest.raises(DeviceError, match=r"no Raspberry Pi header chip \(label pinctrl-rp1 or pinctrl-bcm2711 or "
                                          r"pinctrl-bcm2835\) among: gpiochip0 \[tegra-gpio\], gpiochip1 \[max77620"):
        open_blinkt("n1", driver=driver, dev=dev)


def test_gpiod_without_permission_on_the_chip(install: Callable[..., None], dev: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    make_dev(dev, [0, 10])
    chip = str(dev / "gpiochip0")
    install(GpiodStandIn({chip: "pinctrl-rp1", str(dev / "gpiochip10"): "gpio-brcmstb@107d508500"},
                         unopenable={chip: PermissionError(errno.EACCES, "Permission denied")}).modules())
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(DeviceError) as info:
        open_blinkt("n1", driver="gpiod", dev=dev)
    assert str(info.value).startswith(f"gpiod cannot open {chip}: no permission on {chip} (-rw")
    assert str(info.value).endswith("(the other chips: gpiochip10 [gpio-brcmstb@107d508500])")


def test_lgpio_cannot_open_the_chip(install: Callable[..., None], dev: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_dev(dev, [0])
    install(LgpioStandIn({0: "pinctrl-bcm2835"}, unopenable=[0]).modules())
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(DeviceError, match=f"lgpio: can not open gpiochip \\(no permission on {dev}/gpiochip0"):
        open_blinkt("n1", driver="lgpio", dev=dev)


def test_busy_pins_name_who_holds_them(install: Callable[..., None], dev: Path) -> None:
    make_dev(dev, [0])
    install(GpiodStandIn({str(dev / "gpiochip0"): "pinctrl-rp1"}, busy={24: "other-blinkt"}).modules(),
            LgpioStandIn({0: "pinctrl-rp1"}, busy=[24]).modules())
    with pytest.raises(DeviceError, match=r"gpiod cannot request BCM 23 and 24 on .*: in use: BCM 24 by 'other-"):
        open_blinkt("n1", driver="gpiod", dev=dev)
    with pytest.raises(DeviceError, match=r"lgpio: BCM 23 or 24 on .* is in use by another program or driver"):
        open_blinkt("n1", driver="lgpio", dev=dev)


def test_gpiod_v1_bindings_are_named(install: Callable[..., None], dev: Path) -> None:
    install(GpiodStandIn({}, v1=True).modules())
    with pytest.raises(DeviceError, match=r"gpiod 1\.6\.3 has the v1 API .* pip install 'gpiod>=2'"):
        open_blinkt("n1", driver="gpiod", dev=dev)


# -- auto ----------------------------------------------------------------------------------------------------------
def test_auto_takes_the_fastest_and_says_so(install: Callable[..., None], dev: Path,
                                           caplog: pytest.LogCaptureFixture) -> None:
    gpios = [stand_in(driver, dev) for driver in DRIVER_NAMES]
    install(*(gpio.modules() for gpio in gpios))
    with caplog.at_level(logging.INFO, "led_agent.backends.blinkt"):
        device = open_blinkt("n1", dev=dev)
    assert device.strip.description == "rpi-gpio (RPi.GPIO 0.7.1)"
    assert "Blinkt! over rpi-gpio (RPi.GPIO 0.7.1) (--gpio-driver auto)" in caplog.text


def test_auto_passes_over_what_cannot_open_and_says_why(install: Callable[..., None], dev: Path,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    gpiod = stand_in("gpiod", dev)
    install(RPiGPIOStandIn(shim=True).modules(), gpiod.modules())  # rpi-lgpio's RPi.GPIO, no lgpio beside it
    with caplog.at_level(logging.INFO, "led_agent.backends.blinkt"):
        device = open_blinkt("n1", dev=dev)
    device.show({"n1": ("00ff00",)}, 0.1)
    assert gpiod.wire.frames() == [[("00ff00", 3)] + [("000000", 3)] * 7]
    assert f"Blinkt! over gpiod on {dev}/gpiochip0 [pinctrl-rp1] (--gpio-driver auto; passed over rpi-gpio: " \
           "RPi.GPIO here is rpi-lgpio" in caplog.text
    assert "lgpio: lgpio is not installed" in caplog.text


def test_a_forced_rpi_gpio_uses_rpi_lgpio_as_it_is(install: Callable[..., None], dev: Path) -> None:
    gpio = RPiGPIOStandIn(shim=True)
    install(gpio.modules())
    device = open_blinkt("n1", driver="rpi-gpio", dev=dev)
    device.show({"n1": ("0000ff",)}, 1.0)
    assert device.strip.description == "rpi-gpio (rpi-lgpio)"
    assert gpio.wire.frames()[0][0] == ("0000ff", 31)


def test_auto_with_nothing_that_opens_lists_every_reason(install: Callable[..., None], dev: Path) -> None:
    install()
    with pytest.raises(DeviceError) as info:
        open_blinkt("n1", dev=dev)
    text = str(info.value)
    assert text.startswith("no GPIO driver can open the Blinkt!'s pins (DAT BCM 23, CLK BCM 24): rpi-gpio: RPi.GPIO")
    assert [part.split(":")[0] for part in text.split(": ", 1)[1].split(" | ")] == list(AUTO_ORDER)


def test_the_driver_names_agree() -> None:
    assert GPIO_DRIVER_NAMES == ("auto", *AUTO_ORDER) == ("auto", "rpi-gpio", "lgpio", "gpiod", "blinkt")


@pytest.mark.parametrize(("device", "driver", "message"), [
    ("terminal", "gpiod", "--gpio-driver is for --device blinkt, not terminal"),
    ("blinkt", "spidev", "unknown GPIO driver 'spidev'"),
])  # fmt: skip
def test_gpio_driver_options(device: str, driver: str, message: str) -> None:
    with pytest.raises(DeviceOptionError, match=message):
        check_options(device, nodes=["n1"], leds=8, gpio_driver=driver)



# -- the stand-ins refuse what the real libraries refuse (so a wrong driver fails here, not on a Pi) -------------
def misuses(dev: Path) -> Iterator[tuple[str, Callable[[], object], type[Exception], str]]:
    gpio = RPiGPIOStandIn().modules()["RPi.GPIO"]
    assert gpio is not None
    yield "RPi.GPIO: setup before setmode", lambda: gpio.setup(DAT, gpio.OUT), RuntimeError, "setmode"
    gpio.setmode(gpio.BCM)
    yield "RPi.GPIO: output before setup", lambda: gpio.output(DAT, 1), RuntimeError, "not been set up as an OUTPUT"
    gpio.setup(DAT, gpio.OUT)
    yield "RPi.GPIO: output by keyword", lambda: gpio.output(channel=DAT, value=1), TypeError, "positional"
    lg_stand_in = LgpioStandIn({0: "pinctrl-bcm2711"})
    lg = lg_stand_in.modules()["lgpio"]
    assert lg is not None
    handle = lg.gpiochip_open(0)
    lg.group_claim_output(handle, [DAT, CLK])
    yield "lgpio: group_write on a member", lambda: lg.group_write(handle, CLK, 1), lg.error, "not the group leader"
    yield "lgpio: write an unclaimed line", lambda: lg.gpio_write(handle, 4, 1), lg.error, "not allocated"
    yield "lgpio: claim a claimed line", lambda: lg.gpio_claim_output(handle, DAT), lg.error, "GPIO busy"
    lg.gpiochip_close(handle)
    yield "lgpio: write after close", lambda: lg.group_write(handle, DAT, 1), lg.error, "unknown handle"
    make_dev(dev, [0])
    chip = str(dev / "gpiochip0")
    gpiod = GpiodStandIn({chip: "pinctrl-rp1"}).modules()["gpiod"]
    assert gpiod is not None
    output = gpiod.LineSettings(direction=gpiod.line.Direction.OUTPUT)
    yield "gpiod: a Path for the chip", lambda: gpiod.Chip(dev / "gpiochip0"), TypeError, "must be str"
    yield "gpiod: a missing chip", lambda: gpiod.Chip(str(dev / "gpiochip9")), FileNotFoundError, "No such file"
    yield "gpiod: a line twice", lambda: gpiod.request_lines(chip, config={(DAT, DAT): output}), ValueError, "once"
    yield "gpiod: unknown settings", lambda: gpiod.LineSettings(level=1), TypeError, "unexpected keyword"
    request = gpiod.request_lines(chip, config={DAT: output, CLK: None}, consumer="test")
    yield "gpiod: an int, not a Value", lambda: request.set_values({DAT: 1}), AttributeError, "no attribute 'value'"
    active = gpiod.line.Value.ACTIVE
    yield "gpiod: set an input line", lambda: request.set_values({CLK: active}), OSError, "not permitted"
    yield "gpiod: set an unrequested line", lambda: request.set_values({4: active}), OSError, "Invalid argument"
    yield "gpiod: request a held line", lambda: gpiod.request_lines(chip, config={DAT: output}), OSError, "busy"
    request.release()
    yield "gpiod: set after release", lambda: request.set_values({DAT: active}), gpiod.RequestReleasedError, "^$"


def test_the_stand_ins_refuse_what_the_real_libraries_refuse(dev: Path) -> None:
    for what, call, error, message in misuses(dev):
        try:
            call()
        except error as e:
            assert re.search(message, str(e)), f"{what}: {e!r}"
        else:
            pytest.fail(f"{what}: no {error.__name__}")
