"""The command line: one-line usage errors with exit code 2, defaults, $MQTT_URL."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from bus.urls import Brokers
from led_agent.agent import Agent, default_agent_id
from led_agent.backends.null import NullDevice
from led_agent.board import DEFAULT_MAX_PODS
from led_agent.cli import build_parser, config_from_args, main
from tests.support.paths import ROOT as REPO


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: --node"),
        (["--node", "Node_1"], "invalid node name 'Node_1'"),
        (["--node", "n1/#"], "invalid node name"),
        (["--node", "n1", "--leds", "0"], "--leds: must be >= 1"),
        (["--node", "n1", "--leds", "eight"], "--leds: not an integer"),
        (["--node", "n1", "--brightness", "1.5"], "--brightness: must be between 0 and 1"),
        (["--node", "n1", "--brightness", "-0.1"], "--brightness: must be between 0 and 1"),
        (["--node", "n1", "--brightness", "nan"], "--brightness: must be between 0 and 1"),
        (["--node", "n1", "--broker", "http://host"], "scheme must be one of"),
        (["--node", "n1", "--broker", "mqtt://host:99999"], "bad port"),
        (["--node", "n1", "--device", "lava"], "invalid choice: 'lava'"),
        (["--node", "n1", "--topic-prefix", "a/+/"], "invalid topic prefix"),
        (["--node", "n1", "--agent-id", "a b"], "invalid agent id"),
        (["--node", "n1", "--node", "n2", "--device", "blinkt"], "exactly one node"),
        (["--node", "n1", "--device", "blinkt", "--leds", "9"], "8 LEDs"),
        (["--node", "n1", "--frobnicate"], "unrecognized arguments: --frobnicate"),
        (["--node", "n1", "--max-pods", "0"], "--max-pods: must be > 0"),
        (["--node", "n1", "--max-pods", "many"], "--max-pods: not an integer"),
        (["--node", "n1", "--http-port", "70000"], "--http-port: not a port"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(argv: list[str], message: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and err.startswith("python -m led_agent: error:")


def test_help_works_as_a_module() -> None:
    done = subprocess.run([sys.executable, "-m", "led_agent", "--help"], cwd=REPO, capture_output=True, text=True,
                          timeout=30, check=False)
    assert done.returncode == 0
    assert "--publish-frames" in done.stdout and "--brightness" in done.stdout


def test_defaults_and_broker_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MQTT_URL", "mqtt://broker.example:1884")
    parser = build_parser()
    config = config_from_args(parser, parser.parse_args(["--node", "n1", "--node", "n2", "--node", "n1"]))
    assert config.nodes == ("n1", "n2")
    assert [(url.host, url.port) for url in Brokers.of(config.broker)] == [("broker.example", 1884)]
    assert (config.leds, config.brightness, config.topics.prefix, config.publish_frames) == (8, 0.2, "", False)
    assert config.agent_id == default_agent_id(nodes=("n1", "n2"), device="terminal")
    assert config.max_pods == DEFAULT_MAX_PODS == 1000
    assert parser.parse_args(["--node", "n1"]).http_port is None  # no health server unless asked


def test_broker_flag_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MQTT_URL", "mqtt://broker.example:1884")
    parser = build_parser()
    args = parser.parse_args(["--node", "n1", "--broker", "mqtt://other", "--agent-id", "pi-3", "--leds", "3",
                              "--brightness", "1", "--topic-prefix", "shinealight/", "--publish-frames",
                              "--max-pods", "50"])
    config = config_from_args(parser, args)
    assert config.max_pods == 50
    assert (Brokers.of(config.broker).first.host, config.agent_id, config.leds, config.brightness) == (
        "other", "pi-3", 3, 1.0)
    assert config.topics.agent_status("pi-3") == "shinealight/agents/pi-3/status"
    assert config.publish_frames


@pytest.mark.parametrize(
    ("hostname", "name"),
    [("pi-kitchen", "pi-kitchen"), ("Pi Kitchen.local", "Pi-Kitchen-local"), ("__x", "x"), ("", "led-agent"),
     ("###", "led-agent"), ("h" * 300, "h" * 100)],
)
def test_the_default_agent_id_is_the_sanitised_host_name_and_a_digest(hostname: str, name: str) -> None:
    agent_id = default_agent_id(nodes=("n1",), device="blinkt", host=hostname)
    assert agent_id.startswith(f"{name}-") and len(agent_id) == len(name) + 9
    assert agent_id == default_agent_id(nodes=("n1",), device="blinkt", host=hostname)  # stable across restarts


def test_two_agents_on_one_host_showing_different_things_get_different_ids() -> None:
    variants = [dict(nodes=("n1",), device="blinkt"), dict(nodes=("n2",), device="blinkt"),
                dict(nodes=("n1",), device="terminal"), dict(nodes=("n1",), device="blinkt", prefix="other/"),
                dict(nodes=("n1", "n2"), device="terminal"), dict(nodes=("n2", "n1"), device="terminal")]
    ids = {default_agent_id(host="pi", **v) for v in variants}  # type: ignore[arg-type]
    assert len(ids) == len(variants)


@pytest.mark.parametrize(("given", "used"), [("ip-10-0-1-23.eu-west-1.compute.internal",
                                               "ip-10-0-1-23_eu-west-1_compute_internal"), ("pi-3", "pi-3")])
def test_an_agent_id_with_dots_is_written_with_underscores(given: str, used: str) -> None:
    parser = build_parser()
    config = config_from_args(parser, parser.parse_args(["--node", "n1", "--agent-id", given]))
    assert config.agent_id == used


def test_the_client_id_is_the_agent_id() -> None:
    parser = build_parser()
    agent = Agent(config_from_args(parser, parser.parse_args(["--node", "n1", "--agent-id", "pi-3"])),
                  device=NullDevice())
    assert agent.connection.client_id == "pi-3"


def test_a_health_port_that_is_taken_is_one_error_line_and_exit_1() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "led_agent", "--node", "n1", "--device", "null",
                               "--broker", "mqtt://127.0.0.1:9", "--http-host", "127.0.0.1", "--http-port", str(port)],
                              cwd=REPO, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 1
    assert f"cannot serve health and metrics on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr
