"""Backoff and watch timeouts (watcher/backoff.py): growth, cap, jitter, reset, the server's hint."""

from __future__ import annotations

import random

from watcher.backoff import Backoff, jittered_watch_timeout


def test_backoff_grows_with_jitter_is_capped_and_resets() -> None:
    backoff = Backoff(initial=1, cap=8, factor=2, rng=random.Random(1))
    delays = [backoff.next_delay() for _ in range(6)]
    bases = [1, 2, 4, 8, 8, 8]
    assert all(b / 2 <= d <= b for d, b in zip(delays, bases, strict=True))
    backoff.reset()
    assert backoff.next_delay() <= 1


def test_a_retry_after_hint_is_the_wait_plus_at_most_a_fifth() -> None:
    backoff = Backoff(initial=1, cap=8, rng=random.Random(2))
    waits = [backoff.after_hint(2) for _ in range(20)]
    assert all(2 <= w <= 2.4 for w in waits)
    assert len(set(waits)) > 10  # a crowd told the same second spreads out


def test_a_hint_of_zero_falls_back_to_the_backoff() -> None:
    backoff = Backoff(initial=1, cap=8, rng=random.Random(3))
    assert [0.5 <= backoff.after_hint(0) <= 1, 1 <= backoff.after_hint(-1) <= 2] == [True, True]


def test_watch_timeouts_are_jittered_between_min_and_twice_min() -> None:
    rng = random.Random(7)
    timeouts = {jittered_watch_timeout(300, rng) for _ in range(200)}
    assert min(timeouts) >= 300
    assert max(timeouts) < 600
    assert len(timeouts) > 50


def test_the_default_waits_seconds_after_a_few_failures_and_reaches_its_cap_at_the_tenth() -> None:
    backoff = Backoff(rng=random.Random(4))
    bases = [min(backoff.cap, backoff.initial * backoff.factor**k) for k in range(12)]
    assert bases[5] < 6.1 and bases[8] < backoff.cap == bases[9]
    assert 45 <= sum(backoff.next_delay() for _ in range(10)) <= 90  # ten failures: about a minute and a half
