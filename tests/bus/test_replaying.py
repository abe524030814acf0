"""Replay: timing on a fake clock, loops with fresh epochs, and the real thing through Mosquitto."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from broker.launching import free_port
from bus.captures import Capture, CapturedMessage, write_capture
from bus.cli import main
from bus.replaying import ReplayOptions, later_retained_topics, pass_messages, replay, replay_to_broker, with_pass_epoch
from bus.urls import parse_broker_url
from tests.support.brokers import BrokerEndpoint
from tests.support.paths import ROOT
from tests.support.probes import Probe


class FakeClock:
    """Time that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _event(seq: int, epoch: str | None = "e1") -> bytes:
    data: dict[str, Any] = {"v": 1, "action": "add", "pod": f"p{seq}", "seq": seq}
    if epoch is not None:
        data["epoch"] = epoch
    return json.dumps(data, separators=(",", ":")).encode()


CAPTURE = Capture((
    CapturedMessage(5.0, "nodes/n1/state", b'{"v":1,"node":"n1","seq":0,"epoch":"e1","pods":[]}', retain=True),
    CapturedMessage(5.0, "nodes/n1/status", b"online", retain=True),
    CapturedMessage(6.0, "nodes/n1/pods", _event(1)),
    CapturedMessage(8.0, "nodes/n1/pods", _event(2), qos=0),
    CapturedMessage(9.0, "nodes/n2/state", b'{"v":1,"node":"n2","seq":3}', retain=True),
    CapturedMessage(9.5, "nodes/n1/pods", b"\xff not json"),
))


def _run(capture: Capture, **options: Any) -> tuple[list[tuple[float, CapturedMessage]], FakeClock]:
    clock = FakeClock()
    published: list[tuple[float, CapturedMessage]] = []
    stats = replay(capture, lambda m: published.append((clock.now - 1000.0, m)), options=ReplayOptions(**options),
                   clock=clock, sleep=clock.sleep)
    assert stats.published == len(published)
    return published, clock


# -- timing ---------------------------------------------------------------------------


@pytest.mark.parametrize(("speed", "expected"), [(1, [0, 0, 1, 3, 4, 4.5]), (2, [0, 0, 0.5, 1.5, 2, 2.25]),
                                                 (0.5, [0, 0, 2, 6, 8, 9])])
def test_messages_go_out_at_their_offsets_scaled_by_speed(speed: float, expected: list[float]) -> None:
    published, _ = _run(CAPTURE, speed=speed)

    assert [t for t, _ in published] == pytest.approx(expected)
    assert [m.payload for _, m in published] == [m.payload for m in CAPTURE.messages]  # pass 1: as recorded
    assert [(m.topic, m.retain, m.qos) for _, m in published] == [(m.topic, m.retain, m.qos) for m in CAPTURE.messages]


def test_speed_zero_never_waits() -> None:
    published, clock = _run(CAPTURE, speed=0)

    assert clock.sleeps == []
    assert len(published) == len(CAPTURE.messages)


def test_a_slow_publish_does_not_accumulate_drift() -> None:
    clock = FakeClock()
    times: list[float] = []

    def slow_publish(message: CapturedMessage) -> None:
        times.append(clock.now - 1000.0)
        clock.now += 1.5  # the broker is slow for every message

    replay(CAPTURE, slow_publish, clock=clock, sleep=clock.sleep)

    # late messages go out at once, and the schedule is kept where it can be
    assert times == pytest.approx([0, 1.5, 3, 4.5, 6, 7.5])
    assert clock.sleeps == []


def test_a_loop_publishes_every_pass_with_a_fresh_epoch_after_a_gap() -> None:
    published, _ = _run(CAPTURE, loop=True, passes=3, loop_gap=2.0)

    n1_pods = [(t, json.loads(m.payload)) for t, m in published if m.topic == "nodes/n1/pods" and m.payload[:1] == b"{"]
    assert [(t, e["seq"], e["epoch"]) for t, e in n1_pods] == [
        (1, 1, "e1"), (3, 2, "e1"),
        (7.5, 1, "e1-pass2"), (9.5, 2, "e1-pass2"),
        (14, 1, "e1-pass3"), (16, 2, "e1-pass3"),
    ]
    n2 = [json.loads(m.payload) for _, m in published if m.topic == "nodes/n2/state" and m.payload]
    assert [s.get("epoch") for s in n2] == [None, "replay-pass2", "replay-pass3"]
    assert [m.payload for _, m in published if m.topic == "nodes/n1/status"] == [b"online"] * 3
    assert [m.payload for _, m in published if m.payload.startswith(b"\xff")] == [b"\xff not json"] * 3


def test_each_later_pass_first_clears_retained_topics_that_appeared_during_the_recording() -> None:
    assert later_retained_topics(CAPTURE) == ["nodes/n2/state"]

    second = pass_messages(CAPTURE, 2, ReplayOptions(topic_prefix="demo/"))

    assert second[0] == CapturedMessage(0.0, "demo/nodes/n2/state", b"", retain=True, qos=1)
    assert [m.topic for m in second[1:]] == ["demo/" + m.topic for m in CAPTURE.messages]
    assert json.loads(second[1].payload)["epoch"] == "e1-pass2"
    assert pass_messages(CAPTURE, 1, ReplayOptions())[0].topic == "nodes/n1/state"  # nothing cleared on pass 1


def test_no_retain_publishes_nothing_retained_and_clears_nothing() -> None:
    second = pass_messages(CAPTURE, 2, ReplayOptions(retain=False))

    assert len(second) == len(CAPTURE.messages)
    assert not any(m.retain for m in second)


@pytest.mark.parametrize(
    ("topic", "payload", "expected"),
    [
        ("nodes/n1/pods", b'{"seq":1}', b'{"seq":1,"epoch":"replay-pass2"}'),
        ("x/y/nodes/n1/state", b'{"epoch":"ab","seq":1}', b'{"epoch":"ab-pass2","seq":1}'),
        ("nodes/n1/pods", b'{"epoch":7}', b'{"epoch":"replay-pass2"}'),
        ("nodes/n1/pods", b"[1]", b"[1]"),
        ("nodes/n1/pods", b"", b""),
        ("nodes/n1/pods", b'{"a": 1,  "b": 2', b'{"a": 1,  "b": 2'),
        ("nodes/n1/status", b'{"seq":1}', b'{"seq":1}'),
        ("agents/a/frame", b'{"seq":1}', b'{"seq":1}'),
        ("n1/pods", b'{"seq":1}', b'{"seq":1}'),
    ],
)
def test_only_json_objects_on_node_events_and_snapshots_get_an_epoch(topic: str, payload: bytes,
                                                                    expected: bytes) -> None:
    assert with_pass_epoch(topic, payload, 1) == payload
    assert with_pass_epoch(topic, payload, 2) == expected


def test_stop_ends_a_loop_between_messages() -> None:
    clock = FakeClock()
    stop = threading.Event()
    published: list[CapturedMessage] = []

    def publish(message: CapturedMessage) -> None:
        published.append(message)
        if len(published) == 8:
            stop.set()

    stats = replay(CAPTURE, publish, options=ReplayOptions(loop=True), stop=stop, clock=clock, sleep=clock.sleep)

    assert (stats.published, stats.passes, stats.stopped) == (8, 2, True)


def test_an_empty_capture_returns_at_once_even_when_looping() -> None:
    stats = replay(Capture(()), lambda m: None, options=ReplayOptions(loop=True), clock=FakeClock())

    assert (stats.published, stats.passes) == (0, 0)


@pytest.mark.parametrize("bad", [{"speed": -1}, {"loop_gap": -0.1}, {"passes": 0}, {"topic_prefix": "no-slash"}])
def test_bad_options_are_rejected(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # TopicError is a ValueError too
        ReplayOptions(**bad)


# -- through Mosquitto ---------------------------------------------------------------


def _bus(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MQTT_URL"} | {"PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "bus", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def _seen(probe: Probe) -> list[tuple[str, bytes]]:
    return [(m.topic, bytes(m.payload)) for m in probe.messages]


def test_a_capture_is_replayed_to_the_broker_in_order_with_retained_state(
    mosquitto: BrokerEndpoint, probe: Callable[[str], Probe], topic_prefix: str
) -> None:
    live = probe(f"{topic_prefix}#")

    stats = replay_to_broker(CAPTURE, parse_broker_url(mosquitto.url),
                             options=ReplayOptions(speed=20, topic_prefix=topic_prefix), connect_timeout=5)

    expected = [(topic_prefix + m.topic, m.payload) for m in CAPTURE.messages]
    live.wait_for(lambda ms: len(ms) >= len(expected))
    assert _seen(live) == expected
    assert (stats.published, stats.unconfirmed) == (len(expected), 0)
    late = probe(f"{topic_prefix}#")
    late.wait_for(lambda ms: len(ms) >= 3)
    assert sorted((m.topic, m.retain) for m in late.messages) == [
        (f"{topic_prefix}nodes/n1/state", True), (f"{topic_prefix}nodes/n1/status", True),
        (f"{topic_prefix}nodes/n2/state", True),
    ]


def test_the_cli_replays_mosquitto_sub_text(
    mosquitto: BrokerEndpoint, probe: Callable[[str], Probe], topic_prefix: str, tmp_path: Path
) -> None:
    text = tmp_path / "sub.txt"
    text.write_bytes(b'nodes/n1/state {"v":1, "node":"n1", "seq":0}\n'
                     b'nodes/n1/pods {"action": "add", "pod": "a b"}\n'
                     b"nodes/n1/state\n")
    live = probe(f"{topic_prefix}#")

    done = _bus("replay", str(text), "--broker", mosquitto.url, "--topic-prefix", topic_prefix, "--interval", "0.01")

    assert done.returncode == 0, done.stderr
    live.wait_for(lambda ms: len(ms) >= 3)
    assert _seen(live) == [
        (f"{topic_prefix}nodes/n1/state", b'{"v":1, "node":"n1", "seq":0}'),
        (f"{topic_prefix}nodes/n1/pods", b'{"action": "add", "pod": "a b"}'),
        (f"{topic_prefix}nodes/n1/state", b""),
    ]
    assert "published 3 messages in 1 pass(es)" in done.stderr


def test_the_cli_loops_with_fresh_epochs(
    mosquitto: BrokerEndpoint, probe: Callable[[str], Probe], topic_prefix: str, tmp_path: Path
) -> None:
    path = tmp_path / "c.jsonl"
    write_capture(path, CAPTURE.messages, started="2026-11-26T21:00:00.000Z", topics=["nodes/#"])
    live = probe(f"{topic_prefix}nodes/n1/pods")

    done = _bus("replay", str(path), "--broker", mosquitto.url, "--topic-prefix", topic_prefix,
                "--as-fast-as-possible", "--loop", "--passes", "2", "--loop-gap", "0")

    assert done.returncode == 0, done.stderr
    live.wait_for(lambda ms: len(ms) >= 6)
    epochs = [json.loads(m.payload).get("epoch") for m in live.messages if m.payload[:1] == b"{"]
    assert epochs == ["e1", "e1", "e1-pass2", "e1-pass2"]


def test_a_malformed_capture_publishes_nothing_and_names_the_line(
    mosquitto: BrokerEndpoint, probe: Callable[[str], Probe], topic_prefix: str, tmp_path: Path
) -> None:
    path = tmp_path / "bad.jsonl"
    good = '{"offset": 0, "topic": "nodes/n1/pods", "payload": "x"}\n'
    path.write_text(good + good + '{"offset": 1, "topic": "nodes/n1/pods", "payload": "x", "qos": 7}\n')
    live = probe(f"{topic_prefix}#")

    done = _bus("replay", str(path), "--broker", mosquitto.url, "--topic-prefix", topic_prefix)

    assert done.returncode == 2
    assert done.stderr.strip() == (f"python -m bus replay: error: {path}: line 3: 'qos' must be 0, 1 or 2, "
                                   "got 7; nothing published")
    # a retained sentinel after the failed run: anything published before it would have arrived first
    sentinel = Capture((CapturedMessage(0, "sentinel", b"s", retain=True),))
    replay_to_broker(sentinel, parse_broker_url(mosquitto.url), options=ReplayOptions(topic_prefix=topic_prefix))
    late = probe(f"{topic_prefix}#")
    for subscriber in (live, late):
        subscriber.wait_for(lambda ms: len(ms) >= 1)
        assert _seen(subscriber) == [(f"{topic_prefix}sentinel", b"s")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["replay", "c.jsonl", "--speed", "fast"], "argument --speed: not a number: 'fast'"),
        (["replay", "c.jsonl", "--topic-prefix", "x"], "argument --topic-prefix: invalid topic prefix 'x'"),
        (["replay", "c.jsonl", "--connect-timeout", "0"], "argument --connect-timeout: must be > 0: '0'"),
        (["replay", "c.jsonl", "--passes", "1.5"], "argument --passes: not an integer: '1.5'"),
        (["replay", "c.jsonl", "--broker", "http://x"], "broker URL 'http://x': scheme must be one of"),
        (["replay", "c.jsonl", "--speed", "2", "--as-fast-as-possible"], "not allowed with argument"),
        (["replay"], "the following arguments are required: file"),
        (["replay", "missing.jsonl"], "cannot read missing.jsonl: No such file or directory"),
        (["dance"], "invalid choice: 'dance'"),
    ],
)
def test_bad_flags_give_one_clear_line_and_exit_2(args: list[str], message: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code: int | str | None
    try:
        code = main(args)
    except SystemExit as e:  # argparse's way out
        code = e.code
    err = capsys.readouterr().err

    assert code == 2
    assert err.count("\n") == 1, err
    assert message in err


def test_bad_flags_exit_2_from_the_command_line_too() -> None:
    done = _bus("replay", "c.jsonl", "--loop-gap", "-1")

    assert (done.returncode, done.stderr) == (2, "python -m bus replay: error: argument --loop-gap: must be >= 0: "
                                                 "'-1' (see --help)\n")


def test_an_unreachable_broker_fails_after_the_connect_timeout(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    write_capture(path, CAPTURE.messages)

    done = _bus("replay", str(path), "--broker", f"mqtt://127.0.0.1:{free_port()}", "--connect-timeout", "1.5")

    assert done.returncode == 1
    assert "cannot reach broker" in done.stderr  # it kept trying, and said so
    assert done.stderr.strip().splitlines()[-1].startswith("python -m bus replay: error: no connection to mqtt://")


def test_help_works_for_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    done = _bus("--help")
    assert (done.returncode, done.stdout.startswith("usage: python -m bus [-h] {record,replay}")) == (0, True)
    for command in ("record", "replay"):
        with pytest.raises(SystemExit) as raised:
            main([command, "--help"])
        assert raised.value.code == 0
        assert capsys.readouterr().out.startswith(f"usage: python -m bus {command} [-h]")
