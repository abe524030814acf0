"""A real terminal to run a program in: tmux on a private server socket, read with capture-pane.

Each :class:`Tmux` starts its own server on a socket in a temporary folder of its own
(``tmux -S <folder>/socket -f <folder>/tmux.conf``), so it never meets a user's sessions
or another test's, and :meth:`Tmux.kill` ends it and removes the folder (a ``-L`` name
would leave a socket file in ``/tmp/tmux-<uid>`` behind each time). The
config keeps a dead pane on screen (``remain-on-exit``), so a test can read what the
program left behind after it ended, and sets a large history so that anything scrolled
off the top is counted in ``#{history_size}``.

The program runs under a small ``sh`` that writes its exit status to a file, and the
terminal's settings (``stty -a``) before and after it, so a test can check that a
program gave the terminal back as it found it; then it sleeps, so the pane stays alive
with the program's last screen, as a shell's prompt would (tmux reports a dead pane's
modes wrongly: its cursor hidden after a program used the alternate screen). tmux 3.3
does not always record a pane's status (seen here: a process that ended on Ctrl-C left
as an unreaped zombie, ``#{pane_dead_status}`` empty). The shell traps SIGINT and
SIGTERM with a command, so it waits for the program and the program starts with the
default handlers (a trapped signal is reset on ``exec``; an ignored one would not be).

:meth:`Tmux.screen` is the pane's visible text (the alternate screen while a program uses
it), :meth:`Tmux.styled` the same with tmux's SGR escapes (``capture-pane -e``: 24-bit
colours as ``38;2;r;g;b``), :meth:`Tmux.history` what scrolled into the scrollback.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

CONFIG = "set -g remain-on-exit on\nset -g history-limit 50000\nset -g status off\n"
SGR = re.compile(r"\x1b\[([0-9;:]*)m")
TRUECOLOR_BLOCK = re.compile(r"\x1b\[(?:[0-9;]*;)?38;2;(\d+);(\d+);(\d+)(?:;[0-9;]*)?m(█+)")


def tmux_available() -> bool:
    return shutil.which("tmux") is not None


def lit_colors(styled_line: str) -> list[tuple[int, int, int]]:
    """The 24-bit colours of the runs of ``█`` in a line of ``capture-pane -e`` output (tmux joins equal cells)."""
    return [(int(r), int(g), int(b)) for r, g, b, _ in TRUECOLOR_BLOCK.findall(styled_line)]


class Tmux:
    """One tmux server with one session running ``command`` in a ``width`` by ``height`` pane."""

    def __init__(self, command: Sequence[str], *, width: int, height: int, cwd: Path | None = None,
                 env: Mapping[str, str] | None = None, unset: Sequence[str] = ()) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="shinealight-tmux-"))
        config = self._dir / "tmux.conf"
        config.write_text(CONFIG)
        self._base = ["tmux", "-S", str(self._dir / "socket"), "-f", str(config)]
        environment = {**os.environ, **(env or {})}
        for name in ("TMUX", *unset):  # never attach to the tmux a developer runs the suite in
            environment.pop(name, None)
        self._env = environment
        self._status = self._dir / "status"
        exports = "".join(f"{k}={shlex.quote(v)} " for k, v in (env or {}).items())
        where = shlex.quote(str(self._dir))
        unsets = "".join(f"unset {shlex.quote(name)}; " for name in unset)
        line = (f"trap : INT TERM; {unsets}stty -a > {where}/stty-before; {exports}{shlex.join(command)}; "
                f"echo $? > {where}/status.new; stty -a > {where}/stty-after; mv {where}/status.new {where}/status; "
                "exec sleep 3600")  # a live pane, as a shell's prompt would be: tmux reports a dead one's modes wrongly
        self._run("new-session", "-d", "-s", "main", "-x", str(width), "-y", str(height),
                  *(["-c", str(cwd)] if cwd else []), line)

    def _run(self, *args: str) -> str:
        done = subprocess.run([*self._base, *args], env=self._env, capture_output=True, text=True, timeout=30,
                              check=False)
        if done.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args[:2])} failed: {done.stderr.strip()}")
        return done.stdout

    def display(self, format_: str) -> str:
        return self._run("display-message", "-p", "-t", "main", format_).strip()

    def screen(self) -> list[str]:
        return self._run("capture-pane", "-p", "-t", "main").splitlines()

    def joined(self) -> list[str]:
        """The screen with the lines the terminal wrapped joined again (``capture-pane -J``)."""
        return self._run("capture-pane", "-p", "-J", "-t", "main").splitlines()

    def styled(self) -> list[str]:
        return self._run("capture-pane", "-p", "-e", "-t", "main").splitlines()

    def history(self) -> list[str]:
        """The lines in the scrollback above the visible screen."""
        size = self.history_size
        if size == 0:
            return []
        return self._run("capture-pane", "-p", "-t", "main", "-S", f"-{size}", "-E", "-1").splitlines()

    @property
    def history_size(self) -> int:
        return int(self.display("#{history_size}"))

    @property
    def alternate_on(self) -> bool:
        return self.display("#{alternate_on}") == "1"

    @property
    def exit_status(self) -> int | None:
        """The program's exit status once it ended (128 + N if signal N ended it), else None."""
        try:
            return int(self._status.read_text())
        except (FileNotFoundError, ValueError):  # not yet ended, or the shell is writing it
            return None

    def program_pid(self) -> int:
        """The program's process id (a child of the pane's shell)."""
        shell = int(self.display("#{pane_pid}"))
        children = Path(f"/proc/{shell}/task/{shell}/children").read_text().split()
        assert len(children) == 1, f"the pane's shell runs {children}"
        return int(children[0])

    def tty_settings(self) -> tuple[str, str]:
        """``stty -a`` before the program started and after it ended."""
        return (self._dir / "stty-before").read_text(), (self._dir / "stty-after").read_text()

    def resize(self, width: int, height: int) -> None:
        self._run("resize-window", "-t", "main", "-x", str(width), "-y", str(height))

    def keys(self, *keys: str) -> None:
        self._run("send-keys", "-t", "main", *keys)

    def wait_for(self, predicate: Callable[[list[str]], object], *, styled: bool = False, timeout: float = 60.0,
                 what: str = "screen") -> list[str]:
        """Poll the screen until ``predicate(lines)`` holds; AssertionError with the last screen if not."""
        deadline = time.monotonic() + timeout
        while True:
            lines = self.styled() if styled else self.screen()
            if predicate(lines):
                return lines
            if time.monotonic() >= deadline:
                shown = "\n".join(self.screen())
                raise AssertionError(f"{what} not seen within {timeout:g} s; the screen:\n{shown}")
            time.sleep(0.1)

    def wait_ended(self, timeout: float = 30.0) -> int:
        """Wait for the program to end; its exit status."""
        deadline = time.monotonic() + timeout
        while (status := self.exit_status) is None:
            if time.monotonic() >= deadline:
                raise AssertionError(f"the program did not end within {timeout:g} s")
            time.sleep(0.1)
        return status

    def kill(self) -> None:
        """End the server (and whatever still runs in it) and remove its config."""
        subprocess.run([*self._base, "kill-server"], env=self._env, capture_output=True, timeout=30, check=False)
        shutil.rmtree(self._dir, ignore_errors=True)
