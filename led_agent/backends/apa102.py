"""APA102 frames as bits: the pure half of the Blinkt! (no GPIO, no I/O, no time).

An APA102 LED shifts in one bit on every rising edge of its clock, most significant bit
first, and passes what it does not keep on to the next LED. One frame of a strip is:

- a **start frame** of 32 zero bits;
- per LED 32 bits: ``0b111``, 5 bits of global brightness (0..31), then blue, green and
  red, 8 bits each;
- an **end frame** of zero bits that clocks the data through to the last LED. The
  Blinkt! needs 36 (the ``blinkt`` library's figure: its dark-die APA102 clones need
  more than the datasheet's half a clock per LED), so we send 36 too.

:func:`encode` turns colours and a brightness into that bit sequence, as a tuple of
0/1 ints ready for :func:`led_agent.backends.clocking.clock_out`. It validates its input
(a colour component outside 0..255 or a brightness outside 0..31 is a ``ValueError``),
so a wrong frame never reaches the wire. Brightness goes to the 5-bit global field, the
colours stay as they are: that is what the Blinkt! did through the library, and what
:func:`brightness_level` rounds exactly as the library does (``int(31 * fraction)``).
"""

from __future__ import annotations

from collections.abc import Sequence

START_FRAME_BITS = 32
END_FRAME_BITS = 36
LED_BITS = 32
MAX_BRIGHTNESS = 31
HEADER = 0b111 << 5

Pixel = tuple[int, int, int]
Bits = tuple[int, ...]

BYTE_BITS: tuple[Bits, ...] = tuple(tuple((byte >> shift) & 1 for shift in range(7, -1, -1)) for byte in range(256))
START_FRAME: Bits = (0,) * START_FRAME_BITS
END_FRAME: Bits = (0,) * END_FRAME_BITS


def brightness_level(fraction: float) -> int:
    """0..1 → the 5-bit global brightness (rounded down, as the ``blinkt`` library does)."""
    if not 0 <= fraction <= 1:  # also rejects nan
        raise ValueError(f"brightness must be between 0 and 1, got {fraction!r}")
    return int(MAX_BRIGHTNESS * fraction)


def encode(pixels: Sequence[Pixel], brightness: int) -> Bits:
    """The exact bits of one frame: start frame, one 32-bit word per pixel, end frame."""
    if not 0 <= brightness <= MAX_BRIGHTNESS:
        raise ValueError(f"brightness level must be 0..{MAX_BRIGHTNESS}, got {brightness}")
    header = BYTE_BITS[HEADER | brightness]
    words = [header + BYTE_BITS[b] + BYTE_BITS[g] + BYTE_BITS[r] for r, g, b in map(_checked, pixels)]
    return START_FRAME + tuple(bit for word in words for bit in word) + END_FRAME


def frame_bits(leds: int) -> int:
    """How many bits (clock pulses) one frame of ``leds`` LEDs takes."""
    return START_FRAME_BITS + LED_BITS * leds + END_FRAME_BITS


def _checked(pixel: Pixel) -> Pixel:
    if len(pixel) != 3 or not all(0 <= c <= 255 for c in pixel):
        raise ValueError(f"a pixel is (red, green, blue), each 0..255; got {pixel!r}")
    return pixel
