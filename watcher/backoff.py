"""Exponential backoff with full jitter, and jittered watch timeouts. Pure.

Mostly client-go: a watch asks the server to end it after a random time between
``min_watch_timeout`` and twice that (so thousands of watchers do not reconnect in
step), and errors back off exponentially (from 0.8 s, capped at 30 s) with jitter. The
loop resets the backoff after every healthy stream (``watching.py``), so one blip after
earlier, unrelated ones costs the first delay again, not the cap.

The factor is 1.5, not client-go's 2: a burst of a few failures (an API server
restarting, a handful of 500s) is then followed by a wait of seconds, not half a
minute, while a long outage still reaches the 30 s cap within about a minute and a
half (ten failures), which is what protects a struggling server from thousands of
watchers.

A server that says when to come back (429 with Retry-After) is believed: the wait is
its hint plus up to 20 % (so a crowd of watchers told the same second spreads out),
not our own exponential guess.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

HINT_JITTER = 0.2


@dataclass
class Backoff:
    initial: float = 0.8
    cap: float = 30.0
    factor: float = 1.5
    rng: random.Random = field(default_factory=random.Random)
    _attempt: int = 0

    def next_delay(self) -> float:
        """The wait before the next attempt: jittered in [base/2, base]."""
        base = min(self.cap, self.initial * self.factor**self._attempt)
        self._attempt += 1
        return base / 2 + self.rng.random() * base / 2

    def after_hint(self, seconds: float) -> float:
        """The wait the server asked for (Retry-After), jittered up by at most 20 %."""
        if seconds <= 0:
            return self.next_delay()
        self._attempt += 1
        return seconds * (1 + HINT_JITTER * self.rng.random())

    def reset(self) -> None:
        self._attempt = 0


def jittered_watch_timeout(min_seconds: float, rng: random.Random) -> int:
    """Server-side ``timeoutSeconds`` for one watch: uniform in [min, 2·min)."""
    return int(min_seconds * (1 + rng.random()))
