"""The ``terminal`` device: every node's LEDs, pod counts, a legend, in a window of its own.

On a terminal (stdout a TTY, ``TERM`` not ``dumb``) the view takes the *alternate
screen*, as ``less`` and ``top`` do: nothing it draws reaches the scrollback, and the
shell's screen comes back as it was on exit. Each change redraws only the lines that
changed, at absolute positions, with auto-wrap off, so however large the wall, the
screen cannot scroll (``terminal_layout.py`` fits it to the window: columns, a compact
tier, pages). The lines printed above the LEDs (:meth:`TerminalDevice.print_above`) and
the log lines written to the terminal meanwhile are shown in the view and printed
again on the shell's screen on exit, so nothing said is lost.

Restored on :meth:`~TerminalDevice.close` (the render loop's stop, on Ctrl-C and SIGTERM
through ``bus.shell``), and at interpreter exit if close never came. While the view is
up, keyboard echo is off (Ctrl-C still works; keys typed meanwhile are dropped on exit,
not run by the shell) and logging handlers and ``sys.stderr`` that wrote to the terminal
write into the view instead; all of it is put back on close. A resize (SIGWINCH,
or a size found changed by the ticker, for views opened off the main thread) redraws
the whole screen at the new size. The ticker is a small thread that also turns the
pages of a wall larger than the window and takes in log lines: a signal handler or a
log call never draws, so it can never deadlock with a drawing thread.

Anywhere else (a pipe, a file, ``TERM=dumb``) the view prints plain lines, no escapes:
each message as it comes, and a node's line (``node-1: 6 pods, 2 hidden``) or the plan's
when it changes — not the 60 frames a second of an animation.

Pod counts come from the agent's board (:meth:`TerminalDevice.follow`, which the agent
calls for any device that has it); colours are faithful (the global brightness is meant
for LEDs in a dark room; on a monitor, 20 % would be near-black).
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import io
import logging
import os
import select
import signal
import sys
import termios
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from types import FrameType
from typing import Any, TextIO

from led_agent.backends import DeviceError, Frame, PodSource
from led_agent.backends.terminal_layout import NodeRow, Progress, View, layout, paint, plain_lines

ENTER = "\x1b[?1049h\x1b[?25l\x1b[?7l"  # alternate screen, cursor hidden, no auto-wrap
LEAVE = "\x1b[0m\x1b[?1049l\x1b[?25h\x1b[?7h"  # the main screen, then cursor and wrap on it
TICK_SECONDS = 0.25
TRANSCRIPT_LINES = 1000
DEFAULT_SIZE = (80, 24)

Size = tuple[int, int]  # columns, lines


def uses_screen(stream: TextIO) -> bool:
    try:
        return stream.isatty() and os.environ.get("TERM", "") not in ("", "dumb")
    except (OSError, ValueError):
        return False


class TerminalDevice:
    """The view of ``nodes`` (more join as frames for them arrive) on ``stream``."""

    def __init__(self, nodes: Sequence[str], *, stream: TextIO, leds: int | None = None, screen: bool | None = None,
                 size: Callable[[], Size] | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream
        self._leds = leds
        self._frames: dict[str, Frame] = dict.fromkeys(nodes, ())
        self._messages: collections.deque[str] = collections.deque(maxlen=TRANSCRIPT_LINES)
        self._incoming: collections.deque[str] = collections.deque()  # appended by log calls and nothing else
        self._progress: Progress | None = None
        self._source: PodSource | None = None
        self._clock = clock
        self._size = size or self._terminal_size
        self._lock = threading.RLock()  # one drawer at a time: render thread, demo threads, ticker
        self._screen = uses_screen(stream) if screen is None else screen
        self._painted: list[str] | None = None
        self._plain: dict[str, str] = {}
        self._closed = False
        self.progress_errors = 0
        self._wakeup: tuple[int, int] | None = None  # a pipe: SIGWINCH's handler and close wake the ticker
        self._restorers: list[Callable[[], None]] = []
        self._ticker: threading.Thread | None = None
        if self._screen:
            self._open_screen()

    # -- what the agent and the demo call ------------------------------------------------

    def follow(self, source: PodSource) -> None:
        """Take pod counts and watcher statuses from ``source`` (the agent's board)."""
        with self._lock:
            self._source = source

    def show(self, frames: Mapping[str, Frame], brightness: float) -> None:
        with self._lock:
            self._frames.update(frames)
            self._draw()

    def print_above(self, line: str) -> None:
        """Show a line (a step of the demo, say) above the LEDs; on a pipe (or once closed), print it."""
        with self._lock:
            if self._screen:
                self._messages.append(line)
                self._draw()
            else:
                self._write(line + "\n")

    def set_progress(self, progress: Progress | None) -> None:
        """The running plan's progress, shown above the LEDs (None: no plan).

        Called from the plan's thread, it never raises: a stream that is gone is counted
        here (``progress_errors``) and reported by the render loop's next write."""
        with self._lock:
            self._progress = progress
            try:
                self._draw()
            except DeviceError:
                self.progress_errors += 1

    def close(self) -> None:
        """Restore the terminal (idempotent) and print on the shell's screen what the view said."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self._ticker is not None:
            self._wake_ticker()
            self._ticker.join(5)
        with self._lock:
            if self._screen:
                self._take_incoming()
                self._restore()
                self._screen = False  # from now on, plain lines
                self._write("".join(f"{line}\n" for line in self._messages))

    # -- drawing ---------------------------------------------------------------------------

    def _view(self) -> View:
        rows = tuple(self._row(name, frame) for name, frame in self._frames.items())
        leds = self._leds or max((len(f) for f in self._frames.values()), default=0)
        return View(nodes=rows, leds=leds, messages=tuple(self._messages), progress=self._progress)

    def _row(self, name: str, frame: Frame) -> NodeRow:
        if self._source is None:
            return NodeRow(name, frame)
        try:
            return NodeRow(name, frame, pods=len(self._source.entries(name)), status=self._source.status(name))
        except KeyError:  # a node the board does not show
            return NodeRow(name, frame)

    def _draw(self) -> None:
        if self._closed:
            return
        if self._screen:
            self._take_incoming()
            width, height = self._size()
            lines = layout(self._view(), width=width, height=height, now=self._clock())
            if lines != self._painted:
                self._write(paint(self._painted, lines, height=height))
                self._painted = lines
        else:
            self._print_changes()

    def _print_changes(self) -> None:
        lines = plain_lines(self._view())
        changed = [line for key, line in lines.items() if self._plain.get(key) != line]
        self._plain = lines
        if changed:
            self._write("".join(f"{line}\n" for line in changed))

    def _take_incoming(self) -> None:
        while self._incoming:
            self._messages.append(self._incoming.popleft())

    def _write(self, text: str) -> None:
        if not text:
            return
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError) as e:
            raise DeviceError(f"cannot draw on the terminal: {e}") from e

    def _terminal_size(self) -> Size:
        try:
            columns, lines = os.get_terminal_size(self._stream.fileno())
        except (OSError, ValueError, io.UnsupportedOperation):
            return DEFAULT_SIZE
        return (columns, lines) if columns > 0 and lines > 0 else DEFAULT_SIZE

    # -- the screen's life: open, tick, restore ----------------------------------------------

    def _open_screen(self) -> None:
        self._wakeup = os.pipe()
        os.set_blocking(self._wakeup[1], False)
        self._restorers.append(self._close_wakeup)
        self._write(ENTER)
        self._restorers.append(lambda: self._write(LEAVE))
        self._quiet_keyboard()
        self._catch_logs()
        self._watch_resizes()
        atexit.register(self.close)  # an exit without close (an exception out of main) still restores
        self._restorers.append(lambda: atexit.unregister(self.close))
        self._ticker = threading.Thread(target=self._tick, name="terminal-view", daemon=True)
        self._ticker.start()

    def _wake_ticker(self) -> None:
        if self._wakeup is not None:
            with contextlib.suppress(OSError):  # full: a wake-up is pending anyway
                os.write(self._wakeup[1], b"!")

    def _close_wakeup(self) -> None:
        wakeup, self._wakeup = self._wakeup, None
        for fd in wakeup or ():
            os.close(fd)

    def _tick(self) -> None:
        """Every TICK_SECONDS, or at once on a resize: take in log lines, turn pages, follow the size."""
        assert self._wakeup is not None
        readable, size = self._wakeup[0], self._size()
        while True:
            if select.select([readable], [], [], TICK_SECONDS)[0]:
                os.read(readable, 512)
            with self._lock:
                if self._closed:
                    return
                if (now_size := self._size()) != size:
                    size, self._painted = now_size, None  # a resize: repaint all of it
                try:
                    self._draw()
                except DeviceError:
                    return  # the stream is gone: the render loop reports it on its next write

    def _restore(self) -> None:
        """Undo what opening the screen did, newest first (also at interpreter exit)."""
        while self._restorers:
            undo = self._restorers.pop()
            with contextlib.suppress(OSError, ValueError, DeviceError):  # the rest of the list still runs
                undo()

    def _quiet_keyboard(self) -> None:
        """Keys typed while the view is up are not echoed into it, and dropped on exit; Ctrl-C still works."""
        try:
            fd = self._stream.fileno()
            saved = termios.tcgetattr(fd)
        except (OSError, ValueError, io.UnsupportedOperation, termios.error):
            return
        quiet = list(saved)
        quiet[3] &= ~termios.ECHO
        termios.tcsetattr(fd, termios.TCSANOW, quiet)
        self._restorers.append(lambda: termios.tcsetattr(fd, termios.TCSAFLUSH, saved))

    def _catch_logs(self) -> None:
        """Log handlers (and ``sys.stderr``) that write to a terminal write into the view while it is up."""
        sink = _LineSink(self._incoming)
        for handler in logging.getLogger().handlers:
            if type(handler) is logging.StreamHandler and _is_tty(handler.stream):
                self._restorers.append(_redirect(handler, sink))
        if _is_tty(sys.stderr):
            saved, sys.stderr = sys.stderr, sink
            self._restorers.append(lambda: setattr(sys, "stderr", saved))

    def _watch_resizes(self) -> None:
        def on_resize(_signum: int, _frame: FrameType | None) -> None:
            self._wake_ticker()  # the ticker redraws: a handler never draws, never takes a lock

        try:
            previous = signal.signal(signal.SIGWINCH, on_resize)
        except ValueError:  # not the main thread: the ticker notices the new size on its own
            return
        self._restorers.append(lambda: _set_handler(signal.SIGWINCH, previous))


def _redirect(handler: logging.StreamHandler[Any], sink: _LineSink) -> Callable[[], None]:
    old = handler.setStream(sink)

    def undo() -> None:
        if old is not None:
            handler.setStream(old)

    return undo


def _set_handler(signum: int, handler: Callable[[int, FrameType | None], Any] | int | None) -> None:
    signal.signal(signum, handler)


def _is_tty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, OSError, ValueError):
        return False


class _LineSink(io.TextIOBase):
    """A text stream whose complete lines go to ``lines``: a deque, safe from any thread and any signal handler."""

    def __init__(self, lines: collections.deque[str]) -> None:
        super().__init__()
        self._lines = lines
        self._partial = ""

    def write(self, text: str) -> int:
        *complete, self._partial = (self._partial + text).split("\n")
        self._lines.extend(line for line in complete if line)
        return len(text)

    def isatty(self) -> bool:
        return False
