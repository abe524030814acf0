"""GPIO drivers for the Blinkt!: each adapts one library to a two-line :class:`Port`.

- ``rpi-gpio`` — package ``RPi.GPIO``; writes the registers mapped from
  ``/dev/gpiomem``, no system call per write. Pi Zero 2 W, 3, 4 (not a Pi 5).
- ``lgpio`` — package ``lgpio`` (``rpi-lgpio`` brings it); ``/dev/gpiochipN``, one
  group write (an ioctl) per write. Every Pi, the Pi 5 included.
- ``gpiod`` — package ``gpiod>=2`` (libgpiod's v2 bindings); ``/dev/gpiochipN``, one
  ``set_values`` (an ioctl) per write. Every Pi, and any board with the GPIO
  character device.

Each library is imported when its driver is opened, so none is needed to run anything
else. The character-device drivers find the 40-pin header's chip **by label**, never
by number: ``pinctrl-rp1`` (Pi 5: ``gpiochip4`` on early kernels, ``gpiochip0`` on
later ones), ``pinctrl-bcm2711`` (Pi 4, 400, CM4), ``pinctrl-bcm2835`` (Pi Zero 2 W, 3
and older). On all of them the line offset is the BCM number: DAT = 23, CLK = 24.

``rpi-lgpio`` is a drop-in ``RPi.GPIO`` over lgpio (the way to run RPi.GPIO code on a
Pi 5); it checks each line's mode on every write, so where ``RPi.GPIO`` turns out to be
it, the ``auto`` order skips ``rpi-gpio`` for ``lgpio``, which drives the same chip
directly. Forced with ``--gpio-driver rpi-gpio``, it is used as it is.

Errors: opening raises :class:`DeviceError` with what is missing — the package (and
the pip name), a Raspberry Pi (``RPi.GPIO`` refuses anything else, and a Pi 5),
``/dev/gpiomem`` or ``/dev/gpiochip*`` (absent, or no permission: the message says the
file's owner, group and mode and the process's groups), the header chip, or lines
another consumer holds (gpiod names it). Each port lists the exceptions its library
raises while writing (``errors``); the strip turns those into ``DeviceError``.
"""

from __future__ import annotations

import errno
import functools
import grp
import importlib
import os
import pwd
import re
import stat
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from led_agent.backends import DeviceError
from led_agent.backends.clocking import CLK, DAT, PinByPin, Port

DRIVER_NAMES = ("rpi-gpio", "lgpio", "gpiod")
HEADER_CHIP_LABELS = ("pinctrl-rp1", "pinctrl-bcm2711", "pinctrl-bcm2835")
CONSUMER = "shinealight-blinkt"
DEV = Path("/dev")
PI5_HINT = "a Raspberry Pi 5 needs the lgpio or gpiod driver"

Errors = tuple[type[Exception], ...]


def open_port(name: str, *, dev: Path = DEV, auto: bool = False) -> Port:
    """Open driver ``name`` on the Blinkt!'s pins; ``auto`` skips a driver a faster one replaces."""
    openers: dict[str, Callable[[Path, bool], Port]] = {"rpi-gpio": open_rpi_gpio, "lgpio": open_lgpio,
                                                        "gpiod": open_gpiod}
    return openers[name](dev, auto)


# -- RPi.GPIO --------------------------------------------------------------------------
class RpiGpioPort(PinByPin):
    def __init__(self, gpio: ModuleType, description: str) -> None:
        super().__init__(gpio.output)
        self._gpio = gpio
        self.description = description
        self.errors: Errors = (RuntimeError, ValueError)

    def close(self) -> None:
        self._gpio.cleanup([DAT, CLK])


def open_rpi_gpio(dev: Path, auto: bool) -> Port:
    gpio = import_library("RPi.GPIO", install="pip install RPi.GPIO; on a Pi 5, rpi-lgpio")
    shim = isinstance(getattr(gpio, "lgpio", None), ModuleType)
    if shim and auto:
        raise DeviceError("RPi.GPIO here is rpi-lgpio: the lgpio driver drives the same chip without its checks")
    try:
        gpio.setmode(gpio.BCM)
        gpio.setwarnings(False)
        gpio.setup([DAT, CLK], gpio.OUT, initial=gpio.LOW)
    except RuntimeError as e:
        raise DeviceError(f"RPi.GPIO cannot set up BCM {DAT} and {CLK}: {e} ({gpiomem_hint(dev)})") from e
    kind = "rpi-lgpio" if shim else f"RPi.GPIO {getattr(gpio, 'VERSION', '?')}"
    return RpiGpioPort(gpio, f"rpi-gpio ({kind})")


def gpiomem_hint(dev: Path) -> str:
    path = dev / "gpiomem"
    problem = access_problem(path)
    if problem is None:
        return f"{path} is there and accessible"
    return f"{problem}; {PI5_HINT}" if not path.exists() else problem


# -- lgpio -----------------------------------------------------------------------------
class LgpioPort:
    def __init__(self, lgpio: ModuleType, handle: int, description: str) -> None:
        self._lgpio = lgpio
        self._handle = handle
        self.description = description
        self.errors: Errors = (lgpio.error,)
        self._group_write = functools.partial(lgpio.group_write, handle, DAT)  # DAT leads the group: bit 0

    def write(self, dat: int, clk: int) -> None:
        self._group_write(dat | clk << 1)

    def close(self) -> None:
        try:
            self._lgpio.group_free(self._handle, DAT)
        finally:
            self._lgpio.gpiochip_close(self._handle)


def open_lgpio(dev: Path, auto: bool) -> Port:
    lgpio = import_library("lgpio", install="pip install lgpio, or rpi-lgpio which brings it",
                           hint="importing lgpio makes a pipe in the working directory: run where it may write, "
                                "or set LG_WD=/tmp")

    def label_of(number: int, path: Path) -> str:
        handle = _lgpio_call(lgpio, path, lgpio.gpiochip_open, number)
        try:
            return str(_lgpio_call(lgpio, path, lgpio.gpio_get_chip_info, handle)[3])
        finally:
            lgpio.gpiochip_close(handle)

    number, path, label = find_header_chip(dev, label_of)
    handle = _lgpio_call(lgpio, path, lgpio.gpiochip_open, number)
    try:
        _lgpio_call(lgpio, path, lgpio.group_claim_output, handle, [DAT, CLK], [0, 0])
    except DeviceError:
        lgpio.gpiochip_close(handle)
        raise
    return LgpioPort(lgpio, handle, f"lgpio on {path} [{label}]")


def _lgpio_call(lgpio: ModuleType, path: Path, function: Callable[..., Any], *args: Any) -> Any:
    try:
        return function(*args)
    except lgpio.error as e:
        text = str(e).strip("'\"")
        if text == "GPIO busy":
            text = f"BCM {DAT} or {CLK} on {path} is in use by another program or driver"
        raise DeviceError(f"lgpio: {text} ({access_problem(path) or f'{path} is accessible'})") from e


# -- gpiod (libgpiod v2) ---------------------------------------------------------------
class GpiodPort:
    def __init__(self, request: Any, value: Any, description: str, errors: Errors) -> None:
        self._request = request
        self.description = description
        self.errors = errors
        level = (value.INACTIVE, value.ACTIVE)
        self._states = tuple(tuple({DAT: level[d], CLK: level[c]} for c in (0, 1)) for d in (0, 1))
        self._set_values = request.set_values

    def write(self, dat: int, clk: int) -> None:
        self._set_values(self._states[dat][clk])

    def close(self) -> None:
        self._request.release()


def open_gpiod(dev: Path, auto: bool) -> Port:
    gpiod = import_library("gpiod", install="pip install 'gpiod>=2'")
    if not hasattr(gpiod, "request_lines"):
        raise DeviceError(f"gpiod {getattr(gpiod, '__version__', '')} has the v1 API (apt's python3-libgpiod); "
                          "the gpiod driver needs the v2 bindings: pip install 'gpiod>=2'")
    line = importlib.import_module("gpiod.line")

    def label_of(number: int, path: Path) -> str:
        try:
            with gpiod.Chip(str(path)) as chip:
                return str(chip.get_info().label)
        except OSError as e:
            raise DeviceError(f"gpiod cannot open {path}: {os_problem(path, e)}") from e

    _, path, label = find_header_chip(dev, label_of)
    settings = gpiod.LineSettings(direction=line.Direction.OUTPUT, output_value=line.Value.INACTIVE)
    try:
        request = gpiod.request_lines(str(path), consumer=CONSUMER, config={(DAT, CLK): settings})
    except OSError as e:
        reason = _gpiod_holders(gpiod, path) if e.errno == errno.EBUSY else os_problem(path, e)
        raise DeviceError(f"gpiod cannot request BCM {DAT} and {CLK} on {path}: {reason}") from e
    errors: Errors = (OSError, gpiod.RequestReleasedError)
    return GpiodPort(request, line.Value, f"gpiod on {path} [{label}]", errors)


def _gpiod_holders(gpiod: Any, path: Path) -> str:
    try:
        with gpiod.Chip(str(path)) as chip:
            infos = [chip.get_line_info(offset) for offset in (DAT, CLK)]
    except OSError as e:
        return f"busy ({e})"
    held = [f"BCM {info.offset} by {info.consumer or 'an unnamed consumer'!r}" for info in infos if info.used]
    return "in use: " + ", ".join(held) if held else "busy"


# -- finding the header chip, explaining access ----------------------------------------
def gpiochips(dev: Path) -> list[tuple[int, Path]]:
    """The GPIO character devices under ``dev``, by number."""
    found = ((re.fullmatch(r"gpiochip(\d+)", path.name), path) for path in dev.glob("gpiochip*"))
    return sorted((int(match.group(1)), path) for match, path in found if match)


def find_header_chip(dev: Path, label_of: Callable[[int, Path], str]) -> tuple[int, Path, str]:
    """The first chip whose label is a Raspberry Pi header's; ``label_of`` raises DeviceError if it cannot tell."""
    chips = gpiochips(dev)
    if not chips:
        raise DeviceError(f"no {dev}/gpiochip*: not a board with the GPIO character device, "
                          "or the device is not mounted into this container")
    seen, problems = [], []
    for number, path in chips:
        try:
            label = label_of(number, path)
        except DeviceError as e:
            problems.append(str(e))
            continue
        if label in HEADER_CHIP_LABELS:
            return number, path, label
        seen.append(f"{path.name} [{label}]")
    if problems:  # most likely the header's chip is among those we cannot open
        raise DeviceError("; ".join(problems) + (f" (the other chips: {', '.join(seen)})" if seen else ""))
    wanted = " or ".join(HEADER_CHIP_LABELS)
    raise DeviceError(f"no Raspberry Pi header chip (label {wanted}) among: {', '.join(seen)}")


def import_library(module: str, *, install: str, hint: str = "") -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise DeviceError(f"{module} is not installed ({install})") from e
    except RuntimeError as e:  # RPi.GPIO off a Raspberry Pi: "This module can only be run on a Raspberry Pi!"
        raise DeviceError(f"{module} cannot start here: {e}") from e
    except OSError as e:  # lgpio: a read-only working directory
        raise DeviceError(f"{module} cannot start here: {e}" + (f" ({hint})" if hint else "")) from e


def os_problem(path: Path, error: OSError) -> str:
    if isinstance(error, PermissionError | FileNotFoundError):
        return access_problem(path) or str(error)
    return error.strerror or str(error)


def access_problem(path: Path) -> str | None:
    """Why this process cannot read and write ``path``, or None if it can."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return f"{path} does not exist"
    except OSError as e:
        return f"{path}: {e.strerror}"
    if os.access(path, os.R_OK | os.W_OK):
        return None
    group = _name(grp.getgrgid, info.st_gid)
    return (f"no permission on {path} ({stat.filemode(info.st_mode)} {_name(pwd.getpwuid, info.st_uid)}:{group}); "
            f"this process runs as uid {os.getuid()} in groups {sorted(os.getgroups())}: "
            f"add it to group {group!r} (gid {info.st_gid}; in a pod: supplementalGroups)")


def _name(lookup: Callable[[int], Any], number: int) -> str:
    try:
        return str(lookup(number)[0])
    except KeyError:
        return str(number)
