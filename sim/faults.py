"""Injected API failures and the request log: what resilience tests steer and count.

Thread-safe data only; the server consults ``Faults.take`` once per request and appends
to the ``RequestLog``. Faults that act on *open* watch streams (drop, stall) need the
sockets and live on ``ApiServer`` itself.

- ``fail_next(n, status=429|500, kind=...)``: the next n matching requests get that
  status with a Status body, as an overloaded or broken API server answers. 429 and
  503 carry ``Retry-After`` (``retry_after`` seconds, default 1, None for none) — and
  note that urllib3's default retry policy in the official client then *retries by
  itself* after that pause, so the caller only sees the failure when it outlasts
  urllib3's retries (or when ``Configuration.retries`` is set to 0/False).
- ``hang_next(n, seconds=..., kind=...)``: the next n matching requests wait that long
  before being served, as a slow API server does; the client's own timeout should fire.

``kind`` is ``"list"``, ``"watch"``, ``"get"`` or ``"any"`` (any pod request; discovery
is never faulted, so kubectl and clients still find the API).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

FaultKind = Literal["list", "watch", "get", "any"]
_POD_KINDS = ("list", "watch", "get")


@dataclass(frozen=True)
class Fault:
    """What to do to one request: wait ``hang_seconds``, then answer ``status`` (if set)."""

    status: int | None = None
    retry_after: int | None = None
    hang_seconds: float = 0.0


@dataclass
class _Pending:
    remaining: int
    kind: FaultKind
    fault: Fault


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[_Pending] = []

    def fail_next(
        self, count: int = 1, *, status: int = 500, kind: FaultKind = "any", retry_after: int | None = 1
    ) -> None:
        """Answer the next ``count`` matching requests with ``status``; Retry-After only on 429 and 503."""
        if not 400 <= status <= 599:
            raise ValueError(f"a failure needs an error status, not {status}")
        header = retry_after if status in (429, 503) else None
        self._add(count, kind, Fault(status=status, retry_after=header))

    def hang_next(self, count: int = 1, *, seconds: float, kind: FaultKind = "any") -> None:
        """Hold the next ``count`` matching requests for ``seconds`` before serving them normally."""
        self._add(count, kind, Fault(hang_seconds=seconds))

    def take(self, kind: str) -> Fault | None:
        """The fault for one request of ``kind`` (consumed), or None."""
        with self._lock:
            for pending in self._pending:
                if kind in _POD_KINDS and pending.kind in (kind, "any"):
                    pending.remaining -= 1
                    if pending.remaining == 0:
                        self._pending.remove(pending)
                    return pending.fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()

    def _add(self, count: int, kind: FaultKind, fault: Fault) -> None:
        if count < 1:
            raise ValueError("count must be at least 1")
        if kind not in (*_POD_KINDS, "any"):
            raise ValueError(f"unknown request kind {kind!r}")
        with self._lock:
            self._pending.append(_Pending(count, kind, fault))


@dataclass(frozen=True)
class RequestRecord:
    """One request as received: ``params`` holds the first value of each query parameter."""

    method: str
    path: str
    params: dict[str, str]
    kind: str  # "list", "watch", "get", "discovery", or "invalid"
    at: float  # time.monotonic()


class RequestLog:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._changed = threading.Condition()
        self._records: list[RequestRecord] = []

    def append(self, method: str, path: str, params: dict[str, str], kind: str) -> RequestRecord:
        record = RequestRecord(method, path, params, kind, self._clock())
        with self._changed:
            self._records.append(record)
            self._changed.notify_all()
        return record

    def records(self, kind: str | None = None) -> list[RequestRecord]:
        with self._changed:
            return self._matching(kind)

    def count(self, kind: str | None = None) -> int:
        return len(self.records(kind))

    def wait_for(self, kind: str | None, count: int, timeout: float) -> list[RequestRecord]:
        """Wait until at least ``count`` requests of ``kind`` arrived (or timeout); return those there are."""
        with self._changed:
            self._changed.wait_for(lambda: len(self._matching(kind)) >= count, timeout)
            return self._matching(kind)

    def clear(self) -> None:
        with self._changed:
            self._records.clear()

    def _matching(self, kind: str | None) -> list[RequestRecord]:
        return [r for r in self._records if kind is None or r.kind == kind]
