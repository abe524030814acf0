"""Traffic: the rate meter (pure, injected time), the sources (simulated route, real HTTP), the generator."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from broker.launching import free_port
from console.traffic import (
    FAILED,
    HttpTraffic,
    LoadGenerator,
    NoRoute,
    RateMeter,
    SimulatedTraffic,
    check_rate,
    version_from_whoami,
)
from sim.cluster import Cluster
from sim.lifecycle import Timings

WHOAMI_BODY = "Name: whoami-2.0.0\nHostname: whoami-7d9f-abcde\nIP: 10.244.1.7\nGET / HTTP/1.1\nHost: x\n"


def test_rates_are_requests_per_second_per_version_over_the_window() -> None:
    meter = RateMeter(window=2.0)
    for i in range(40):  # 2 s at 20/s: 3 of 4 to 1.0.0, 1 of 4 to 2.0.0
        meter.record("2.0.0" if i % 4 == 0 else "1.0.0", 10.0 + i * 0.05)
    rates = meter.rates(12.0)
    assert rates.by_version == {"1.0.0": 15.0, "2.0.0": 5.0}
    assert (rates.failed, rates.idle, rates.total) == (0.0, False, 40)


def test_old_samples_leave_the_window_and_a_young_meter_divides_by_its_age() -> None:
    meter = RateMeter(window=2.0)
    meter.record("1.0.0", 0.0)
    meter.record(FAILED, 0.5)
    assert meter.rates(1.0).by_version == {"1.0.0": 1.0}  # 1 request in 1 s, not in 2
    assert meter.rates(1.0).failed == 1.0
    assert meter.rates(2.4).by_version == {}  # the 1.0.0 request at 0.0 is out of [0.4, 2.4]
    assert meter.rates(2.4).failed == 0.5


def test_idle_ticks_make_an_idle_meter_not_failures() -> None:
    meter = RateMeter()
    meter.record(None, 1.0)
    meter.record(None, 1.1)
    rates = meter.rates(1.2)
    assert (rates.idle, rates.failed, rates.total, rates.by_version) == (True, 0.0, 0, {})


@pytest.mark.parametrize(
    ("body", "version"),
    [
        (WHOAMI_BODY, "2.0.0"),
        ("Name: whoamiv2-1.0.0-rc1\n", "1.0.0-rc1"),
        ("Name: blue\nHostname: h\n", "blue"),
        ("Hostname: whoami-abc\n", "whoami-abc"),
        ("<html>hello</html>", None),
    ],
)
def test_the_version_is_read_from_whoamis_answer(body: str, version: str | None) -> None:
    assert version_from_whoami(body) == version


class Whoami(BaseHTTPRequestHandler):
    """A stand-in for the ingress in front of whoami: path /down → 503, /nothing → 404."""

    def do_GET(self) -> None:
        status, body = {"/down": (503, "no healthy upstream"), "/nothing": (404, "404 page not found")}.get(
            self.path, (200, WHOAMI_BODY)
        )
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args: object) -> None:
        """Quiet."""


@pytest.fixture
def whoami() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Whoami)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_http_traffic_reads_versions_and_tells_failures_from_no_route(whoami: str) -> None:
    sources = {path: HttpTraffic(whoami + path, timeout=2) for path in ("/", "/down", "/nothing")}
    try:
        assert sources["/"].request() == "2.0.0"
        assert sources["/down"].request() is None
        with pytest.raises(NoRoute):
            sources["/nothing"].request()
    finally:
        for source in sources.values():
            source.close()


def test_http_traffic_to_a_closed_port_is_a_failed_request() -> None:
    source = HttpTraffic(f"http://127.0.0.1:{free_port()}/", timeout=1)
    try:
        assert source.request() is None
    finally:
        source.close()


def test_http_traffic_wants_an_http_url() -> None:
    with pytest.raises(ValueError, match="http"):
        HttpTraffic("whoami.local")


def test_simulated_traffic_follows_the_route_weights() -> None:
    cluster = Cluster(nodes=2, timings=Timings(startup=(1.0, 1.0), grace=1.0))
    source = SimulatedTraffic(cluster, route="whoami")
    with pytest.raises(NoRoute):
        source.request()
    for name, version in (("blue", "1.0.0"), ("green", "2.0.0")):
        labels = {"app": name, "version": version}
        cluster.apply_deployment(name, replicas=2, pod_labels=labels)
        cluster.apply_service(name, labels)
    cluster.set_route("whoami", {"blue": 80, "green": 20})
    assert source.request() is None  # no pod is ready yet: a failed request (503)
    cluster.advance(2.0)
    answers = [source.request() for _ in range(2000)]
    assert set(answers) == {"1.0.0", "2.0.0"}
    assert 0.16 < answers.count("2.0.0") / len(answers) < 0.24


class Scripted:
    """A source that answers from a list, for the generator's bookkeeping."""

    def __init__(self, *answers: str | type[Exception] | None) -> None:
        self.answers = list(answers)
        self.closed = False

    def request(self) -> str | None:
        answer = self.answers.pop(0)
        if isinstance(answer, type):
            raise answer("scripted")
        return answer

    def close(self) -> None:
        self.closed = True


def test_the_generator_records_versions_failures_idle_and_broken_sources() -> None:
    now = [0.0]
    source = Scripted("1.0.0", None, NoRoute, RuntimeError, "1.0.0")
    generator = LoadGenerator(source, rate=10, clock=lambda: now[0])
    for _ in range(5):
        now[0] += 0.2
        generator.send_one()
    rates = generator.rates()
    assert rates.by_version == {"1.0.0": 2 / 1.0}
    assert rates.failed == 2 / 1.0  # the 503 and the broken source
    assert (rates.total, generator.errors) == (4, 1)


def test_the_generator_thread_sends_at_its_rate_and_closes_its_source() -> None:
    source = Scripted(*["1.0.0"] * 1000)
    generator = LoadGenerator(source, rate=100).start()
    try:
        threading.Event().wait(0.5)
    finally:
        generator.stop()
    sent = 1000 - len(source.answers)
    assert 25 <= sent <= 75  # about 50 in half a second; generous for a busy CI machine
    assert source.closed


@pytest.mark.parametrize("rate", [-1, 1e6, True, "10"])
def test_bad_rates_are_refused(rate: object) -> None:
    with pytest.raises(ValueError, match="rate"):
        check_rate(rate)  # type: ignore[arg-type]
