"""A counting, rate-limited logger for bad input.

Bad input from the wire must be visible (logged, counted) but must not flood the log:
a broken publisher sending 1,000 garbage messages per second would otherwise bury
everything else and cost more than the messages themselves. So every report is counted
per *kind* (a short, stable label such as ``not_json``), and logged at most once per kind
per ``interval`` seconds; the next log line of that kind says how many were suppressed
in between. Time comes from an injected clock, so tests never sleep.

Not thread-safe by itself: callers report from one thread or under their own lock (the
agent's board and the watcher both already hold one).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable

DEFAULT_INTERVAL_SECONDS = 60.0


class RateLimitedLog:
    """Count reports per kind; log the first of each kind per interval."""

    def __init__(
        self,
        logger: logging.Logger,
        *,
        interval: float = DEFAULT_INTERVAL_SECONDS,
        level: int = logging.WARNING,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._interval = interval
        self._level = level
        self._clock = clock
        self.counts: Counter[str] = Counter()
        self._last_logged: dict[str, float] = {}
        self._suppressed: Counter[str] = Counter()

    def report(self, kind: str, message: str, *args: object, exc_info: BaseException | None = None) -> bool:
        """Count one ``kind``; log ``message % args`` unless logged within the interval.

        ``exc_info``: an exception whose traceback goes with the line (only with a logged
        line, so a repeating bug costs one traceback per interval). Returns whether a line
        was logged.
        """
        self.counts[kind] += 1
        now = self._clock()
        last = self._last_logged.get(kind)
        if last is not None and now - last < self._interval:
            self._suppressed[kind] += 1
            return False
        self._last_logged[kind] = now
        suppressed = self._suppressed.pop(kind, 0)
        suffix = f" ({suppressed} more of kind {kind!r} suppressed)" if suppressed else ""
        self._logger.log(self._level, "[%s] " + message + "%s", kind, *args, suffix, exc_info=exc_info)
        return True

    @property
    def total(self) -> int:
        return sum(self.counts.values())
