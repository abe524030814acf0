"""Recording from the real Mosquitto, and a recording replayed into a fresh prefix."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from broker.launching import free_port, start_mosquitto
from bus.captures import Capture, CapturedMessage, CaptureWriter, load_capture, parse_capture
from bus.connection import BusConnection
from bus.recording import Recorder, validate_topic_filter
from bus.replaying import ReplayOptions, replay_to_broker
from bus.topics import TopicError
from bus.urls import parse_broker_url
from tests.support.brokers import BrokerEndpoint
from tests.support.paths import ROOT
from tests.support.probes import Probe

SNAPSHOT_1 = b'{"v":1,"node":"n1","seq":0,"epoch":"e1","pods":[]}'
EVENT = b'{"v":1,"action":"add","pod":"a b","seq":1,"epoch":"e1"}'
SNAPSHOT_2 = b'{"v":1,"node":"n2","seq":5,"epoch":"e1","pods":[]}'


def wait_until(predicate: Callable[[], bool], timeout: float = 10, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        time.sleep(0.02)


@pytest.fixture
def publisher(mosquitto: BrokerEndpoint) -> Iterator[Callable[..., None]]:
    connection = BusConnection(parse_broker_url(mosquitto.url), client_id=f"pub-{os.getpid()}-{time.monotonic_ns()}")
    connection.start(wait=5)

    def publish(topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        connection.publish(topic, payload, qos=qos, retain=retain).wait_for_publish(5)

    yield publish
    connection.stop()


def _publish_traffic(publish: Callable[..., None], prefix: str) -> None:
    """What flows after the recorder is subscribed: an event, binary, an empty payload, a retained snapshot."""
    publish(f"{prefix}nodes/n1/pods", EVENT)
    publish(f"{prefix}nodes/n1/pods", b"\xff\x00 binary", qos=0)
    publish(f"{prefix}nodes/n1/pods", b"")
    publish(f"{prefix}nodes/n2/state", SNAPSHOT_2, retain=True)


EXPECTED = [  # (topic without prefix, payload, retain, qos)
    ("nodes/n1/state", SNAPSHOT_1, True, 1),
    ("nodes/n1/pods", EVENT, False, 1),
    ("nodes/n1/pods", b"\xff\x00 binary", False, 0),
    ("nodes/n1/pods", b"", False, 1),
    ("nodes/n2/state", SNAPSHOT_2, True, 1),
]


def _shape(messages: tuple[CapturedMessage, ...], prefix: str) -> list[tuple[str, bytes, bool, int]]:
    return [(m.topic.removeprefix(prefix), m.payload, m.retain, m.qos) for m in messages]


class RecordProcess:
    """``python -m bus record`` as a user runs it."""

    def __init__(self, *args: str, log: Path) -> None:
        self.log = log
        env = {k: v for k, v in os.environ.items() if k != "MQTT_URL"} | {"PYTHONPATH": str(ROOT)}
        with log.open("ab") as err:
            self.process = subprocess.Popen([sys.executable, "-m", "bus", "record", *args], cwd=ROOT, env=env,
                                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")

    def finish(self, sig: int | None = None, timeout: float = 15) -> int:
        if sig is not None and self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()


def _lines(path: Path) -> int:
    return len(path.read_bytes().splitlines()) if path.exists() else 0


def test_record_with_the_cli_then_replay_into_a_fresh_prefix(
    mosquitto: BrokerEndpoint, publisher: Callable[..., None], probe: Callable[[str], Probe],
    topic_prefix: str, tmp_path: Path,
) -> None:
    out = tmp_path / "capture.jsonl"
    publisher(f"{topic_prefix}nodes/n1/state", SNAPSHOT_1, retain=True)
    recording = RecordProcess("--out", str(out), "--broker", mosquitto.url, "--topic-prefix", topic_prefix,
                              log=tmp_path / "record.log")
    wait_until(lambda: _lines(out) >= 2, what="the retained snapshot recorded")  # header + snapshot: subscribed
    _publish_traffic(publisher, topic_prefix)
    wait_until(lambda: _lines(out) >= 1 + len(EXPECTED), what="all messages recorded")

    assert recording.finish(signal.SIGINT) == 0, recording.stderr()
    capture = load_capture(out)
    assert _shape(capture.messages, topic_prefix) == EXPECTED
    assert capture.topics == (f"{topic_prefix}nodes/#",)
    offsets = [m.offset for m in capture.messages]
    assert offsets == sorted(offsets) and offsets[0] >= 0
    assert f"recorded {len(EXPECTED)} messages" in recording.stderr()

    fresh = f"{topic_prefix}again/"
    live = probe(f"{fresh}#")
    stats = replay_to_broker(capture, parse_broker_url(mosquitto.url),
                             options=ReplayOptions(speed=50, topic_prefix=fresh), connect_timeout=5)
    assert stats.unconfirmed == 0
    live.wait_for(lambda ms: len(ms) >= len(EXPECTED))
    assert [(m.topic, bytes(m.payload)) for m in live.messages] == [(fresh + m.topic, m.payload)
                                                                     for m in capture.messages]
    late = probe(f"{fresh}#")  # the replay left the recorded retained state on the broker
    late.wait_for(lambda ms: len(ms) >= 2)
    assert sorted((m.topic, bytes(m.payload), m.retain) for m in late.messages) == [
        (f"{fresh}{topic_prefix}nodes/n1/state", SNAPSHOT_1, True),
        (f"{fresh}{topic_prefix}nodes/n2/state", SNAPSHOT_2, True),
    ]


def _recorder(mosquitto: BrokerEndpoint, topic_filter: str, stream: io.StringIO, *, mqtt311: bool = False,
              limit: int | None = None) -> Recorder:
    recorder = Recorder(parse_broker_url(mosquitto.url), topics=[topic_filter], writer=CaptureWriter(stream),
                        mqtt311=mqtt311, limit=limit)
    recorder.start(wait=5)
    return recorder


def test_a_recorder_recording_a_replay_sees_the_same_retain_flags_and_qos(
    mosquitto: BrokerEndpoint, publisher: Callable[..., None], topic_prefix: str
) -> None:
    """The in-process Recorder (MQTT 5, retain-as-published) as the probe of a replay."""
    source = Capture(tuple(CapturedMessage(i * 0.01, t, p, retain=r, qos=q) for i, (t, p, r, q) in enumerate(EXPECTED)))
    publisher(f"{topic_prefix}ready", b"1", retain=True)
    stream = io.StringIO()
    recorder = _recorder(mosquitto, f"{topic_prefix}#", stream)
    try:
        wait_until(lambda: recorder.count >= 1, what="subscribed")
        options = ReplayOptions(speed=0, topic_prefix=topic_prefix)
        replay_to_broker(source, parse_broker_url(mosquitto.url), options=options)
        wait_until(lambda: recorder.count >= 1 + len(EXPECTED), what="replay recorded")
    finally:
        recorder.stop()

    recorded = parse_capture(stream.getvalue().encode()).messages
    assert _shape(recorded, topic_prefix) == [("ready", b"1", True, 1), *EXPECTED]


def test_with_mqtt311_only_subscribe_time_messages_are_marked_retained(
    mosquitto: BrokerEndpoint, publisher: Callable[..., None], topic_prefix: str
) -> None:
    publisher(f"{topic_prefix}nodes/n1/state", SNAPSHOT_1, retain=True)
    stream = io.StringIO()
    recorder = _recorder(mosquitto, f"{topic_prefix}nodes/#", stream, mqtt311=True, limit=2)
    wait_until(lambda: recorder.count >= 1, what="subscribed")
    publisher(f"{topic_prefix}nodes/n2/state", SNAPSHOT_2, retain=True)
    publisher(f"{topic_prefix}nodes/n1/pods", EVENT)  # beyond the limit: not recorded

    assert recorder.finished.wait(5)
    recorder.stop()
    recorded = parse_capture(stream.getvalue().encode()).messages
    assert [(m.topic.removeprefix(topic_prefix), m.retain) for m in recorded] == [
        ("nodes/n1/state", True), ("nodes/n2/state", False)]
    assert recorder.count == 2


class FullDisk(io.StringIO):
    def write(self, text: str) -> int:
        raise OSError(28, "No space left on device")


def test_a_failing_write_stops_the_recording_and_says_why(
    mosquitto: BrokerEndpoint, publisher: Callable[..., None], topic_prefix: str
) -> None:
    publisher(f"{topic_prefix}nodes/n1/state", SNAPSHOT_1, retain=True)
    recorder = _recorder(mosquitto, f"{topic_prefix}nodes/#", FullDisk())

    assert recorder.finished.wait(5)
    recorder.stop()
    assert isinstance(recorder.error, OSError) and recorder.error.errno == 28
    assert recorder.count == 0


def test_the_cli_stops_after_count_and_waits_for_a_broker_that_is_down_at_start(
    publisher: Callable[..., None], tmp_path: Path
) -> None:
    port = free_port()
    out = tmp_path / "capture.jsonl"
    recording = RecordProcess("--out", str(out), "--broker", f"mqtt://127.0.0.1:{port}", "--topic", "late/#",
                              "--count", "1", log=tmp_path / "record.log")
    try:
        wait_until(lambda: "cannot reach broker" in recording.stderr(), what="a retry log line")
        broker = start_mosquitto(port=port, workdir=tmp_path, persistence=False)
        try:
            probe_conn = BusConnection(parse_broker_url(broker.url), client_id="late-publisher")
            probe_conn.start(wait=5)
            probe_conn.publish("late/x", b"hello", retain=True).wait_for_publish(5)
            probe_conn.stop()
            assert recording.finish(timeout=20) == 0, recording.stderr()
        finally:
            broker.stop()
    finally:
        recording.finish(signal.SIGTERM)
    assert _shape(load_capture(out).messages, "") == [("late/x", b"hello", True, 1)]


def test_the_cli_records_to_stdout_for_a_duration(
    mosquitto: BrokerEndpoint, publisher: Callable[..., None], topic_prefix: str
) -> None:
    publisher(f"{topic_prefix}nodes/n1/state", SNAPSHOT_1, retain=True)
    env = {k: v for k, v in os.environ.items() if k != "MQTT_URL"} | {"PYTHONPATH": str(ROOT)}

    done = subprocess.run([sys.executable, "-m", "bus", "record", "--out", "-", "--duration", "1", "--broker",
                           mosquitto.url, "--topic", f"{topic_prefix}nodes/+/state"],
                          cwd=ROOT, env=env, capture_output=True, timeout=30, check=False)

    assert done.returncode == 0, done.stderr
    capture = parse_capture(done.stdout)
    assert capture.topics == (f"{topic_prefix}nodes/+/state",)
    assert _shape(capture.messages, topic_prefix) == [EXPECTED[0]]


def test_the_cli_refuses_to_overwrite_a_capture(tmp_path: Path) -> None:
    out = tmp_path / "capture.jsonl"
    out.write_text("precious\n")

    recording = RecordProcess("--out", str(out), "--duration", "0.1", log=tmp_path / "record.log")

    assert recording.finish() == 2
    assert recording.stderr() == f"python -m bus record: error: {out} exists; use --force to overwrite it\n"
    assert out.read_text() == "precious\n"


@pytest.mark.parametrize("good", ["nodes/#", "#", "+/+/state", "a//b", "shinealight/nodes/+/pods"])
def test_valid_topic_filters_pass(good: str) -> None:
    assert validate_topic_filter(good) == good


@pytest.mark.parametrize("bad", ["", "a/#/b", "a#", "nodes/x+/pods", "a\0b"])
def test_invalid_topic_filters_are_rejected(bad: str) -> None:
    with pytest.raises(TopicError, match="invalid topic filter"):
        validate_topic_filter(bad)
