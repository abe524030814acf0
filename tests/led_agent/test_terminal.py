"""The terminal device's shell: the screen's life (enter, repaint, restore), plain lines on a pipe, the board's counts.

The real terminal is in ``test_terminal_tty.py`` (tmux); here the stream is a StringIO
that claims to be a terminal or not, and the size a function the test changes.
"""

from __future__ import annotations

import io
import logging
import re
import signal
import sys
from collections.abc import Iterator

import pytest

from bus.messages import NodeSnapshot
from bus.topics import Topics
from bus.urls import parse_broker_url
from led_agent.agent import Agent, AgentConfig
from led_agent.backends import DeviceError, FollowsBoard, open_device
from led_agent.backends.terminal import ENTER, LEAVE, TerminalDevice
from led_agent.backends.terminal_layout import Phase, Progress
from led_agent.board import Board
from tests.support.messages import entry
from tests.support.waiting import wait_until

SGR = re.compile(r"\x1b\[[0-9;]*m")
ROW = re.compile(r"\x1b\[(\d+);1H")


class TtyStream(io.StringIO):
    def isatty(self) -> bool:
        return True


class Size:
    def __init__(self, columns: int = 80, lines: int = 24) -> None:
        self.value = (columns, lines)

    def __call__(self) -> tuple[int, int]:
        return self.value


@pytest.fixture
def screen() -> Iterator[tuple[TerminalDevice, TtyStream, Size]]:
    out, size = TtyStream(), Size()
    device = TerminalDevice(["node-1", "node-2"], stream=out, leds=4, screen=True, size=size)
    yield device, out, size
    device.close()


def board_with(pods: dict[str, int]) -> Board:
    board = Board(list(pods), leds=4)
    for node, count in pods.items():
        snapshot = NodeSnapshot(node=node, seq=1, pods=tuple(entry(f"{node}-p{i}", "ffff00") for i in range(count)))
        board.handle(Topics().state(node), snapshot.model_dump_json().encode())
    return board


def rows_written(chunk: str) -> list[int]:
    return [int(r) for r in ROW.findall(chunk)]


# -- on a terminal ----------------------------------------------------------------------------


def test_the_view_takes_the_alternate_screen_and_gives_it_back_with_what_it_said(
        screen: tuple[TerminalDevice, TtyStream, Size]) -> None:
    device, out, _ = screen
    assert out.getvalue() == ENTER
    device.print_above("console: http://127.0.0.1:8080")
    device.show({"node-1": ("ff0000", "000000", "000000", "000000"), "node-2": ("000000",) * 4}, 0.2)
    drawn = out.getvalue()
    assert "\x1b[38;2;255;0;0m██" in drawn and "\x1b[38;2;70;70;70m··" in drawn
    assert "\n" not in drawn, "every line is positioned: nothing can scroll"
    device.close()
    tail = out.getvalue()[len(drawn) :]
    assert tail == LEAVE + "console: http://127.0.0.1:8080\n"
    device.print_above("after")  # closed: plain lines from now on
    assert out.getvalue().endswith(LEAVE + "console: http://127.0.0.1:8080\nafter\n")


def test_a_change_rewrites_only_its_line(screen: tuple[TerminalDevice, TtyStream, Size]) -> None:
    device, out, _ = screen
    device.show({"node-1": ("ff0000",) * 4, "node-2": ("0000ff",) * 4}, 0.2)
    before = len(out.getvalue())
    device.show({"node-2": ("00ff00",) * 4}, 0.2)
    assert rows_written(out.getvalue()[before:]) == [2]
    before = len(out.getvalue())
    device.show({"node-2": ("00ff00",) * 4}, 0.2)
    assert out.getvalue()[before:] == ""


def test_counts_and_statuses_come_from_the_board(screen: tuple[TerminalDevice, TtyStream, Size]) -> None:
    device, out, _ = screen
    board = board_with({"node-1": 6, "node-2": 1})
    device.follow(board)
    device.show(board.frames(), 0.2)
    text = SGR.sub("", out.getvalue())
    assert "node-1  ████████  6 pods, 2 hidden" in text and "node-2  ██······  1 pod" in text


def test_the_plan_is_shown_as_it_goes(screen: tuple[TerminalDevice, TtyStream, Size]) -> None:
    device, out, _ = screen
    device.set_progress(Progress("canary", 2, 5, "pause", 3, Phase.PAUSED, "until promoted"))
    assert "canary  ████░░░░░░  step 3/5 paused · until promoted" in SGR.sub("", out.getvalue())


def test_a_resize_repaints_the_whole_screen_at_the_new_size(screen: tuple[TerminalDevice, TtyStream, Size]) -> None:
    device, out, size = screen
    device.show({"node-1": ("ff0000",) * 4, "node-2": ("0000ff",) * 4}, 0.2)
    before = len(out.getvalue())
    size.value = (40, 10)
    wait_until(lambda: "\x1b[2J" in out.getvalue()[before:], what="a full repaint after the resize")
    legend_line = SGR.sub("", out.getvalue()[before:]).rsplit("H", 1)[-1]
    assert len(legend_line.replace("\x1b[K", "")) <= 40


def test_sigwinch_is_caught_while_the_view_is_up_and_given_back() -> None:
    before = signal.getsignal(signal.SIGWINCH)
    device = TerminalDevice(["n1"], stream=TtyStream(), leds=1, screen=True, size=Size())
    assert signal.getsignal(signal.SIGWINCH) is not before
    signal.raise_signal(signal.SIGWINCH)  # the handler only wakes the ticker
    device.close()
    assert signal.getsignal(signal.SIGWINCH) == before


def test_log_lines_meant_for_the_terminal_go_into_the_view_and_come_back_on_exit() -> None:
    terminal = TtyStream()
    handler = logging.StreamHandler(terminal)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.WARNING)  # whatever an earlier test configured
    try:
        out = TtyStream()
        device = TerminalDevice(["n1"], stream=out, leds=1, screen=True, size=Size())
        logging.getLogger("led_agent.test").warning("broker connection lost")
        wait_until(lambda: "broker connection lost" in out.getvalue(), what="the log line in the view")
        device.close()
        assert handler.stream is terminal and terminal.getvalue() == ""
        assert out.getvalue().endswith(LEAVE + "broker connection lost\n")
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_stderr_is_the_view_while_it_is_up(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = TtyStream()
    monkeypatch.setattr(sys, "stderr", terminal)
    out = TtyStream()
    device = TerminalDevice(["n1"], stream=out, leds=1, screen=True, size=Size())
    print("Exception in thread render:", file=sys.stderr)
    device.close()
    assert sys.stderr is terminal and terminal.getvalue() == ""
    assert out.getvalue().endswith(LEAVE + "Exception in thread render:\n")


def test_a_closed_stream_is_a_device_error(screen: tuple[TerminalDevice, TtyStream, Size]) -> None:
    device, out, _ = screen
    out.close()
    with pytest.raises(DeviceError, match="cannot draw on the terminal"):
        device.show({"node-1": ("ff0000",) * 4}, 0.2)


# -- anywhere else ----------------------------------------------------------------------------


def test_a_pipe_gets_plain_lines_when_something_says_more_than_colours() -> None:
    out = io.StringIO()
    device = open_device("terminal", nodes=["node-1", "node-2"], leds=4, stream=out)
    assert isinstance(device, TerminalDevice) and isinstance(device, FollowsBoard)
    board = board_with({"node-1": 6, "node-2": 1})
    device.follow(board)
    device.print_above("broker: mosquitto")
    device.show(board.frames(), 0.2)
    device.show({"node-1": ("ffffff",) * 4}, 0.2)  # an animation: same counts, nothing to print
    device.set_progress(Progress("rolling", 0, 2, "upgrade release whoami", 1))
    device.close()
    assert out.getvalue().splitlines() == ["broker: mosquitto", "node-1: 6 pods, 2 hidden", "node-2: 1 pod",
                                           "rolling: step 1/2: upgrade release whoami"]
    assert "\x1b" not in out.getvalue()


def test_without_a_board_a_pipe_says_how_many_leds_are_lit() -> None:
    out = io.StringIO()
    device = TerminalDevice(["n1"], stream=out, leds=3)
    device.show({"n1": ("ff0000", "000000", "00ff00")}, 0.2)
    device.show({"n1": ("000000", "000000", "00ff00")}, 0.2)
    assert out.getvalue().splitlines() == ["n1: 2 of 3 LEDs lit", "n1: 1 of 3 LEDs lit"]


def test_dumb_terminals_get_plain_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "dumb")
    out = TtyStream()
    TerminalDevice(["n1"], stream=out, leds=1).show({"n1": ("ff0000",)}, 0.2)
    assert out.getvalue() == "n1: 1 of 1 LEDs lit\n"


def test_the_agent_hands_its_board_to_the_terminal() -> None:
    out = io.StringIO()
    device = TerminalDevice(["n1"], stream=out, leds=2)
    agent = Agent(AgentConfig(broker=parse_broker_url("mqtt://127.0.0.1:1"), nodes=("n1",), agent_id="t", leds=2),
                  device)
    snapshot = NodeSnapshot(node="n1", seq=1, pods=tuple(entry(f"p{i}", "ffff00") for i in range(3)))
    agent.board.handle(Topics().state("n1"), snapshot.model_dump_json().encode())
    agent.loop.step()
    assert out.getvalue() == "n1: 3 pods, 1 hidden\n"
