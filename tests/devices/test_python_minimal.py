"""The minimal subscriber as a user runs it: a subprocess against the real Mosquitto."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.devices.wire import Publisher
from tests.support.brokers import BrokerEndpoint
from tests.support.paths import ROOT as REPO

SCRIPT = REPO / "devices" / "python_minimal" / "subscriber.py"


@pytest.fixture
def publisher(mosquitto: BrokerEndpoint, topic_prefix: str) -> Iterator[Publisher]:
    pub = Publisher(mosquitto, topic_prefix)
    yield pub
    pub.close()


def start(endpoint: BrokerEndpoint, prefix: str, *extra: str) -> subprocess.Popen[str]:
    argv = [sys.executable, str(SCRIPT), "--host", endpoint.host, "--port", str(endpoint.port), "--node", "n1",
            "--prefix", prefix, *extra]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_snapshot_then_events_as_json_lines(mosquitto: BrokerEndpoint, topic_prefix: str,
                                            publisher: Publisher) -> None:
    publisher.snapshot(7, {"pod": "a", "uid": "ua", "color": "ff0000"}, {"pod": "b", "uid": "ub", "color": "00ff00"})
    proc = start(mosquitto, topic_prefix, "--json", "--count", "6")
    try:
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline())  # the retained snapshot: we are subscribed now
        assert first == [{"pod": "a", "color": "ff0000"}, {"pod": "b", "color": "00ff00"}]
        publisher.event("add", "c", uid="uc", seq=8)  # no colour: blue
        publisher.send("pods", b"not json")  # bad input: reported, nothing shown changes
        publisher.event("update", "a", uid="ua", color="ffff00", seq=9)  # keeps its place
        publisher.event("remove", "b", uid="ub", seq=10)  # the pods after it move up
        publisher.send("pods", b'{"action":"add","pod":"x","color":"a81399"}')  # the seed's minimal event
        out, err = proc.communicate(timeout=15)
    finally:
        proc.kill()
        proc.wait(10)
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines == [
        [{"pod": "a", "color": "ff0000"}, {"pod": "b", "color": "00ff00"}, {"pod": "c", "color": "0000ff"}],
        [{"pod": "a", "color": "ffff00"}, {"pod": "b", "color": "00ff00"}, {"pod": "c", "color": "0000ff"}],
        [{"pod": "a", "color": "ffff00"}, {"pod": "c", "color": "0000ff"}],
        [{"pod": "a", "color": "ffff00"}, {"pod": "c", "color": "0000ff"}, {"pod": "x", "color": "a81399"}],
    ]
    assert proc.returncode == 0
    assert "ignored a bad message" in err


def test_blocks_in_true_colour(mosquitto: BrokerEndpoint, topic_prefix: str, publisher: Publisher) -> None:
    publisher.snapshot(1, {"pod": "a", "color": "ff8000"}, {"pod": "b"})
    proc = start(mosquitto, topic_prefix, "--count", "1")
    out, _err = proc.communicate(timeout=15)
    assert re.findall(r"\x1b\[38;2;(\d+);(\d+);(\d+)m██", out) == [("255", "128", "0"), ("0", "0", "255")]


def test_the_guide_shows_the_example_verbatim() -> None:
    """docs/devices.md embeds this file; the test keeps the two from drifting apart."""
    guide = (REPO / "docs" / "devices.md").read_text()
    assert f"```python\n{SCRIPT.read_text()}```" in guide


def test_a_dotted_node_name_is_followed_on_its_underscored_topic(mosquitto: BrokerEndpoint, topic_prefix: str) -> None:
    """The node ip-10-0-1-23.ec2.internal publishes on nodes/ip-10-0-1-23_ec2_internal/… (docs/protocol.md)."""
    publisher = Publisher(mosquitto, topic_prefix, node="ip-10-0-1-23_ec2_internal")
    try:
        publisher.snapshot(1, {"pod": "a", "color": "ff0000"})
        argv = [sys.executable, str(SCRIPT), "--host", mosquitto.host, "--port", str(mosquitto.port),
                "--node", "ip-10-0-1-23.ec2.internal", "--prefix", topic_prefix, "--json", "--count", "1"]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=15, check=True).stdout
    finally:
        publisher.close()
    assert json.loads(out.splitlines()[0]) == [{"pod": "a", "color": "ff0000"}]
