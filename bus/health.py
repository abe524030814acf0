"""Health and metrics over HTTP for the long-running parts: ``/healthz``, ``/readyz``, ``/metrics``.

Off unless a part is started with ``--http-port PORT`` (the Helm chart sets it and points
its probes here). Three endpoints, plain HTTP/1.1, ``GET`` only:

- ``/healthz`` — *alive*: the part's loops are running. 200 ``ok``, else 503 and why.
  A liveness probe restarts the container on 503.
- ``/readyz`` — *ready*: doing its job now (connected to the broker; for a watcher, also
  listing and watching the API). 200 or 503 with a one-line reason per failing check.
- ``/metrics`` — Prometheus text format (``prometheus-client``).

A part describes itself through a :class:`Monitored`: ``health()`` answers both probes
from the state the part already keeps, and ``metrics()`` reads its existing counters
into :class:`Metric` values when scraped. No part's core imports prometheus or HTTP;
the server adapts those values into prometheus metric families on each scrape (a
custom collector), so counters are never kept twice.

The server runs in a daemon thread (``ThreadingHTTPServer``); a slow or stuck client
cannot block the part. ``port=0`` picks a free port (tests), read back from :attr:`url`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal, Protocol

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.core import Metric as PromMetric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

log = logging.getLogger(__name__)

Labels = Mapping[str, str]


@dataclass(frozen=True)
class Metric:
    """One metric as a part reads it: name (without ``_total``), help, kind and samples."""

    name: str
    help: str
    kind: Literal["counter", "gauge"]
    samples: tuple[tuple[Labels, float], ...]

    @classmethod
    def single(cls, name: str, help: str, kind: Literal["counter", "gauge"], value: float) -> Metric:
        return cls(name, help, kind, (({}, value),))

    @classmethod
    def by_label(cls, name: str, help: str, kind: Literal["counter", "gauge"], label: str,
                 values: Mapping[str, float]) -> Metric:
        return cls(name, help, kind, tuple(({label: key}, value) for key, value in sorted(values.items())))


@dataclass(frozen=True)
class Health:
    """Both probes' answers; a failing check is a name and a reason."""

    live: bool = True
    not_ready: Mapping[str, str] = field(default_factory=dict)
    not_live: Mapping[str, str] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return self.live and not self.not_ready


class Monitored(Protocol):
    def health(self) -> Health: ...

    def metrics(self) -> Iterable[Metric]: ...


class _Collector:
    """prometheus-client's collector protocol over a part's :meth:`Monitored.metrics`."""

    def __init__(self, part: Monitored) -> None:
        self._part = part

    def collect(self) -> Iterator[PromMetric]:
        for metric in self._part.metrics():
            label_names = sorted({name for labels, _ in metric.samples for name in labels})
            family: CounterMetricFamily | GaugeMetricFamily
            if metric.kind == "counter":
                family = CounterMetricFamily(metric.name, metric.help, labels=label_names)
            else:
                family = GaugeMetricFamily(metric.name, metric.help, labels=label_names)
            for labels, value in metric.samples:
                family.add_metric([labels.get(name, "") for name in label_names], value)
            yield family


def _body(ok: bool, failing: Mapping[str, str]) -> bytes:
    if ok:
        return b"ok\n"
    return "".join(f"{name}: {reason}\n" for name, reason in failing.items()).encode() or b"not ok\n"


class HealthServer:
    """``/healthz``, ``/readyz`` and ``/metrics`` of one part, served from a daemon thread."""

    def __init__(self, part: Monitored, *, port: int, host: str = "0.0.0.0") -> None:
        self._part = part
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(_Collector(part))
        self._server = ThreadingHTTPServer((host, port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="health", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        return f"http://{shown!s}:{port}"

    def start(self) -> HealthServer:
        self._thread.start()
        log.info("health and metrics on %s (/healthz, /readyz, /metrics)", self.url)
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def _respond(self, path: str) -> tuple[int, str, bytes]:
        if path == "/metrics":
            return 200, CONTENT_TYPE_LATEST, generate_latest(self._registry)
        if path in ("/healthz", "/readyz"):
            health = self._part.health()
            ok = health.live if path == "/healthz" else health.ready
            failing = dict(health.not_live) if path == "/healthz" else {**health.not_live, **health.not_ready}
            return (200 if ok else 503), "text/plain; charset=utf-8", _body(ok, failing)
        return 404, "text/plain; charset=utf-8", b"not found: try /healthz, /readyz or /metrics\n"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        respond = self._respond

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                try:
                    status, content_type, body = respond(self.path.split("?", 1)[0])
                except Exception:  # a part's probe bug must answer 500, not kill the server thread
                    log.exception("health endpoint %s failed", self.path)
                    status, content_type, body = 500, "text/plain; charset=utf-8", b"internal error\n"
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                """Probes every few seconds are not worth a log line."""

        return Handler
