"""Traffic you can see: a load generator through the demo app's route, and its rates per version.

A canary is believable when the share of requests answered by the new version follows
the weight the step set. So the console sends a steady trickle of requests
(:class:`LoadGenerator`, ``rate`` per second, one thread) through a
:class:`TrafficSource` and shows requests/s per answering version next to the weights.

Sources:

- :class:`SimulatedTraffic`: the simulated cluster's routing model
  (``Cluster.route_request``: a service by weight, then one of its ready pods).
- :class:`HttpTraffic`: real HTTP GETs to the whoami ingress or gateway. whoami answers
  with a ``Name: <release>-<version>`` line (the chart passes ``--name``), from which the
  version is read; an answer without it counts under its ``Hostname``.

A source returns the version that answered, ``None`` for a failed request (no ready
endpoint, a 5xx, a timeout, a refused connection), or raises :class:`NoRoute` when there
is nothing to send to yet (the demo app is not deployed): that is counted as idle, not as
failures, so a fresh console does not show an error rate.

:class:`RateMeter` is pure (time passed in): a sliding window of outcomes.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import httpx

log = logging.getLogger(__name__)

WINDOW_SECONDS = 2.0
DEFAULT_RATE = 20.0
MAX_RATE = 200.0
FAILED = "failed"
_WHOAMI_VERSION = re.compile(r"-(v?\d[0-9A-Za-z.+_]*(?:-[0-9A-Za-z.+_]+)*)$")


class NoRoute(Exception):
    """Nothing to send requests to yet (no route, no app deployed)."""


class TrafficSource(Protocol):
    def request(self) -> str | None:
        """Send one request; the answering version, None if it failed; NoRoute if idle."""
        ...

    def close(self) -> None: ...


class RouteModel(Protocol):
    """What :class:`SimulatedTraffic` needs of ``sim.cluster.Cluster``."""

    def route_request(self, route: str, *, namespace: str = "default") -> _Backend | None: ...


class _Backend(Protocol):
    @property
    def version(self) -> str | None: ...


class SimulatedTraffic:
    """Requests through the simulated cluster's weighted route ``route``."""

    def __init__(self, cluster: RouteModel, *, route: str = "whoami", namespace: str = "default") -> None:
        self._cluster = cluster
        self.route = route
        self.namespace = namespace

    def request(self) -> str | None:
        try:
            backend = self._cluster.route_request(self.route, namespace=self.namespace)
        except LookupError as e:  # sim.cluster.UnknownName: no route set yet
            raise NoRoute(str(e)) from e
        if backend is None:
            return None
        return backend.version or "unknown"

    def close(self) -> None:
        """Nothing to release."""


def version_from_whoami(body: str) -> str | None:
    """The version in whoami's ``Name: whoami-1.2.0`` line, else its ``Hostname``, else None."""
    fields = dict(line.split(":", 1) for line in body.splitlines() if ":" in line)
    name = fields.get("Name", "").strip()
    if name:
        match = _WHOAMI_VERSION.search(name)
        return match[1] if match else name
    hostname = fields.get("Hostname", "").strip()
    return hostname or None


class HttpTraffic:
    """GET ``url`` (the whoami ingress or gateway) with keep-alive and a short timeout."""

    def __init__(self, url: str, *, timeout: float = 2.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"traffic URL must start with http:// or https://, got {url!r}")
        self.url = url
        self._client = httpx.Client(timeout=timeout, follow_redirects=True)

    def request(self) -> str | None:
        try:
            response = self._client.get(self.url)
        except httpx.HTTPError as e:
            log.debug("request to %s failed: %s", self.url, e)
            return None
        if response.status_code == 404:
            raise NoRoute(f"{self.url} answers 404: no route to the app")
        if response.status_code >= 400:
            return None
        return version_from_whoami(response.text) or "unknown"

    def close(self) -> None:
        self._client.close()


@dataclass(frozen=True)
class TrafficRates:
    """Requests per second over the window: per answering version, failed, and idle (no route)."""

    by_version: dict[str, float]
    failed: float
    idle: bool
    total: int


@dataclass
class RateMeter:
    """Outcomes of the last ``window`` seconds; pure, the caller passes ``now``."""

    window: float = WINDOW_SECONDS
    started: float | None = None  # rates of a young meter are over its age (default: its first record)
    total: int = 0
    _samples: deque[tuple[float, str | None]] = field(default_factory=deque)

    def record(self, outcome: str | None, now: float) -> None:
        """``outcome``: a version, :data:`FAILED`, or None for an idle tick (no route)."""
        if self.started is None:
            self.started = now
        self._samples.append((now, outcome))
        if outcome is not None:
            self.total += 1
        self._expire(now)

    def rates(self, now: float) -> TrafficRates:
        self._expire(now)
        span = self.window if self.started is None else max(min(self.window, now - self.started), 1e-3)
        counts = Counter(outcome for _, outcome in self._samples if outcome is not None)
        failed = counts.pop(FAILED, 0)
        idle = bool(self._samples) and not counts and not failed
        by_version = {version: round(n / span, 2) for version, n in sorted(counts.items())}
        return TrafficRates(by_version=by_version, failed=round(failed / span, 2), idle=idle, total=self.total)

    def _expire(self, now: float) -> None:
        while self._samples and self._samples[0][0] < now - self.window:
            self._samples.popleft()


class LoadGenerator:
    """Sends ``rate`` requests per second through a source, from one daemon thread."""

    def __init__(
        self,
        source: TrafficSource,
        *,
        rate: float = DEFAULT_RATE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = source
        self.rate = check_rate(rate)
        self.meter = RateMeter(started=clock())
        self.errors = 0  # unexpected exceptions from the source
        self._clock = clock
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> LoadGenerator:
        self._thread = threading.Thread(target=self._run, name="console-traffic", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.source.close()

    def set_rate(self, rate: float) -> None:
        self.rate = check_rate(rate)

    def rates(self) -> TrafficRates:
        with self._lock:
            return self.meter.rates(self._clock())

    def send_one(self) -> None:
        """One request, recorded; a broken source is counted and logged, never fatal."""
        try:
            outcome: str | None = self.source.request() or FAILED
        except NoRoute:
            outcome = None
        except Exception:  # a bug in a source must not end the traffic for good
            self.errors += 1
            log.exception("traffic source failed (%d so far)", self.errors)
            outcome = FAILED
        with self._lock:
            self.meter.record(outcome, self._clock())

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            if self.rate > 0:
                self.send_one()
                next_at = max(next_at + 1 / self.rate, time.monotonic() - 1)  # no burst after a stall
            else:
                next_at = time.monotonic() + 0.2
            self._stop.wait(max(0.0, next_at - time.monotonic()))


def check_rate(rate: float) -> float:
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= MAX_RATE:
        raise ValueError(f"rate must be a number from 0 to {MAX_RATE:g} requests/s, got {rate!r}")
    return float(rate)
