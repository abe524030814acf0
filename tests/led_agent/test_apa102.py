"""The APA102 encoder: exact bits by table, and a hypothesis round trip through the decoder."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from led_agent.backends.apa102 import Pixel, brightness_level, encode, frame_bits
from tests.support.gpio_standins import DecodeError, decode_frames

DARK8: list[Pixel] = [(0, 0, 0)] * 8


def test_one_frame_bit_by_bit() -> None:
    bits = encode([(0xFF, 0x00, 0x81)] + [(0, 0, 0)] * 7, 6)
    assert len(bits) == frame_bits(8) == 32 + 8 * 32 + 36
    assert bits[:32] == (0,) * 32
    first = "".join(map(str, bits[32:64]))
    assert first == "111" "00110" "10000001" "00000000" "11111111"  # header + brightness 6, then B, G, R
    assert bits[64:96] == (1, 1, 1, 0, 0, 1, 1, 0) + (0,) * 24
    assert bits[-36:] == (0,) * 36


def test_the_pixels_order_is_the_strips_order() -> None:
    frame = decode_frames(encode([(i, 2 * i, 3 * i) for i in range(8)], 31))[0]
    assert frame == [(f"{i:02x}{2 * i:02x}{3 * i:02x}", 31) for i in range(8)]


@pytest.mark.parametrize(("fraction", "level"), [(0.0, 0), (0.2, 6), (0.5, 15), (0.999, 30), (1.0, 31)])
def test_brightness_rounds_down_like_the_blinkt_library(fraction: float, level: int) -> None:
    assert brightness_level(fraction) == level == int(31.0 * fraction) & 0b11111


@pytest.mark.parametrize("fraction", [-0.1, 1.01, float("nan")])
def test_brightness_outside_0_1_is_refused(fraction: float) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        brightness_level(fraction)


@pytest.mark.parametrize(("pixels", "brightness", "message"), [
    (DARK8, 32, "brightness level"), (DARK8, -1, "brightness level"),
    ([(256, 0, 0)], 1, "each 0..255"), ([(0, -1, 0)], 1, "each 0..255"), ([(0, 0)], 1, "red, green, blue"),
])  # fmt: skip
def test_bad_input_never_reaches_the_wire(pixels: list[Pixel], brightness: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        encode(pixels, brightness)


def test_the_decoder_rejects_broken_frames() -> None:
    good = list(encode(DARK8, 3))
    for broken, message in [(good[:-1], "whole number"), ([1, *good[1:]], "start frame"),
                            ([*good[:-1], 1], "end frame"), ([*good[:32], 0, *good[33:]], "header")]:
        with pytest.raises(DecodeError, match=message):
            decode_frames(broken)


components = st.integers(0, 255)
pixels = st.lists(st.tuples(components, components, components), min_size=8, max_size=8)


@given(pixels=pixels, brightness=st.integers(0, 31))
def test_round_trip(pixels: list[Pixel], brightness: int) -> None:
    (decoded,) = decode_frames(encode(pixels, brightness))
    assert decoded == [(f"{r:02x}{g:02x}{b:02x}", brightness) for r, g, b in pixels]
