"""Clocking bits out on two GPIO lines: one loop for every GPIO driver, and no sleeps.

A :class:`Port` is two output lines, data and clock, that can be set together
(:meth:`Port.write`); each driver (``drivers.py``) only adapts its library to that.
:func:`clock_out` is the one loop that puts a bit sequence on them: for every bit,
data with the clock low, then the clock high — the APA102 samples data on the rising
edge — and finally both low again, which is how the lines idle.

Why there is no sleep. The ``blinkt`` library sleeps 0.5 µs after every clock edge, and
Linux turns each of those sleeps into 50 to 70 µs (timer slack), which made one frame
~54 ms. The APA102 latches on the clock edge and is specified for clocks in the MHz;
a GPIO write from Python takes a few hundred nanoseconds at the very least (more
through a system call), so the clock we produce is far slower than the LED can follow
and needs no padding. Data never changes on a rising edge: the write that raises the
clock leaves data as it was set by the write before it.

:class:`PinByPin` adapts libraries that set one pin per call (``RPi.GPIO``): it writes
only the lines that change, the falling clock before new data, new data before the
rising clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

DAT = 23  # BCM numbers of the Blinkt!'s data and clock lines
CLK = 24


class Lines(Protocol):
    """Two output lines, data and clock."""

    def write(self, dat: int, clk: int) -> None:
        """Set data and clock (each 0 or 1)."""


class Port(Lines, Protocol):
    """The two lines as a driver opened them."""

    description: str
    errors: tuple[type[Exception], ...]  # what the library raises while writing or releasing

    def close(self) -> None:
        """Release the lines."""


def clock_out(port: Lines, bits: Iterable[int]) -> None:
    """Put ``bits`` on the data line, one per rising clock edge; leave both lines low."""
    write = port.write
    for bit in bits:
        write(bit, 0)
        write(bit, 1)
    write(0, 0)


class PinByPin:
    """The two-line :meth:`Port.write` over a library call that sets one pin: ``set_pin(pin, level)``."""

    def __init__(self, set_pin: Callable[[int, int], object], *, dat: int = DAT, clk: int = CLK) -> None:
        self._set = set_pin
        self._pins = dat, clk
        self._dat = self._clk = 0  # the lines are set up low

    def write(self, dat: int, clk: int) -> None:
        dat_pin, clk_pin = self._pins
        if clk:
            if dat != self._dat:
                self._set(dat_pin, dat)
            if not self._clk:
                self._set(clk_pin, 1)
        else:
            if self._clk:
                self._set(clk_pin, 0)
            if dat != self._dat:
                self._set(dat_pin, dat)
        self._dat, self._clk = dat, clk
