"""Clocks for the simulated cluster: virtual for tests, real (optionally sped up) for the demo.

Every timing in the cluster (startup delays, minReadySeconds, grace periods) is in
*cluster seconds* read from one ``Clock``; the demo can run at ``speed=2`` and every
timing halves in wall time, and tests jump a ``VirtualClock`` from timer to timer
without sleeping.

``now()`` is a monotonic float of cluster seconds since the clock started; ``wall()``
is the matching UTC datetime, used for the pods' timestamps (pass ``clock.wall`` as
the ``PodStore``'s clock so creationTimestamp agrees). ``sleep_until(t)`` is the only
way the cluster waits: a virtual clock jumps there, a real one sleeps.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

# A fixed start makes virtual runs reproducible down to the timestamps.
VIRTUAL_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


class Clock(Protocol):
    def now(self) -> float: ...

    def wall(self) -> datetime: ...

    def sleep_until(self, moment: float) -> None: ...


class VirtualClock:
    """Time that moves only when told to; thread-safe."""

    def __init__(self, start: float = 0.0, *, epoch: datetime = VIRTUAL_EPOCH) -> None:
        self._now = start
        self._epoch = epoch
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def wall(self) -> datetime:
        return self._epoch + timedelta(seconds=self.now())

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError(f"a clock does not go back: advance({seconds})")
        with self._lock:
            self._now += seconds
            return self._now

    def sleep_until(self, moment: float) -> None:
        with self._lock:
            self._now = max(self._now, moment)


class RealClock:
    """Monotonic wall time, ``speed`` cluster seconds per real second."""

    def __init__(self, speed: float = 1.0) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.speed = speed
        self._started = time.monotonic()
        self._epoch = datetime.now(UTC)

    def now(self) -> float:
        return (time.monotonic() - self._started) * self.speed

    def wall(self) -> datetime:
        return self._epoch + timedelta(seconds=self.now())

    def sleep_until(self, moment: float) -> None:
        delay = (moment - self.now()) / self.speed
        if delay > 0:
            time.sleep(delay)
