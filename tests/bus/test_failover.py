"""The reconnect policies, on a fake clock and a fixed random source: order, pace, bounds, takeovers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bus.failover import Attempt, Rotation, TakeoverWatch
from tests.support.clocks import FakeClock


def attempts(rotation: Rotation, n: int) -> list[Attempt]:
    return [rotation.next() for _ in range(n)]


def test_one_broker_starts_at_once_then_doubles_up_to_a_second() -> None:
    rotation = Rotation(1, random=lambda: 1.0)  # no jitter: the upper bound of each wait
    assert [a.delay for a in attempts(rotation, 7)] == [0.0, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0]
    rotation.connected()
    assert [a.delay for a in attempts(rotation, 3)] == [0.1, 0.2, 0.4]  # a loss starts again from round 0


def test_three_brokers_are_tried_in_rounds_and_a_loss_moves_to_the_next() -> None:
    rotation = Rotation(3, random=lambda: 1.0)
    assert attempts(rotation, 7) == [Attempt(0, 0.0), Attempt(1, 0.0), Attempt(2, 0.0), Attempt(0, 0.2),
                                     Attempt(1, 0.0), Attempt(2, 0.0), Attempt(0, 0.4)]
    rotation.connected()  # broker 0 answered; it is kept until lost
    assert rotation.upcoming == 1
    assert attempts(rotation, 4) == [Attempt(1, 0.1), Attempt(2, 0.0), Attempt(0, 0.0), Attempt(1, 0.2)]


def test_jitter_spreads_each_wait_down_to_half() -> None:
    low, high = Rotation(1, random=lambda: 0.0), Rotation(1, random=lambda: 0.999)
    for _ in range(10):
        a, b = low.next(), high.next()
        assert a.delay == pytest.approx(0.0) or a.delay * 2 == pytest.approx(b.delay, rel=0.01)


@pytest.mark.parametrize(("count", "base", "max_delay"), [(0, 0.1, 1.0), (1, 0, 1.0), (1, 2.0, 1.0)])
def test_bad_settings_are_refused(count: int, base: float, max_delay: float) -> None:
    with pytest.raises(ValueError):
        Rotation(count, base=base, max_delay=max_delay)


events = st.lists(st.sampled_from(["attempt", "connected"]), max_size=200)


@given(st.integers(1, 5), events, st.floats(0, 1, exclude_max=True))
def test_bounded_and_fair_whatever_happens(count: int, history: list[str], noise: float) -> None:
    rotation = Rotation(count, random=lambda: noise)
    made: list[Attempt] = []
    for event in history:
        if event == "connected" and made:
            rotation.connected()
        else:
            made.append(rotation.next())
    assert all(0 <= a.delay <= rotation.max_delay for a in made)  # never more than a second
    for i in range(len(made) - count + 1):  # every broker within any `count` attempts in a row
        assert {a.index for a in made[i : i + count]} == set(range(count))
    waits = [a.delay for a in made]  # while all are down, at most one attempt per broker per round delay
    assert all(w >= rotation.base * 0.5 or w == 0 for w in waits)


@given(st.integers(1, 4), st.integers(0, 60))
def test_a_broker_that_comes_back_is_found_within_a_second_per_round(count: int, down_rounds: int) -> None:
    rotation = Rotation(count, random=lambda: 1.0)
    made = attempts(rotation, down_rounds * count + count)
    last_round = made[-count:]  # the broker returned just after the round before: this round reaches it
    assert sum(a.delay for a in last_round) <= rotation.max_delay


def losses(watch: TakeoverWatch, clock: FakeClock, lasting: list[float]) -> list[bool]:
    """Connections that lasted ``lasting`` seconds each, then were lost: what the watch said each time."""
    said = []
    for seconds in lasting:
        watch.connected()
        clock.advance(seconds)
        said.append(watch.lost())
    return said


def test_the_takeover_watch_counts_short_connections_in_a_row(clock: FakeClock) -> None:
    watch = TakeoverWatch(short=3.0, limit=3, clock=clock)
    assert losses(watch, clock, [0.5, 0.5, 4.0]) == [False, False, False]  # a healthy one: start again
    assert watch.in_a_row == 0
    assert losses(watch, clock, [2.9, 2.9, 2.9]) == [False, False, True]


def test_the_default_window_is_a_second(clock: FakeClock) -> None:
    watch = TakeoverWatch(clock=clock)
    assert losses(watch, clock, [1.5] * 3) == [False] * 3  # brokers restarted every 1.5 s: not a takeover
    assert losses(watch, clock, [0.2] * 3) == [False, False, True]


def test_a_failed_attempt_in_between_means_a_broker_went_away_not_a_takeover(clock: FakeClock) -> None:
    watch = TakeoverWatch(short=1.0, limit=3, clock=clock)
    assert losses(watch, clock, [0.1, 0.1]) == [False, False]
    watch.failed()  # refused: the broker is down (a crash loop, a restart)
    assert losses(watch, clock, [0.1]) == [False] and watch.in_a_row == 1


def test_a_loss_without_a_connection_is_not_counted(clock: FakeClock) -> None:
    watch = TakeoverWatch(clock=clock)
    assert not watch.lost() and watch.in_a_row == 0
