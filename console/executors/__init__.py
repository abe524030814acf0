"""Executors: what carries a plan's steps out — the simulated cluster, or helm and kubectl.

Both implement ``Executor``; the ``PlanRunner`` knows nothing else about them.

- ``execute(step, *, log, cancel)`` carries out one step (never a ``Pause``) and returns
  when it is done. Long waits (``WaitReady``, the wait after a ``Delete``) return early
  once ``cancel`` is set: the runner sets it on abort, and the abort plan takes over.
  Requests that change the cluster (helm install/upgrade/uninstall, a route patch) are
  never cut short: an interrupted ``helm upgrade`` leaves a release stuck in
  ``pending-upgrade``, which is worse than waiting for it.
- ``pause(seconds, *, wake, log)`` waits ``seconds`` (``None``: until ``wake`` is set)
  on the executor's own clock, so a simulated pause takes virtual time in tests.
- ``log`` takes one human line for the step log (a command, a progress line).

Errors (one small tree for this boundary): ``ExecutorError`` — a step failed; its
message is what the user reads. ``CommandFailed`` (a non-zero exit: the command line
and the tail of its stderr), ``ToolMissing`` (helm or kubectl not on PATH),
``StepTimeout`` (not ready in time), ``ClusterRefused`` (the simulated cluster rejected
the request: unknown name, invalid spec).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from console.plans import ClusterStep

LogLine = Callable[[str], None]


class ExecutorError(Exception):
    """A step could not be carried out; the message says what and why."""


class CommandFailed(ExecutorError):
    def __init__(self, command: str, returncode: int, stderr_tail: str) -> None:
        detail = f": {stderr_tail}" if stderr_tail else ""
        super().__init__(f"`{command}` exited with {returncode}{detail}")
        self.command = command
        self.returncode = returncode
        self.stderr_tail = stderr_tail


class ToolMissing(ExecutorError):
    """helm or kubectl is not installed (or not on PATH)."""


class StepTimeout(ExecutorError):
    """A wait did not finish in time."""


class ClusterRefused(ExecutorError):
    """The simulated cluster rejected a request."""


class Executor(Protocol):
    def execute(self, step: ClusterStep, *, log: LogLine, cancel: threading.Event) -> None: ...

    def pause(self, seconds: float | None, *, wake: threading.Event, log: LogLine) -> None: ...
