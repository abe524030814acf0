"""The ``null`` device: shows nothing, counts what it was given (benchmarks, tests)."""

from __future__ import annotations

from collections.abc import Mapping

from led_agent.backends import Frame


class NullDevice:
    def __init__(self) -> None:
        self.shows = 0
        self.last: dict[str, Frame] = {}
        self.closed = False

    def show(self, frames: Mapping[str, Frame], brightness: float) -> None:
        self.shows += 1
        self.last.update(frames)

    def close(self) -> None:
        self.closed = True
