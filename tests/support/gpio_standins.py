"""Recording stand-ins for the GPIO libraries of the Blinkt! drivers, and an APA102 decoder.

Each stand-in builds module objects with the real library's names, signatures and
preconditions, read from their sources (RPi.GPIO 0.7.1's C extension; lgpio 0.2.2's
``lgpio_extra.py``; libgpiod 2.x's Python bindings, ``chip.py``, ``line_request.py`` and
``ext/request.c``), and fails a wrong call the way the real one does, with its own
exception type:

- ``RPi.GPIO``: ``setmode`` before ``setup``, ``setup(..., OUT)`` before ``output``;
  ``output(channel, value)`` positional; channels 0..53.
- ``lgpio``: an open chip handle for everything; ``group_write`` on a claimed group's
  leader; claiming a busy line raises ``lgpio.error('GPIO busy')``.
- ``gpiod`` v2: in ``gpiod_standin.py``.

What the pins did goes to a :class:`Wire`: on each rising clock edge it samples DAT.
A library call that changes DAT in the same call that raises CLK is refused (the order
of the two within one call is undefined on a real chip). :func:`decode_frames` reads
the sampled bits back as Blinkt! frames, strictly: 32 zero bits, 8 words of ``0b111`` +
brightness + blue, green, red, 36 zero bits — anything else is a :class:`DecodeError`.

Every library call is counted per function name (``calls``), for call-order asserts and
the benchmark's calls per frame.
"""

from __future__ import annotations

import dataclasses
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

DAT, CLK = 23, 24
LEDS = 8
START_BITS, END_BITS = 32, 36
FRAME_BITS = START_BITS + 32 * LEDS + END_BITS

Decoded = list[tuple[str, int]]  # per LED: ("rrggbb", brightness 0..31)


class DecodeError(AssertionError):
    """The bits on the wire are not a whole number of well-formed Blinkt! frames."""


@dataclasses.dataclass
class Wire:
    """The levels of DAT and CLK, and DAT as sampled on each rising edge of CLK."""

    levels: dict[int, int] = dataclasses.field(default_factory=lambda: {DAT: 0, CLK: 0})
    bits: list[int] = dataclasses.field(default_factory=list)

    def set(self, changes: Mapping[int, int]) -> None:
        """One library call's effect on the pins."""
        dat, clk = changes.get(DAT, self.levels[DAT]), changes.get(CLK, self.levels[CLK])
        if clk and not self.levels[CLK]:
            if dat != self.levels[DAT]:
                raise DecodeError("DAT changed in the same call that raised CLK")
            self.bits.append(dat)
        self.levels.update(changes)

    def frames(self) -> list[Decoded]:
        return decode_frames(self.bits)


def decode_frames(bits: Sequence[int]) -> list[Decoded]:
    if len(bits) % FRAME_BITS:
        raise DecodeError(f"{len(bits)} bits is not a whole number of {FRAME_BITS}-bit frames")
    return [_decode_frame(bits[start : start + FRAME_BITS]) for start in range(0, len(bits), FRAME_BITS)]


def _decode_frame(bits: Sequence[int]) -> Decoded:
    if any(bits[:START_BITS]):
        raise DecodeError(f"start frame is not 32 zero bits: {list(bits[:START_BITS])}")
    if any(bits[-END_BITS:]):
        raise DecodeError(f"end frame is not 36 zero bits: {list(bits[-END_BITS:])}")
    words = [bits[START_BITS + 32 * i : START_BITS + 32 * (i + 1)] for i in range(LEDS)]
    return [_decode_led(word) for word in words]


def _decode_led(bits: Sequence[int]) -> tuple[str, int]:
    header, blue, green, red = (int("".join(map(str, bits[i : i + 8])), 2) for i in range(0, 32, 8))
    if header >> 5 != 0b111:
        raise DecodeError(f"LED header {header:08b} does not start with 111")
    return f"{red:02x}{green:02x}{blue:02x}", header & 0b11111


@contextmanager
def installed(modules: Mapping[str, ModuleType | None]) -> Iterator[None]:
    """Put ``modules`` into ``sys.modules`` (None: an import that fails) and restore what was there."""
    saved = {name: sys.modules.get(name) for name in modules}
    sys.modules.update(modules)  # type: ignore[arg-type]  # None is how sys.modules says "cannot import"
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def make_module(name: str, attributes: Mapping[str, Any]) -> ModuleType:
    module = ModuleType(name)
    module.__dict__.update(attributes)
    return module


def make_dev(directory: Path, numbers: Sequence[int]) -> Path:
    """A directory with empty ``gpiochipN`` files: what the drivers list as the chips."""
    directory.mkdir(parents=True, exist_ok=True)
    for number in numbers:
        (directory / f"gpiochip{number}").touch()
    return directory


# -- RPi.GPIO 0.7.1 ----------------------------------------------------------------------------------
class RPiGPIOStandIn:
    """``RPi.GPIO``; ``shim=True`` makes it look like rpi-lgpio's (it carries an ``lgpio`` module)."""

    BCM, BOARD, OUT, IN, LOW, HIGH, PUD_OFF = 11, 10, 0, 1, 0, 1, 20

    def __init__(self, *, setup_error: str | None = None, shim: bool = False) -> None:
        self.wire = Wire()
        self.calls: Counter[str] = Counter()
        self.mode: int | None = None
        self.outputs: set[int] = set()
        self._setup_error = setup_error
        self._shim = shim

    def modules(self) -> dict[str, ModuleType | None]:
        names = {"BCM": self.BCM, "BOARD": self.BOARD, "OUT": self.OUT, "IN": self.IN, "LOW": self.LOW,
                 "HIGH": self.HIGH, "PUD_OFF": self.PUD_OFF, "VERSION": "0.7.2" if self._shim else "0.7.1"}
        functions: list[Callable[..., None]] = [self.setmode, self.setwarnings, self.setup, self.output, self.cleanup]
        gpio = make_module("RPi.GPIO", names | {f.__name__: self._counted(f) for f in functions})
        if self._shim:
            gpio.lgpio = ModuleType("lgpio")  # type: ignore[attr-defined]
        return {"RPi": make_module("RPi", {"GPIO": gpio}), "RPi.GPIO": gpio}

    def _counted(self, function: Callable[..., None]) -> Callable[..., None]:
        def call(*args: Any, **kwargs: Any) -> None:
            self.calls[function.__name__] += 1
            function(*args, **kwargs)

        call.__name__ = function.__name__
        return call

    def setmode(self, mode: int, /) -> None:
        if mode not in (self.BCM, self.BOARD):
            raise ValueError("An invalid mode was passed to setmode()")
        if self.mode is not None and mode != self.mode:
            raise ValueError("A different mode has already been set!")
        self.mode = mode

    def setwarnings(self, flag: bool, /) -> None:
        """Warnings are not modelled."""

    def setup(self, channel: int | Sequence[int], direction: int, pull_up_down: int = PUD_OFF,
              initial: int | None = None) -> None:
        channels = self._channels(channel)
        if direction not in (self.OUT, self.IN):
            raise ValueError("An invalid direction was passed to setup()")
        if self._setup_error:
            raise RuntimeError(self._setup_error)
        for pin in channels:
            if direction == self.OUT:
                self.outputs.add(pin)
                self.wire.set({pin: 1 if initial else 0})
            else:
                self.outputs.discard(pin)

    def output(self, channel: int | Sequence[int], value: int | Sequence[int], /) -> None:
        if isinstance(channel, int) and isinstance(value, int) and self.mode is not None and channel in self.outputs:
            self.wire.set({channel: 1 if value else 0})  # the common case, checked as below but quicker
            return
        channels = self._channels(channel)
        values = list(value) if isinstance(value, list | tuple) else [value] * len(channels)
        if len(values) != len(channels):
            raise RuntimeError("Number of channels != number of values")
        for pin, level in zip(channels, values, strict=True):
            if pin not in self.outputs:
                raise RuntimeError("The GPIO channel has not been set up as an OUTPUT")
            self.wire.set({pin: 1 if level else 0})

    def cleanup(self, channel: int | Sequence[int] | None = None) -> None:
        pins = set(self.outputs) if channel is None else set(self._channels(channel))
        self.outputs -= pins
        if channel is None:
            self.mode = None

    def _channels(self, channel: int | Sequence[int]) -> list[int]:
        if self.mode is None:
            raise RuntimeError("Please set pin numbering mode using GPIO.setmode(GPIO.BOARD) or GPIO.setmode(GPIO.BCM)")
        channels: list[Any] = list(channel) if isinstance(channel, list | tuple) else [channel]
        if not all(isinstance(c, int) and 0 <= c <= 53 for c in channels):
            raise ValueError("The channel sent is invalid on a Raspberry Pi")
        return channels


# -- lgpio 0.2.2 -------------------------------------------------------------------------------------
class LgpioError(Exception):
    """``lgpio.error``: the value is the error text; str() is its repr, as in lgpio."""

    def __init__(self, value: str) -> None:
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return repr(self.value)


class LgpioStandIn:
    GROUP_ALL = 0xFFFFFFFFFFFFFFFF

    def __init__(self, chips: Mapping[int, str], *, unopenable: Sequence[int] = (), busy: Sequence[int] = ()) -> None:
        self.wire = Wire()
        self.calls: Counter[str] = Counter()
        self.chips = dict(chips)
        self.handles: dict[int, int] = {}  # handle & 0xffff → chip number
        self.groups: dict[tuple[int, int], list[int]] = {}  # (handle, leader) → members
        self._unopenable, self._busy = set(unopenable), set(busy)
        self._next = 0

    def modules(self) -> dict[str, ModuleType | None]:
        functions: list[Callable[..., Any]] = [
            self.gpiochip_open, self.gpiochip_close, self.gpio_get_chip_info, self.group_claim_output,
            self.group_write, self.group_free, self.gpio_claim_output, self.gpio_write, self.gpio_free]
        names = {"error": LgpioError, "exceptions": True, "GROUP_ALL": self.GROUP_ALL, "LOW": 0, "HIGH": 1}
        return {"lgpio": make_module("lgpio", names | {f.__name__: self._counted(f) for f in functions})}

    def _counted(self, function: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls[function.__name__] += 1
            return function(*args, **kwargs)

        call.__name__ = function.__name__
        return call

    @property
    def claimed(self) -> set[int]:
        return {pin for members in self.groups.values() for pin in members}

    def gpiochip_open(self, gpiochip: int) -> int:
        if gpiochip not in self.chips or gpiochip in self._unopenable:
            raise LgpioError("can not open gpiochip")
        self._next += 1
        self.handles[self._next] = gpiochip
        return self._next | gpiochip << 16

    def gpiochip_close(self, handle: int) -> int:
        handle = self._handle(handle)
        del self.handles[handle]
        self.groups = {key: members for key, members in self.groups.items() if key[0] != handle}
        return 0

    def gpio_get_chip_info(self, handle: int) -> list[Any]:
        number = self.handles[self._handle(handle)]
        return [0, 54, f"gpiochip{number}", self.chips[number]]

    def group_claim_output(self, handle: int, gpio: list[int], levels: list[int] = [0], lFlags: int = 0) -> int:  # noqa: B006, N803
        handle = self._handle(handle)
        if set(gpio) & (self._busy | self.claimed):
            raise LgpioError("GPIO busy")
        levels = levels + [0] * (len(gpio) - len(levels))
        self.groups[(handle, gpio[0])] = list(gpio)
        self.wire.set({pin: 1 if level else 0 for pin, level in zip(gpio, levels, strict=False)})
        return 0

    def group_write(self, handle: int, gpio: int, group_bits: int, group_mask: int = GROUP_ALL) -> int:
        members = self._group(handle, gpio)
        self.wire.set({pin: group_bits >> i & 1 for i, pin in enumerate(members) if group_mask >> i & 1})
        return 0

    def group_free(self, handle: int, gpio: int) -> int:
        self._group(handle, gpio)
        del self.groups[(self._handle(handle), gpio)]
        return 0

    def gpio_claim_output(self, handle: int, gpio: int, level: int = 0, lFlags: int = 0) -> int:  # noqa: N803
        return self.group_claim_output(handle, [gpio], [level], lFlags)

    def gpio_write(self, handle: int, gpio: int, level: int) -> int:
        handle = self._handle(handle)
        if gpio not in self.claimed:
            raise LgpioError("GPIO not allocated")
        self.wire.set({gpio: 1 if level else 0})
        return 0

    def gpio_free(self, handle: int, gpio: int) -> int:
        return self.group_free(handle, gpio)

    def _handle(self, handle: int) -> int:
        if handle & 0xFFFF not in self.handles:
            raise LgpioError("unknown handle")
        return handle & 0xFFFF

    def _group(self, handle: int, gpio: int) -> list[int]:
        key = (self._handle(handle), gpio)
        if key not in self.groups:
            raise LgpioError("GPIO not the group leader" if gpio in self.claimed else "GPIO not allocated")
        return self.groups[key]
