"""The broker options every entry point shares: failover lists, credentials, and no password anywhere.

In-process for the option rules; as real processes against a Mosquitto that requires a
password for what a user sees (stderr at DEBUG, ``ps``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

import bus.cli as bus_cli
import console.cli as console_cli
import devices.wled_bridge.cli as wled_cli
import led_agent.cli as agent_cli
import watcher.cli as watcher_cli
from broker.launching import RunningBroker, start_mosquitto
from bus.arguments import UsageParser
from bus.shell import add_broker_option, broker_from_args
from tests.support.paths import ROOT
from tests.support.waiting import wait_until

NASTY = "Nasty/#?@:pa ss,w\\o\"rd-ü"  # every character that broke a URL, a comma, a space, a quote


def parse(argv: list[str], env: dict[str, str]) -> list[tuple[str, int, str | None, str | None]]:
    parser = UsageParser(prog="part")
    add_broker_option(parser)
    brokers = broker_from_args(parser, parser.parse_args(argv), env)
    return [(u.host, u.port, u.username, u.password) for u in brokers]


def test_repeated_and_comma_separated_brokers_make_one_list() -> None:
    assert parse(["--broker", "mqtt://a:1,mqtt://b:2", "--broker", "mqtt://c:3"], {}) == [
        ("a", 1, None, None), ("b", 2, None, None), ("c", 3, None, None)]
    assert parse([], {"MQTT_URL": "mqtt://e:1,mqtt://f:2"}) == [("e", 1, None, None), ("f", 2, None, None)]


def test_credentials_from_a_file_apply_to_every_broker(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text(NASTY + "\n")
    env = {"MQTT_URL": "mqtt://a,mqtt://b", "MQTT_USERNAME": "watcher", "MQTT_PASSWORD_FILE": str(secret)}
    assert parse([], env) == [("a", 1883, "watcher", NASTY), ("b", 1883, "watcher", NASTY)]
    assert parse(["--username", "agent", "--password-file", str(secret)], {"MQTT_URL": "mqtt://a"}) == [
        ("a", 1883, "agent", NASTY)]


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["--broker", f"mqtt://u:{NASTY.replace(',', '')}@h:port"], {},
         "--broker: broker URL 'mqtt://u:***@h:***': bad port"),
        (["--broker", f"mqtt://u:{NASTY}@h"], {}, "broker URL"),  # a comma splits it: neither half shows it
        ([], {"MQTT_URL": f"mqtt://u:{quote(NASTY)}@h,"}, "$MQTT_URL: empty entry in broker list"),
        (["--broker", f"mqtt://u:{quote(NASTY)}@a,mqtts://b"], {}, "share scheme and protocol"),
        (["--password-file", "/nonexistent/pw"], {"MQTT_USERNAME": "u"}, "cannot read the password file /nonexistent"),
        ([], {"MQTT_PASSWORD": NASTY}, "a password is set ($MQTT_PASSWORD) but no user name"),
        (["--brokr", f"mqtt://u:{NASTY.replace(' ', '')}@h"], {}, "unrecognized arguments: --brokr mqtt://u:***@h"),
    ],
)
def test_usage_errors_never_show_the_password(argv: list[str], env: dict[str, str], message: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse(argv, env)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and message in err, err
    assert "Nasty" not in err and "pa ss" not in err and quote(NASTY) not in err


def test_a_password_on_the_command_line_earns_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    parse(["--broker", f"mqtt://u:{quote(NASTY, safe='')}@h"], {})
    err = capsys.readouterr().err
    assert "a password in --broker shows in ps; use --password-file" in err and "Nasty" not in err
    parse([], {"MQTT_URL": f"mqtt://u:{quote(NASTY, safe='')}@h"})
    assert capsys.readouterr().err == ""


# -- as a user runs it --------------------------------------------------------------------


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBroker]:
    broker = start_mosquitto(workdir=tmp_path_factory.mktemp("guarded"), persistence=False,
                             users={"agent": NASTY})
    yield broker
    broker.stop()


def test_an_agent_with_a_password_file_connects_and_its_password_is_in_no_output_and_not_in_ps(
    guarded: RunningBroker, tmp_path: Path, topic_prefix: str
) -> None:
    secret = tmp_path / "password"
    secret.write_text(NASTY + "\n")
    env = {**os.environ, "MQTT_URL": f"mqtt://127.0.0.1:1,{guarded.url}", "MQTT_USERNAME": "agent",  # 1st down
           "MQTT_PASSWORD_FILE": str(secret), "PYTHONUNBUFFERED": "1"}
    log = tmp_path / "agent.log"
    with log.open("w") as err:
        agent = subprocess.Popen([sys.executable, "-m", "led_agent", "--device", "null", "--node", "n1",
                                  "--topic-prefix", topic_prefix, "--log-level", "DEBUG"],
                                 cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err)
    try:
        wait_until(lambda: "connected to" in log.read_text(), timeout=15, what="the agent connected")
        cmdline = Path(f"/proc/{agent.pid}/cmdline").read_bytes().decode(errors="replace")
        assert "Nasty" not in cmdline
    finally:
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(15) == 0
    text = log.read_text()
    assert "bus.paho" in text, "paho's own DEBUG lines are part of the output"
    assert "Nasty" not in text and "pa ss" not in text and quote(NASTY) not in text


def test_a_wrong_password_is_refused_and_still_never_shown(guarded: RunningBroker, tmp_path: Path) -> None:
    wrong = NASTY[::-1]
    env = {**os.environ, "MQTT_USERNAME": "agent", "MQTT_PASSWORD": wrong}
    done = subprocess.run([sys.executable, "-m", "bus", "replay", str(ROOT / "tests/captures/scaling.jsonl"),
                           "--broker", guarded.url, "--connect-timeout", "2", "--log-level", "DEBUG"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 1
    assert "refused the connection: Not authorized" in done.stderr
    assert wrong not in done.stderr and "ssa" not in done.stderr


PARTS = {
    "watcher": (watcher_cli.build_parser, ["--node", "n1"]),
    "led_agent": (agent_cli.build_parser, ["--node", "n1"]),
    "console": (console_cli.parser, []),
    "wled_bridge": (wled_cli.build_parser, ["--node", "n1", "--wled", "http://wled"]),
    "bus record": (bus_cli.build_parser, ["record", "--out", "-"]),
    "bus replay": (bus_cli.build_parser, ["replay", "capture.jsonl"]),
}


@pytest.mark.parametrize("part", PARTS)
def test_every_part_takes_a_failover_list_and_credentials_the_same_way(part: str, tmp_path: Path) -> None:
    build, required = PARTS[part]
    secret = tmp_path / "password"
    secret.write_text("s3cret-pw\n")
    parser = build()
    args = parser.parse_args([*required, "--broker", "mqtt://a:1,mqtt://b:2", "--broker", "mqtt://c:3",
                              "--username", "viewer", "--password-file", str(secret)])
    brokers = broker_from_args(parser, args, {})
    assert [(u.host, u.port, u.username, u.password) for u in brokers] == [
        ("a", 1, "viewer", "s3cret-pw"), ("b", 2, "viewer", "s3cret-pw"), ("c", 3, "viewer", "s3cret-pw")]
