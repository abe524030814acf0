"""The ``terminal`` device: one row of true-colour blocks per node, redrawn in place.

Each row is the node name and one ``██`` block per LED in ANSI 24-bit colour; a dark
LED is drawn as a faint ``··`` so the strip's length stays visible. Rows are redrawn in
place (cursor up, erase line), so the scrollback is not spammed. Colours are faithful:
the global brightness is meant for LEDs in a dark room; on a monitor, 20 % would be
near-black. Logs go to stderr; redirect it (``2>agent.log``) for a clean picture.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import TextIO

from led_agent.backends import DeviceError, Frame
from led_agent.rendering import DARK

RESET = "\x1b[0m"
ERASE_LINE = "\x1b[2K"
DARK_CELL = "\x1b[38;2;70;70;70m··" + RESET


def cell(color: str) -> str:
    if color == DARK:
        return DARK_CELL
    r, g, b = (int(color[i : i + 2], 16) for i in (0, 2, 4))
    return f"\x1b[38;2;{r};{g};{b}m██{RESET}"


class TerminalDevice:
    def __init__(self, nodes: Sequence[str], *, stream: TextIO) -> None:
        self._stream = stream
        self._frames: dict[str, Frame] = dict.fromkeys(nodes, ())
        self._width = max((len(n) for n in nodes), default=0)
        self._drawn = False
        self._lock = threading.Lock()  # the render thread draws, anyone may print_above

    def show(self, frames: Mapping[str, Frame], brightness: float) -> None:
        with self._lock:
            self._frames.update(frames)
            self._write(self._up() + self._rows())
            self._drawn = True

    def print_above(self, line: str) -> None:
        """Print a line (a step of the demo, say) above the LED rows, which move down."""
        with self._lock:
            self._write(f"{self._up()}{ERASE_LINE}{line}\n" + self._rows())
            self._drawn = True

    def _up(self) -> str:
        return f"\x1b[{len(self._frames)}F" if self._drawn else ""

    def _rows(self) -> str:
        return "".join(f"{ERASE_LINE}{node:<{self._width}}  {''.join(cell(c) for c in frame)}\n"
                       for node, frame in self._frames.items())

    def close(self) -> None:
        self._write(RESET)

    def _write(self, text: str) -> None:
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError) as e:
            raise DeviceError(f"cannot draw on the terminal: {e}") from e
