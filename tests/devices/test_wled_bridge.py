"""The WLED bridge on the wire: a fake WLED over real HTTP, the real Mosquitto, and the
bridge as a user runs it (``python -m devices.wled_bridge``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from devices.wled_bridge.cli import main
from devices.wled_bridge.wled import WledClient, WledDevice, fetch_led_count, parse_wled_url
from led_agent.backends import DeviceError
from tests.devices.fakewled import FakeWled
from tests.devices.wire import Publisher
from tests.support.brokers import BrokerEndpoint
from tests.support.paths import ROOT as REPO

RED, DARK, WHITE = "ff0000", "000000", "ffffff"


@pytest.fixture
def wled() -> Iterator[FakeWled]:
    fake = FakeWled(leds=6)
    yield fake
    fake.stop()


@pytest.fixture
def publisher(mosquitto: BrokerEndpoint, topic_prefix: str) -> Iterator[Publisher]:
    pub = Publisher(mosquitto, topic_prefix)
    yield pub
    pub.close()


def device(fake: FakeWled, **options: Any) -> WledDevice:
    return WledDevice(WledClient(parse_wled_url(fake.url), timeout=2), node="n1", **options)


def leds(body: dict[str, Any]) -> list[str]:
    """Expand a body's ``seg.i`` back into one colour per LED."""
    out: list[str] = []
    numbers: list[int] = []
    for item in body["seg"]["i"]:
        if isinstance(item, int):
            numbers.append(item)
            continue
        start, stop = (numbers[0], numbers[1]) if len(numbers) == 2 else (numbers[0], numbers[0] + 1)
        out[start:stop] = [item] * (stop - start)
        numbers = []
    return out


# -- the device --------------------------------------------------------------------------


def test_frames_are_posted_on_one_kept_alive_connection(wled: FakeWled) -> None:
    dev = device(wled, brightness=0.5)
    dev.show({"n1": (RED, DARK, DARK)}, 1.0)
    dev.show({"other-node": (WHITE,)}, 1.0)  # not ours: nothing sent
    dev.show({"n1": ("00ff00", RED, DARK)}, 1.0)
    dev.close()
    assert wled.bodies() == [{"on": True, "bri": 128, "seg": {"id": 0, "i": [0, RED, 1, 3, DARK]}},
                             {"on": True, "bri": 128, "seg": {"id": 0, "i": [0, "00ff00", 1, RED, 2, DARK]}}]
    assert len(wled.connections) == 1 and dev.posts == 2


def test_a_wled_that_closes_connections_is_reconnected(wled: FakeWled) -> None:
    wled.close_after_answer = True
    dev = device(wled)
    for color in (RED, WHITE, DARK):
        dev.show({"n1": (color,)}, 1.0)
    dev.close()
    assert [leds(b) for b in wled.bodies()] == [[RED], [WHITE], [DARK]]
    assert len(wled.connections) == 3


def test_a_stale_kept_alive_connection_is_retried_once_on_a_fresh_one(wled: FakeWled) -> None:
    dev = device(wled)
    dev.show({"n1": (RED,)}, 1.0)
    wled.drop_next = True  # the kept-alive connection dies under the next request
    dev.show({"n1": (WHITE,)}, 1.0)
    dev.close()
    assert [leds(b) for b in wled.bodies()] == [[RED], [WHITE]]


def test_error_answers_and_unreachable_wleds_are_device_errors(wled: FakeWled) -> None:
    dev = device(wled)
    wled.fail_with = 500
    try:
        with pytest.raises(DeviceError, match="answered 500"):
            dev.show({"n1": (RED,)}, 1.0)
    finally:
        dev.close()
    wled.stop()
    gone = device(wled)
    with pytest.raises(DeviceError, match=r"POST /json/state failed: .*refused"):
        gone.show({"n1": (RED,)}, 1.0)
    gone.close()


def test_the_led_count_comes_from_wled(wled: FakeWled) -> None:
    assert fetch_led_count(parse_wled_url(wled.url)) == 6


# -- the command line --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--wled", "http://w"], "the following arguments are required: --node"),
        (["--node", "n1"], "the following arguments are required: --wled"),
        (["--node", "n1", "--wled", "ftp://w"], "use http://host[:port]"),
        (["--node", "N_1", "--wled", "w"], "invalid node name"),
        (["--node", "n1", "--wled", "w", "--brightness", "2"], "must be between 0 and 1"),
        (["--node", "n1", "--wled", "w", "--max-writes-per-second", "0"], "must be above 0"),
        (["--node", "n1", "--wled", "w", "--segment", "-1"], "not a segment id"),
        (["--node", "n1", "--wled", "w", "--broker", "http://b"], "scheme must be one of"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(argv: list[str], message: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert err.count("\n") == 1 and message in err and err.startswith("python -m devices.wled_bridge: error:")


def test_an_unreachable_wled_without_leds_exits_1(wled: FakeWled) -> None:
    url = wled.url
    wled.stop()
    done = subprocess.run([sys.executable, "-m", "devices.wled_bridge", "--node", "n1", "--wled", url],
                          cwd=REPO, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 1
    assert "pass --leds to start without asking WLED" in done.stderr


# -- end to end --------------------------------------------------------------------------


class Bridge:
    def __init__(self, endpoint: BrokerEndpoint, prefix: str, wled: FakeWled, *extra: str) -> None:
        argv = [sys.executable, "-m", "devices.wled_bridge", "--node", "n1", "--wled", wled.url,
                "--broker", endpoint.url, "--topic-prefix", prefix, "--agent-id", f"wled-{prefix[:-1]}", *extra]
        self.proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.log: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        self.log.extend(self.proc.stderr)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(10)
        self._reader.join(5)
        return code

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self._reader.join(5)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


def posted(wled: FakeWled, expected: list[str], what: str) -> None:
    wled.wait_for(lambda bodies: bool(bodies) and leds(bodies[-1]) == expected, what)


def test_end_to_end(mosquitto: BrokerEndpoint, topic_prefix: str, wled: FakeWled, publisher: Publisher) -> None:
    yellow, green, blue = "ffff00", "00ff00", "0000ff"
    publisher.snapshot(1, {"pod": "a", "uid": "ua", "color": yellow},
                       {"pod": "b", "uid": "ub", "color": green, "state": "pending"})
    bridge = Bridge(mosquitto, topic_prefix, wled, "--brightness", "0.2", "--max-writes-per-second", "10")
    try:
        posted(wled, [yellow, "004000", DARK, DARK, DARK, DARK], "the snapshot on all 6 LEDs WLED reported")
        assert wled.bodies()[-1]["bri"] == 51 and wled.bodies()[-1]["on"] is True

        publisher.event("add", "c", uid="uc", seq=2)  # no colour: blue, at the end
        posted(wled, [yellow, "004000", blue, DARK, DARK, DARK], "the added pod")

        publisher.event("remove", "a", uid="ua", seq=3)  # flashes red in place, then the gap closes
        posted(wled, ["004000", blue, DARK, DARK, DARK, DARK], "the closed gap")
        flashes = [leds(b)[0] for b in wled.bodies()[-8:]]
        assert RED in flashes and DARK in flashes

        wled.fail_with = 503  # WLED in trouble: logged, counted, retried with the next frame
        publisher.event("update", "b", uid="ub", color=green, state="ready", seq=4)
        wled.wait_for(lambda _: wled.attempts > len(wled.posts), "a failing attempt")
        wled.fail_with = None
        posted(wled, [green, blue, DARK, DARK, DARK, DARK], "the frame that failed, once WLED is back")

        before = len(wled.posts)
        for n in range(40):  # a burst: coalesced by the render loop
            publisher.event("add", f"p{n}", uid=f"u{n}", color=RED, seq=5 + n)
        wled.wait_for(lambda bodies: leds(bodies[-1])[5] == WHITE, "the overflow signal on the last LED")
        burst = wled.posts[before:]
        assert len(burst) < 40
        times = [t for t, _ in wled.posts]
        busiest_second = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
        assert busiest_second <= 13  # at most 10 writes/s, plus slack for a slow POST on a busy machine

        assert bridge.stop() == 0
        assert leds(wled.bodies()[-1]) == [DARK] * 6  # blanked on stop
        assert any("answered 503" in line for line in bridge.log)
    finally:
        bridge.close()
