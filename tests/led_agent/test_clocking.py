"""The one clock-out loop, and the pin-by-pin adapter: the exact sequence of line levels."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from led_agent.backends.clocking import CLK, DAT, PinByPin, clock_out
from tests.support.gpio_standins import Wire


class RecordingPort:
    description = "recording"
    errors: tuple[type[Exception], ...] = (RuntimeError,)

    def __init__(self) -> None:
        self.writes: list[tuple[int, int]] = []

    def write(self, dat: int, clk: int) -> None:
        self.writes.append((dat, clk))

    def close(self) -> None:
        """Nothing to release."""


def test_each_bit_is_data_with_clock_low_then_the_rising_edge_and_the_lines_end_low() -> None:
    port = RecordingPort()
    clock_out(port, [1, 0, 0])
    assert port.writes == [(1, 0), (1, 1), (0, 0), (0, 1), (0, 0), (0, 1), (0, 0)]


def test_pin_by_pin_writes_only_changes_clock_down_before_data_data_before_clock_up() -> None:
    sets: list[tuple[int, int]] = []
    port = PinByPin(lambda pin, level: sets.append((pin, level)))
    for dat, clk in [(1, 0), (1, 1), (0, 0), (0, 1), (0, 0), (0, 1), (0, 0)]:
        port.write(dat, clk)
    assert sets == [(DAT, 1), (CLK, 1), (CLK, 0), (DAT, 0), (CLK, 1), (CLK, 0), (CLK, 1), (CLK, 0)]


@given(st.lists(st.integers(0, 1), max_size=200))
def test_what_is_clocked_out_is_what_an_apa102_samples(bits: list[int]) -> None:
    wire = Wire()
    port = PinByPin(lambda pin, level: wire.set({pin: level}))
    clock_out(port, bits)
    assert wire.bits == bits
    assert wire.levels == {DAT: 0, CLK: 0}
