"""Fixtures of the LED agent's tests."""

from __future__ import annotations

import pytest

from tests.led_agent.builders import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
