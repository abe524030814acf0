"""Exponential backoff with full jitter, and jittered watch timeouts. Pure.

Mirrors client-go: a watch asks the server to end it after a random time between
``min_watch_timeout`` and twice that (so thousands of watchers do not reconnect in
step), and errors back off exponentially (capped) with jitter, reset after success.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    initial: float = 0.8
    cap: float = 30.0
    factor: float = 2.0
    rng: random.Random = field(default_factory=random.Random)
    _attempt: int = 0

    def next_delay(self, *, at_least: float = 0.0) -> float:
        """The wait before the next attempt: jittered in [base/2, base], never below ``at_least``."""
        base = min(self.cap, self.initial * self.factor**self._attempt)
        self._attempt += 1
        return max(at_least, base / 2 + self.rng.random() * base / 2)

    def reset(self) -> None:
        self._attempt = 0


def jittered_watch_timeout(min_seconds: float, rng: random.Random) -> int:
    """Server-side ``timeoutSeconds`` for one watch: uniform in [min, 2·min)."""
    return int(min_seconds * (1 + rng.random()))
