"""The health and metrics endpoints on real HTTP: probes from a part's state, metrics from its counters."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import pytest

from bus.health import Health, HealthServer, Metric


@dataclass
class Part:
    health_now: Health = field(default_factory=Health)
    published: int = 0
    dropped: dict[str, float] = field(default_factory=dict)
    broken: bool = False

    def health(self) -> Health:
        if self.broken:
            raise RuntimeError("probe bug")
        return self.health_now

    def metrics(self) -> Iterable[Metric]:
        yield Metric.single("shinealight_events_published", "events published", "counter", self.published)
        yield Metric.by_label("shinealight_messages_dropped", "dropped input", "counter", "reason", self.dropped)
        yield Metric.single("shinealight_broker_connected", "1 while connected", "gauge", 1)


def get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers["Content-Type"], e.read().decode()


@pytest.fixture
def served() -> Iterator[tuple[Part, str]]:
    part = Part()
    server = HealthServer(part, port=0, host="127.0.0.1").start()
    try:
        yield part, server.url
    finally:
        server.stop()


def test_probes_answer_from_the_parts_state(served: tuple[Part, str]) -> None:
    part, url = served
    assert get(url + "/healthz")[::2] == (200, "ok\n")
    assert get(url + "/readyz")[::2] == (200, "ok\n")
    part.health_now = Health(not_ready={"broker": "not connected to mqtt://b:1883"})
    assert get(url + "/healthz")[0] == 200
    assert get(url + "/readyz")[::2] == (503, "broker: not connected to mqtt://b:1883\n")
    part.health_now = Health(live=False, not_live={"render": "loop stopped"})
    assert get(url + "/healthz")[::2] == (503, "render: loop stopped\n")
    assert get(url + "/readyz")[0] == 503


def test_metrics_are_read_from_the_parts_counters_at_each_scrape(served: tuple[Part, str]) -> None:
    part, url = served
    part.published, part.dropped = 3, {"not_json": 2, "oversized": 1}
    status, content_type, text = get(url + "/metrics")
    assert status == 200 and content_type.startswith("text/plain; version=")
    assert "shinealight_events_published_total 3.0" in text
    assert 'shinealight_messages_dropped_total{reason="not_json"} 2.0' in text
    assert 'shinealight_messages_dropped_total{reason="oversized"} 1.0' in text
    assert "shinealight_broker_connected 1.0" in text
    part.published = 5
    assert "shinealight_events_published_total 5.0" in get(url + "/metrics")[2]


def test_unknown_paths_and_probe_bugs_get_an_answer_not_a_dead_server(served: tuple[Part, str]) -> None:
    part, url = served
    assert get(url + "/nope")[0] == 404
    part.broken = True
    assert get(url + "/healthz")[0] == 500
    part.broken = False
    assert get(url + "/healthz")[0] == 200
