"""``python -m watcher`` as a user and Kubernetes run it: usage errors, health and metrics, SIGTERM."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from broker.launching import free_port
from sim.apiserver import ApiServer
from tests.support.brokers import BrokerEndpoint
from tests.support.http import http_get
from tests.support.probes import Probe
from tests.support.waiting import wait_until
from watcher.cli import build_parser, config_from_args

from .conftest import WatcherProcess, metric, show_pod

GRACE_SECONDS = 30  # a pod's default terminationGracePeriodSeconds


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "one of the arguments --node --all-nodes is required"),
        (["--node", "a+b"], "invalid node name"),
        (["--node", "n", "--broker", "http://x"], "scheme must be one of"),
        (["--node", "n", "--topic-prefix", "x"], "must end with '/'"),
        (["--node", "n", "--bogus"], "unrecognized arguments: --bogus"),
        (["--node", "n", "--snapshot-interval", "0"], "must be > 0"),
        (["--node", "n", "--stall-intervals", "-1"], "must be > 0"),
        (["--node", "n", "--http-port", "http"], "not a port"),
        (["--node", "n", "--homeassistant-prefix", "ha/#"], "invalid Home Assistant discovery prefix"),
        (["--node", "n", "--node-check-interval", "-1"], "must be >= 0"),
    ],
)
def test_bad_command_lines_exit_2_with_a_clear_message(args: list[str], message: str, tmp_path: Path) -> None:
    process = WatcherProcess(*args, log=tmp_path / "err.log")
    assert process.wait() == 2
    assert message in process.stderr()


@pytest.mark.parametrize(("args", "expected"), [
    ([], {"version_colors": True, "homeassistant": False, "homeassistant_prefix": "homeassistant",
          "node_check_interval": 60.0}),
    (["--no-version-colors", "--homeassistant", "--homeassistant-prefix", "home/ha", "--node-check-interval", "0"],
     {"version_colors": False, "homeassistant": True, "homeassistant_prefix": "home/ha", "node_check_interval": 0}),
])
def test_colour_home_assistant_and_node_check_options(args: list[str], expected: dict[str, object]) -> None:
    parser = build_parser()
    config = config_from_args(parser, parser.parse_args(["--node", "n", *args]))
    assert {key: getattr(config, key) for key in expected} == expected


def test_missing_kubeconfig_is_a_clear_error(tmp_path: Path) -> None:
    process = WatcherProcess("--node", "n", "--kubeconfig", str(tmp_path / "nope"), log=tmp_path / "err.log")
    assert process.wait() == 1
    assert "no Kubernetes configuration" in process.stderr()


def watcher_args(kubeconfig: Path, broker: str, prefix: str, *extra: str) -> list[str]:
    return ["--node", "node-1", "--kubeconfig", str(kubeconfig), "--broker", broker, "--topic-prefix", prefix,
            "--snapshot-interval", "0.05", *extra]


def test_health_and_metrics_on_http_port_then_sigterm_says_offline_and_exits(
    cluster: ApiServer, kubeconfig: Path, mosquitto: BrokerEndpoint, probe: Callable[[str], Probe],
    topic_prefix: str, tmp_path: Path,
) -> None:
    cluster.store.create(show_pod("a"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    bus = probe(f"{topic_prefix}nodes/node-1/#")
    process = WatcherProcess(*watcher_args(kubeconfig, mosquitto.url, topic_prefix, "--http-port", str(port),
                                           "--http-host", "127.0.0.1", "--degraded-after", "0.5"),
                             log=tmp_path / "watcher.log")
    try:
        wait_until(lambda: http_get(url + "/readyz")[0] == 200, timeout=20, what="/readyz 200")
        assert http_get(url + "/healthz") == (200, "ok\n")
        cluster.store.create(show_pod("b"))
        bus.wait_for(lambda m: any(x.topic.endswith("/pods") and b'"pod":"b"' in x.payload for x in m))
        wait_until(lambda: metric(http_get(url + "/metrics")[1], "shinealight_watcher_events_published_total") == 2,
                   what="two events counted")
        text = http_get(url + "/metrics")[1]
        assert metric(text, "shinealight_watcher_broker_connected") == 1
        assert metric(text, "shinealight_watcher_api_connected") == 1
        assert metric(text, "shinealight_watcher_snapshots_published_total") >= 1
        assert metric(text, "shinealight_watcher_lists_total") == 1
        assert metric(text, "shinealight_watcher_relists_total") == 0
        assert metric(text, "shinealight_watcher_broker_reconnects_total") == 0
        assert metric(text, 'shinealight_watcher_api_errors_total{kind="stalled"}') == 0
        assert 0 <= metric(text, "shinealight_watcher_last_event_age_seconds") < 30

        cluster.faults.fail_next(100_000, status=500, kind="any")
        cluster.drop_watches()
        wait_until(lambda: http_get(url + "/readyz")[0] == 503, what="/readyz 503 while the API fails")
        assert "not watching" in http_get(url + "/readyz")[1]
        wait_until(lambda: metric(http_get(url + "/metrics")[1], "shinealight_watcher_degraded") == 1, what="degraded")
        text = http_get(url + "/metrics")[1]
        assert metric(text, 'shinealight_watcher_api_errors_total{kind="stream_broken"}') >= 1
        assert metric(text, "shinealight_watcher_watch_restarts_total") >= 0
        cluster.faults.clear()
        wait_until(lambda: http_get(url + "/readyz")[0] == 200, timeout=20, what="/readyz 200 again")
        before = len(bus.messages)
        started = time.monotonic()
        assert process.stop(signal.SIGTERM, timeout=GRACE_SECONDS) == 0, process.stderr()
        print(f"exited {time.monotonic() - started:.2f} s after SIGTERM")
    finally:
        process.stop(signal.SIGKILL)
    bus.wait_for(lambda m: any(x.topic.endswith("/status") and x.payload == b"offline" for x in m[before:]))
    assert "Traceback" not in process.stderr()


def test_sigterm_while_the_api_hangs_still_says_offline_and_exits(
    cluster: ApiServer, kubeconfig: Path, mosquitto: BrokerEndpoint, probe: Callable[[str], Probe],
    topic_prefix: str, tmp_path: Path,
) -> None:
    cluster.faults.hang_next(1, seconds=60, kind="list")  # a list stuck far beyond any grace period
    bus = probe(f"{topic_prefix}nodes/node-1/status")
    process = WatcherProcess(*watcher_args(kubeconfig, mosquitto.url, topic_prefix), log=tmp_path / "watcher.log")
    try:
        bus.wait_for(lambda m: [x.payload for x in m] == [b"online"], timeout=20)
        wait_until(lambda: cluster.requests.count("list") == 1, what="the hanging list")
        assert process.stop(signal.SIGTERM, timeout=GRACE_SECONDS) == 0, process.stderr()
    finally:
        process.stop(signal.SIGKILL)
    bus.wait_for(lambda m: [x.payload for x in m] == [b"online", b"offline"])


def test_sigterm_while_the_broker_is_down_exits(kubeconfig: Path, tmp_path: Path, topic_prefix: str) -> None:
    process = WatcherProcess(*watcher_args(kubeconfig, f"mqtt://127.0.0.1:{free_port()}", topic_prefix),
                             log=tmp_path / "watcher.log")
    try:
        wait_until(lambda: "cannot reach broker" in process.stderr(), timeout=20, what="retrying the broker")
        assert process.stop(signal.SIGTERM, timeout=GRACE_SECONDS) == 0, process.stderr()
    finally:
        process.stop(signal.SIGKILL)


