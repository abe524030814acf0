"""A watch body → events (watcher/streams.py): line splitting, event parsing, the stall watchdog."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.support.clocks import FakeClock
from watcher.errors import ApiRejected, Expired, Stalled, StreamBroken
from watcher.streams import iter_lines, parse_event, read_events


def lines(chunks: list[bytes]) -> list[bytes]:
    return list(iter_lines(chunks, stall_after=lambda: 60, clock=FakeClock()))


def test_lines_split_across_chunks() -> None:
    assert lines([b'{"a"', b':1}\n{"b":2}\n', b"\n", b'{"c":3}']) == [b'{"a":1}', b'{"b":2}', b'{"c":3}']


def test_events_parse() -> None:
    line = json.dumps({"type": "ADDED", "object": {"metadata": {"name": "x"}}}).encode()
    assert parse_event(line) == ("ADDED", {"metadata": {"name": "x"}})


@pytest.mark.parametrize("line", [b"garbage", b"[]", b'{"type":"ADDED"}', b'{"type":1,"object":{}}',
                                  b'{"type":"ADDED","object":[]}', b"[" * 100_000, b"1" * 5000])
def test_garbage_breaks_the_stream(line: bytes) -> None:
    with pytest.raises(StreamBroken):
        parse_event(line)


def test_410_error_event_means_expired() -> None:
    status = {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old resource version: 1 (5)"}
    with pytest.raises(Expired, match="too old"):
        parse_event(json.dumps({"type": "ERROR", "object": status}).encode())


@pytest.mark.parametrize(("code", "status"), [(500, 500), ("500", 0), (None, 0)])
def test_other_error_events_are_rejections(code: object, status: int) -> None:
    with pytest.raises(ApiRejected) as info:
        parse_event(json.dumps({"type": "ERROR", "object": {"code": code, "message": "boom"}}).encode())
    assert info.value.status == status


def test_watchdog_fires_when_bytes_trickle_without_an_event() -> None:
    clock = FakeClock()

    def trickle() -> Iterator[bytes]:
        yield b'{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"5"}}}\n'
        for _ in range(100):
            clock.advance(1)
            yield b" "

    started = clock.now
    stream = read_events(trickle(), stall_after=lambda: 30, clock=clock)
    assert next(stream)[0] == "BOOKMARK"
    with pytest.raises(Stalled, match="stalled"):
        list(stream)
    assert clock.now - started == 31


def test_the_watchdog_follows_a_tightened_limit() -> None:
    clock = FakeClock()
    limit = [30.0]

    def trickle() -> Iterator[bytes]:
        yield b'{"type":"BOOKMARK","object":{}}\n'
        limit[0] = 3.0
        for _ in range(100):
            clock.advance(1)
            yield b" "

    started = clock.now
    with pytest.raises(Stalled):
        list(read_events(trickle(), stall_after=lambda: limit[0], clock=clock))
    assert clock.now - started == 4
