"""The cluster executor: plan steps run for real with helm and kubectl, or printed (dry run).

Each step becomes the command lines of ``console.executors.commands``; this module only
runs them. A dry run prints every line (pauses as ``# …`` comments) to ``out`` and
returns at once, so ``--dry-run`` shows the exact commands a plan would run.

Running: every command is logged (``$ helm …``) before it starts; its output lines are
logged when it ends. A non-zero exit is ``CommandFailed`` with the command line and the
tail of its stderr; helm or kubectl missing from PATH is ``ToolMissing``. Only
read-only waits (``kubectl rollout status``) are cut short by an abort; helm commands
always run to their end (see ``console.executors``).

The route's chart (``route_chart_dir``) defaults to the directory ``whoami-route`` next
to the app's chart (``./whoami/`` → ``./whoami-route/``, ``helm/whoami`` →
``helm/whoami-route``): the repository keeps them side by side under ``helm/``.

The command runner is injectable (``run``): the default starts a subprocess and polls
it, so the tests drive the real code path through fake ``helm``/``kubectl`` scripts on
PATH, and other callers can swap in anything with the same signature.

Errors: ``ToolMissing``, ``CommandFailed`` (both ``ExecutorError``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TextIO

from console.executors import CommandFailed, LogLine, ToolMissing
from console.executors.commands import CommandConfig, RouteKind, commands, comment, shell_line
from console.plans import ClusterStep, Pause, WaitReady

ROUTE_CHART = "whoami-route"
STDERR_TAIL_LINES = 5
OUTPUT_LOG_LINES = 20
_POLL_S = 0.1


@dataclass(frozen=True)
class Completed:
    returncode: int
    stdout: str
    stderr: str
    cancelled: bool = False


class CommandRunner(Protocol):
    def __call__(self, argv: Sequence[str], *, cancel: threading.Event | None) -> Completed: ...


def run_command(argv: Sequence[str], *, cancel: threading.Event | None) -> Completed:
    """Run ``argv`` to its end, or terminate it once ``cancel`` is set (when given)."""
    try:
        proc = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    except FileNotFoundError as e:
        raise ToolMissing(f"{argv[0]} not found on PATH: install it, or use --dry-run to see the commands") from e
    while True:
        try:
            out, err = proc.communicate(timeout=_POLL_S)
            return Completed(proc.returncode, out, err)
        except subprocess.TimeoutExpired:
            if cancel is not None and cancel.is_set():
                proc.terminate()
                out, err = proc.communicate()
                return Completed(proc.returncode, out, err, cancelled=True)


def sibling_chart(chart: str, name: str) -> str:
    """The directory ``name`` next to the chart directory ``chart``, spelt the same way."""
    trimmed = chart.rstrip("/" + os.sep)
    parent = os.path.dirname(trimmed) or "."
    sibling = os.path.join(parent, name)
    return sibling + "/" if trimmed != chart else sibling


class ClusterExecutor:
    def __init__(
        self,
        chart_dir: str | os.PathLike[str] = "./whoami/",
        *,
        namespace: str | None = None,
        route_chart_dir: str | os.PathLike[str] | None = None,
        route_kind: RouteKind = "httproute",
        service_port: int = 80,
        dry_run: bool = False,
        run: CommandRunner = run_command,
        out: TextIO | None = None,
    ) -> None:
        chart = os.fspath(chart_dir)
        route_chart = sibling_chart(chart, ROUTE_CHART) if route_chart_dir is None else os.fspath(route_chart_dir)
        self.config = CommandConfig(chart, namespace, route_kind, service_port, route_chart)
        self.dry_run = dry_run
        self._run = run
        self._out = out

    def missing_tools(self) -> list[str]:
        """helm/kubectl not found on PATH (none are needed for a dry run)."""
        return [] if self.dry_run else [tool for tool in ("helm", "kubectl") if shutil.which(tool) is None]

    def commands(self, step: ClusterStep) -> list[list[str]]:
        """The argv lists ``step`` runs (for showing them before a run)."""
        return commands(step, self.config)

    def execute(self, step: ClusterStep, *, log: LogLine, cancel: threading.Event) -> None:
        argvs = commands(step, self.config)
        if self.dry_run:
            self._print(*(shell_line(argv) for argv in argvs))
            return
        for argv in argvs:
            self._run_one(argv, log=log, cancel=cancel if isinstance(step, WaitReady) else None)

    def pause(self, seconds: float | None, *, wake: threading.Event, log: LogLine) -> None:
        if self.dry_run:
            self._print(comment(Pause(seconds)))
            return
        wake.wait(seconds)

    def _run_one(self, argv: list[str], *, log: LogLine, cancel: threading.Event | None) -> None:
        line = shell_line(argv)
        log(f"$ {line}")
        done = self._run(argv, cancel=cancel)
        for output in _tail(done.stdout, OUTPUT_LOG_LINES):
            log(output)
        if done.cancelled:
            log(f"interrupted by abort: {line}")
            return
        if done.returncode != 0:
            raise CommandFailed(line, done.returncode, " | ".join(_tail(done.stderr, STDERR_TAIL_LINES)))

    def _print(self, *lines: str) -> None:
        out = self._out or sys.stdout
        for line in lines:
            print(line, file=out, flush=True)
        out.flush()


def _tail(text: str, count: int) -> list[str]:
    return [line for line in text.splitlines() if line.strip()][-count:]
