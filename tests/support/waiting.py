"""Waiting for what other threads and processes do, without sleeping longer than needed.

Two shapes, used everywhere in the suite:

- :func:`wait_until` polls a predicate (for state behind someone else's lock: a board,
  a store, a process);
- :class:`Collector` keeps what arrives from another thread (messages, frames, log
  lines) and wakes a waiter on every arrival, so a wait ends the moment its predicate
  holds.

Both fail with an ``AssertionError`` that says what was awaited and, for a collector,
what arrived last.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

DEFAULT_TIMEOUT = 10.0


def wait_until(predicate: Callable[[], object], *, timeout: float = DEFAULT_TIMEOUT, what: str = "condition",
               interval: float = 0.02) -> None:
    """Poll ``predicate`` until it is truthy; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} not met within {timeout:g} s")
        time.sleep(interval)


class Collector(Generic[T]):
    """A thread-safe list of arrivals with a wait for a predicate over all of them."""

    def __init__(self, describe: Callable[[T], object] = repr) -> None:
        self._items: list[T] = []
        self._cond = threading.Condition()
        self._describe = describe

    def add(self, item: T) -> None:
        with self._cond:
            self._items.append(item)
            self._cond.notify_all()

    @property
    def items(self) -> list[T]:
        """A copy of what arrived so far."""
        with self._cond:
            return list(self._items)

    def clear(self) -> None:
        with self._cond:
            self._items.clear()

    def wait_for(self, predicate: Callable[[list[T]], object], *, timeout: float = DEFAULT_TIMEOUT,
                 what: str = "condition") -> list[T]:
        """Block until ``predicate(items)`` holds; return the items then."""
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(self._items), timeout):
                last = [self._describe(item) for item in self._items[-10:]]
                raise AssertionError(f"{what} not met within {timeout:g} s; last arrivals: {last}")
            return list(self._items)
