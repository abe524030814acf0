import logging

import pytest

from bus.ratelimit import RateLimitedLog

log = logging.getLogger("tests.ratelimit")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_counts_every_report_and_logs_once_per_kind_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    limited = RateLimitedLog(log, interval=10, clock=clock)
    with caplog.at_level(logging.WARNING, logger=log.name):
        logged = [limited.report("a", "bad %s", i) for i in range(3)]
        logged.append(limited.report("b", "other"))
        clock.now = 9.9
        logged.append(limited.report("a", "bad %s", 9))
        clock.now = 10.0
        logged.append(limited.report("a", "bad %s", 10))
    assert logged == [True, False, False, True, False, True]
    assert [r.getMessage() for r in caplog.records] == [
        "[a] bad 0",
        "[b] other",
        "[a] bad 10 (3 more of kind 'a' suppressed)",
    ]
    assert limited.counts == {"a": 5, "b": 1}
    assert limited.total == 6


def test_level_is_configurable(caplog: pytest.LogCaptureFixture) -> None:
    limited = RateLimitedLog(log, level=logging.INFO, clock=Clock())
    with caplog.at_level(logging.INFO, logger=log.name):
        limited.report("x", "hello")
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [(logging.INFO, "[x] hello")]


def test_a_traceback_goes_only_with_a_logged_line(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    limited = RateLimitedLog(log, interval=10, clock=clock)
    error = ValueError("bug")
    with caplog.at_level(logging.WARNING, logger=log.name):
        for _ in range(5):
            limited.report("internal_error", "failed: %r", error, exc_info=error)
    [record] = caplog.records
    assert record.exc_info is not None and record.exc_info[1] is error
    assert limited.counts == {"internal_error": 5}
