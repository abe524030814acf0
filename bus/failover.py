"""Where and when to reconnect, and when to stop: the connection's policies, pure.

``bus.connection`` asks these before every connection attempt and tells them what
happened; they decide nothing by the wall clock of their own (the clock and the random
source are injected), so they are tested with tables and hypothesis.

:class:`Rotation` — a failover list tried in order:

- the first attempt goes to the first broker, at once;
- every later attempt goes to the next broker of the list (wrapping around), whether
  the previous attempt failed or a connection was lost. A broker that answers is kept
  until it is lost: falling back to the first one would cost every client a reconnect;
- attempts run in *rounds* of one attempt per broker. The first attempt of round ``r``
  (``r`` counts rounds since the last successful connection) waits ``min(max_delay,
  base * 2**r)``, jittered uniformly down to half of it; the other attempts of a round
  follow at once. With the defaults (0.1 s → 1 s) a broker that comes back is found
  within about a second, and one that stays down sees at most one attempt a second
  from each client, spread by the jitter so a fleet does not knock in step.

:class:`TakeoverWatch` — MQTT 3.1.1 cannot say why a broker closed a connection, but a
broker that closes ours right after accepting it, again and again, while every attempt
to reconnect succeeds, is either handing our client id to another client each time
(two processes with one id push each other out forever; with our reconnect delays each
holds the session for about a tenth of a second), or refusing something we send (NATS
refuses ``.`` in topics, RabbitMQ a topic the ACL denies). ``limit`` such connections
in a row, each lost within ``short`` seconds of its CONNACK, say so. A failed attempt
in between means a broker really went away (a crash, a restart): the count starts
again. (MQTT 5 says it plainly: reason code 0x8E, "Session taken over"; see
:data:`SESSION_TAKEN_OVER`.)
"""

from __future__ import annotations

import random as _random
import time
from collections.abc import Callable
from dataclasses import dataclass

SESSION_TAKEN_OVER = 0x8E  # MQTT 5 DISCONNECT reason code

BASE_DELAY_SECONDS = 0.1
MAX_DELAY_SECONDS = 1.0
SHORT_CONNECTION_SECONDS = 1.0
SHORT_CONNECTIONS_LIMIT = 3


@dataclass(frozen=True)
class Attempt:
    """The next connection attempt: which broker of the list, after how many seconds."""

    index: int
    delay: float


class Rotation:
    """The order and pace of attempts over ``count`` brokers (see the module docstring)."""

    def __init__(self, count: int, *, base: float = BASE_DELAY_SECONDS, max_delay: float = MAX_DELAY_SECONDS,
                 random: Callable[[], float] = _random.random) -> None:
        if count < 1:
            raise ValueError("a rotation needs at least one broker")
        if not 0 < base <= max_delay:
            raise ValueError("delays must satisfy 0 < base <= max_delay")
        self.count = count
        self.base = base
        self.max_delay = max_delay
        self._random = random
        self.index = 0
        self._attempts_since_connected = 0
        self._started = False

    def next(self) -> Attempt:
        """The attempt to make now (the first goes to broker 0 without delay)."""
        if not self._started:
            self._started = True
            self._attempts_since_connected = 1
            return Attempt(0, 0.0)
        attempt = self._attempts_since_connected
        self._attempts_since_connected += 1
        self.index = (self.index + 1) % self.count
        if attempt % self.count:
            return Attempt(self.index, 0.0)
        return Attempt(self.index, self._jittered(self.round_delay(attempt // self.count)))

    def connected(self) -> None:
        """The current broker answered: the next loss starts again from round 0."""
        self._attempts_since_connected = 0

    @property
    def upcoming(self) -> int:
        """The broker the next attempt will go to (for log lines)."""
        return (self.index + 1) % self.count if self._started else 0

    def round_delay(self, round_number: int) -> float:
        """The un-jittered wait before round ``round_number``."""
        return min(self.max_delay, self.base * 2.0 ** min(round_number, 32))

    def _jittered(self, delay: float) -> float:
        return delay * (0.5 + 0.5 * self._random())


class TakeoverWatch:
    """Counts connections the broker closed right after accepting them, in a row."""

    def __init__(self, *, short: float = SHORT_CONNECTION_SECONDS, limit: int = SHORT_CONNECTIONS_LIMIT,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.short = short
        self.limit = limit
        self._clock = clock
        self._since: float | None = None
        self.in_a_row = 0

    def connected(self) -> None:
        self._since = self._clock()

    def failed(self) -> None:
        """An attempt that did not connect: a broker went away, no takeover; start counting again."""
        self.in_a_row = 0

    def lost(self) -> bool:
        """A connection the broker closed; True when it makes ``limit`` short ones in a row."""
        since, self._since = self._since, None
        if since is None:
            return False
        if self._clock() - since >= self.short:
            self.in_a_row = 0
            return False
        self.in_a_row += 1
        return self.in_a_row >= self.limit
