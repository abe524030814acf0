"""Pure parts of the Kubernetes adapter: line splitting, event parsing, the watchdog, backoff."""

import json
import random
from collections.abc import Iterator

import pytest

from watcher.backoff import Backoff, jittered_watch_timeout
from watcher.kube import ApiRejected, Expired, StreamBroken, iter_lines, parse_event, read_events


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def lines(chunks: list[bytes]) -> list[bytes]:
    return list(iter_lines(chunks, watchdog=60, clock=FakeClock()))


def test_lines_split_across_chunks() -> None:
    assert lines([b'{"a"', b':1}\n{"b":2}\n', b"\n", b'{"c":3}']) == [b'{"a":1}', b'{"b":2}', b'{"c":3}']


def test_events_parse() -> None:
    line = json.dumps({"type": "ADDED", "object": {"metadata": {"name": "x"}}}).encode()
    assert parse_event(line) == ("ADDED", {"metadata": {"name": "x"}})


@pytest.mark.parametrize("line", [b"garbage", b"[]", b'{"type":"ADDED"}', b'{"type":1,"object":{}}'])
def test_garbage_breaks_the_stream(line: bytes) -> None:
    with pytest.raises(StreamBroken):
        parse_event(line)


def test_410_error_event_means_expired() -> None:
    status = {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old resource version: 1 (5)"}
    with pytest.raises(Expired, match="too old"):
        parse_event(json.dumps({"type": "ERROR", "object": status}).encode())


def test_other_error_events_are_rejections() -> None:
    with pytest.raises(ApiRejected) as info:
        parse_event(json.dumps({"type": "ERROR", "object": {"code": 500, "message": "boom"}}).encode())
    assert info.value.status == 500


def test_watchdog_fires_when_bytes_trickle_without_an_event() -> None:
    clock = FakeClock()

    def trickle() -> Iterator[bytes]:
        yield b'{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"5"}}}\n'
        for _ in range(100):
            clock.now += 1
            yield b" "

    stream = read_events(trickle(), watchdog=30, clock=clock)
    assert next(stream)[0] == "BOOKMARK"
    with pytest.raises(StreamBroken, match="stalled"):
        list(stream)
    assert clock.now == 31


def test_backoff_grows_with_jitter_is_capped_and_resets() -> None:
    backoff = Backoff(initial=1, cap=8, rng=random.Random(1))
    delays = [backoff.next_delay() for _ in range(6)]
    bases = [1, 2, 4, 8, 8, 8]
    assert all(b / 2 <= d <= b for d, b in zip(delays, bases, strict=True))
    assert backoff.next_delay(at_least=20) == 20
    backoff.reset()
    assert backoff.next_delay() <= 1


def test_watch_timeouts_are_jittered_between_min_and_twice_min() -> None:
    rng = random.Random(7)
    timeouts = {jittered_watch_timeout(300, rng) for _ in range(200)}
    assert min(timeouts) >= 300
    assert max(timeouts) < 600
    assert len(timeouts) > 50
