"""The ``json`` device: one JSON object per node and frame on stdout, one line each.

``{"node": "node-1", "leds": ["0000ff", "000000", ...], "brightness": 0.2}`` with exactly
``--leds`` colours; dark LEDs are ``"000000"``. Colours are the frame's, not scaled by
brightness (the field says what a device would apply). One line per node whose frame
changed, flushed at once, so scripts and tests can follow along. Logs never go here
(the agent logs to stderr).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TextIO

from led_agent.backends import DeviceError, Frame


class JsonLinesDevice:
    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def show(self, frames: Mapping[str, Frame], brightness: float) -> None:
        lines = "".join(
            json.dumps({"node": node, "leds": list(frame), "brightness": brightness}) + "\n"
            for node, frame in frames.items()
        )
        try:
            self._stream.write(lines)
            self._stream.flush()
        except (OSError, ValueError) as e:  # a closed pipe or stream: the reader has gone
            raise DeviceError(f"cannot write frames to the output: {e}") from e

    def close(self) -> None:
        try:
            self._stream.flush()
        except (OSError, ValueError) as e:
            raise DeviceError(f"cannot flush the output: {e}") from e
