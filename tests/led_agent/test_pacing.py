"""The render loop on real threads: coalesced writes, never blocking message handling."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping

from bus.messages import PodState
from bus.topics import Topics
from led_agent.backends import DeviceError
from led_agent.board import Board
from led_agent.pacing import RATE_WINDOW_SECONDS, STALL_SECONDS, RenderLoop
from led_agent.rendering import Frame
from tests.support.clocks import FakeClock
from tests.support.messages import event, snapshot

TOPICS = Topics()
PODS, STATE = TOPICS.pods("n1"), TOPICS.state("n1")


class RecordingDevice:
    """Records writes; can be held (a device that takes its time) or made to fail."""

    def __init__(self) -> None:
        self.writes: list[dict[str, Frame]] = []
        self.release = threading.Event()
        self.release.set()
        self.entered = threading.Event()
        self.fail = False
        self.closed = False

    def show(self, frames: Mapping[str, Frame], brightness: float) -> None:
        self.entered.set()
        self.release.wait(10)
        if self.fail:
            raise DeviceError("unplugged")
        self.writes.append(dict(frames))

    def close(self) -> None:
        self.closed = True


def wait_until(predicate: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_a_burst_is_coalesced_and_never_waits_for_the_device() -> None:
    board, device = Board(["n1"], leds=16), RecordingDevice()
    loop = RenderLoop(board, device, brightness=0.2, fps=60)
    board.handle(STATE, snapshot(0).to_payload())
    device.release.clear()  # the device hangs in its first write...
    started = time.monotonic()
    loop.start()
    assert device.entered.wait(5)
    for seq in range(1, 1001):  # ...and 1,000 events are handled all the same
        name = f"p{seq % 10}"
        board.handle(PODS, event("add" if seq % 3 else "remove", name, seq, color="00ff00").to_payload())
    assert board.counters.events_applied == 1000
    device.release.set()
    colors = [e.shown_color for e in board.entries("n1")]
    expected = tuple(colors) + ("000000",) * (16 - len(colors))  # once the removal flashes are over
    wait_until(lambda: device.writes and device.writes[-1].get("n1") == expected)
    elapsed = time.monotonic() - started
    loop.stop()
    assert board.counters.device_writes <= 2 + elapsed * 60
    assert len(device.writes) < 30


def test_nothing_changes_nothing_is_written_and_stop_blanks_the_device() -> None:
    board, device = Board(["n1"], leds=2), RecordingDevice()
    board.handle(STATE, snapshot(1, "a", colors={"a": "ff0000"}).to_payload())
    loop = RenderLoop(board, device, brightness=0.5, fps=100)
    loop.start()
    wait_until(lambda: len(device.writes) == 1)
    time.sleep(0.2)
    assert device.writes == [{"n1": ("ff0000", "000000")}]
    board.handle(PODS, event("add", "b", 2, color="0000ff").to_payload())
    wait_until(lambda: len(device.writes) == 2)
    loop.stop()
    assert device.writes[1:] == [{"n1": ("ff0000", "0000ff")}, {"n1": ("000000", "000000")}]
    assert device.closed


def test_animations_tick_without_messages() -> None:
    board, device = Board(["n1"], leds=1), RecordingDevice()
    board.handle(PODS, event("add", "a", 1, color="ff0000", state=PodState.TERMINATING).to_payload())
    loop = RenderLoop(board, device, brightness=0.5, fps=60)
    loop.start()
    wait_until(lambda: len(device.writes) >= 3)  # on, off, on at 2 Hz
    loop.stop()
    assert {w["n1"] for w in device.writes[:3]} == {("ff0000",), ("000000",)}


def test_a_failing_device_is_counted_and_retried() -> None:
    board, device = Board(["n1"], leds=1), RecordingDevice()
    device.fail = True
    loop = RenderLoop(board, device, brightness=0.5, fps=100)
    loop.start()
    wait_until(lambda: board.counters.device_errors >= 2)
    device.fail = False
    board.handle(PODS, event("add", "a", 1, color="ff0000").to_payload())
    wait_until(lambda: device.writes and device.writes[-1] == {"n1": ("ff0000",)})
    loop.stop()
    assert board.counters.device_writes == len(device.writes)


def test_health_comes_from_what_the_loop_knows_a_hung_device_and_a_failing_one() -> None:
    clock = FakeClock()
    board, device = Board(["n1"], leds=1), RecordingDevice()
    loop = RenderLoop(board, device, brightness=0.5, fps=100, clock=clock)
    assert not loop.alive()  # not started
    device.release.clear()  # the first write hangs
    loop.start()
    assert device.entered.wait(5)
    assert loop.alive()
    clock.advance(STALL_SECONDS)
    assert not loop.alive()  # no turn for STALL_SECONDS: a liveness probe restarts the agent
    device.fail = True
    device.release.set()
    wait_until(lambda: loop.device_error == "unplugged")
    wait_until(loop.alive)  # turning again
    device.fail = False
    board.handle(PODS, event("add", "a", 1, color="ff0000").to_payload())
    wait_until(lambda: loop.device_error is None)
    loop.stop()
    assert not loop.alive()


def test_the_frame_rate_is_measured_over_a_window() -> None:
    clock = FakeClock()
    board, device = Board(["n1"], leds=1), RecordingDevice()
    board.handle(PODS, event("add", "a", 1, color="ff0000", state=PodState.TERMINATING).to_payload())  # animated
    loop = RenderLoop(board, device, brightness=0.5, fps=100, clock=clock)
    loop.start()
    wait_until(lambda: board.counters.renders >= 10)
    assert loop.frame_rate == 0.0
    clock.advance(RATE_WINDOW_SECONDS)
    wait_until(lambda: loop.frame_rate > 0)
    loop.stop()
    assert loop.frame_rate * RATE_WINDOW_SECONDS <= board.counters.renders


def test_stop_leaves_a_hung_device_alone_and_returns() -> None:
    board, device = Board(["n1"], leds=1), RecordingDevice()
    board.handle(PODS, event("add", "a", 1, color="ff0000").to_payload())
    device.release.clear()  # the device hangs in its first write
    loop = RenderLoop(board, device, brightness=0.5)
    loop.start()
    assert device.entered.wait(5)
    started = time.monotonic()
    loop.stop(timeout=0.2)
    assert time.monotonic() - started < 5  # not another write that hangs
    assert not device.closed
    device.release.set()
