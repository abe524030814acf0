"""``python -m led_agent --device terminal`` in a real terminal: tmux, read with capture-pane.

The agent follows nodes on the session's Mosquitto while a paho client plays the
watcher. What a user would see is read off the pane: the rows, their 24-bit colours,
the pod counts, the legend; that nothing scrolls into tmux's history while it runs;
and that the terminal is as it was (main screen, cursor, wrap, ``stty`` settings)
after SIGTERM and after Ctrl-C. A pipe gets plain lines.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt import publish

from bus.messages import NodeSnapshot, PodState
from bus.topics import Topics
from tests.support.brokers import BrokerEndpoint
from tests.support.messages import entry
from tests.support.paths import ROOT
from tests.support.terminals import Tmux, lit_colors, tmux_available

pytestmark = pytest.mark.skipif(not tmux_available(), reason="tmux is not installed")

YELLOW, VIOLET = (255, 255, 0), (168, 19, 153)


class Watcher:
    """Retained snapshots, as a watcher publishes them (one paho publish each)."""

    def __init__(self, endpoint: BrokerEndpoint, prefix: str) -> None:
        self.endpoint, self.topics, self._seq = endpoint, Topics(prefix), 0

    def pods(self, node: str, count: int, *, color: str = "ffff00", state: PodState | None = None) -> None:
        self._seq += 1
        pods = tuple(entry(f"{node}-{i}", color, state) for i in range(count))
        payload = NodeSnapshot(node=node, seq=self._seq, pods=pods).model_dump_json()
        publish.single(self.topics.state(node), payload, qos=1, retain=True, hostname=self.endpoint.host,
                       port=self.endpoint.port, protocol=mqtt.MQTTv311)


@pytest.fixture
def watcher(mosquitto: BrokerEndpoint, topic_prefix: str) -> Watcher:
    return Watcher(mosquitto, topic_prefix)


def agent_command(mosquitto: BrokerEndpoint, prefix: str, nodes: list[str], leds: int) -> list[str]:
    return [sys.executable, "-m", "led_agent", "--device", "terminal", *(a for n in nodes for a in ("--node", n)),
            "--leds", str(leds), "--broker", mosquitto.url, "--topic-prefix", prefix,
            "--agent-id", f"tty-{prefix.rstrip('/')}"]


@pytest.fixture
def terminal() -> Iterator[Callable[..., Tmux]]:
    started: list[Tmux] = []

    def start(command: list[str], *, width: int, height: int) -> Tmux:
        started.append(Tmux(command, width=width, height=height, cwd=ROOT, env={"PYTHONPATH": str(ROOT)}))
        return started[-1]

    yield start
    for term in started:
        term.kill()


def node_line(lines: list[str], node: str) -> str:
    return next((line for line in lines if re.match(rf"(\x1b\[[0-9;]*m)*{node}\s", line)), "")


def unwrapped(lines: list[str]) -> str:
    """The view's lines, each message whole again (the view wraps at a space and indents the rest)."""
    return "".join(" " + line.strip() if line.startswith("  ") else "\n" + line for line in lines)


def restored(term: Tmux) -> None:
    assert term.display("#{alternate_on}#{cursor_flag}#{wrap_flag}") == "011", "main screen, cursor, wrap"
    before, after = (settings.split("\n", 1)[1] for settings in term.tty_settings())  # the size may differ
    assert before == after, "stty settings as they were"


@pytest.mark.parametrize(("width", "height"), [(80, 24), (200, 50)])
def test_rows_counts_colours_and_legend_on_a_real_terminal(
        mosquitto: BrokerEndpoint, topic_prefix: str, watcher: Watcher, terminal: Callable[..., Tmux],
        width: int, height: int) -> None:
    watcher.pods("node-1", 6)
    watcher.pods("node-2", 2, color="a81399", state=PodState.PENDING)
    term = terminal(agent_command(mosquitto, topic_prefix, ["node-1", "node-2", "node-3"], 4), width=width,
                    height=height)
    rows = [r"^node-1  ████████  6 pods, 2 hidden$", r"^node-2  ████····  2 pods$", r"^node-3  ········  0 pods$"]
    screen = term.wait_for(lambda s: all(re.search(row, "\n".join(s), re.M) for row in rows),
                           what="every node's row and count")  # the snapshots arrive one by one
    styled = term.styled()
    assert set(lit_colors(node_line(styled, "node-1"))) <= {YELLOW, (255, 255, 255)}  # the last LED: white, "more"
    assert lit_colors(node_line(styled, "node-2")) == [(42, 5, 38)]  # pending: violet at 25 % (one run of 4)
    legend = next(line for line in reversed(screen) if line.strip())
    assert re.search(r"ready.*dim.*puls.*blink.*red.*white", legend), legend
    assert ("white: more pods than LEDs" in legend) == (width >= 129)
    assert term.alternate_on and term.history_size == 0
    watcher.pods("node-1", 5)
    term.wait_for(lambda s: "5 pods, 1 hidden" in "\n".join(s), what="the new count")
    os.kill(term.program_pid(), signal.SIGTERM)
    assert term.wait_ended() == 0
    restored(term)
    assert term.history_size <= 5, term.history()


def test_ctrl_c_gives_the_terminal_back_with_the_log_lines(
        mosquitto: BrokerEndpoint, topic_prefix: str, watcher: Watcher, terminal: Callable[..., Tmux]) -> None:
    watcher.pods("node-1", 3)
    term = terminal(agent_command(mosquitto, topic_prefix, ["node-1"], 8), width=80, height=24)
    term.wait_for(lambda s: "3 pods" in "\n".join(s), what="node-1's count")
    assert "showing node-1 on terminal" in unwrapped(term.screen()), "the log lines are in the view"
    term.keys("C-c")
    assert term.wait_ended() == 0
    restored(term)
    after = "\n".join(term.joined())
    assert "showing node-1 on terminal" in after and "SIGINT: stopping" in after  # printed again, not lost
    assert "█" not in after and "\x1b" not in after
    assert term.history_size == 0


def test_a_resize_refits_the_wall_and_scrolls_nothing(
        mosquitto: BrokerEndpoint, topic_prefix: str, watcher: Watcher, terminal: Callable[..., Tmux]) -> None:
    nodes = [f"node-{i}" for i in range(1, 41)]
    for node in nodes[:3]:
        watcher.pods(node, 2)
    term = terminal(agent_command(mosquitto, topic_prefix, nodes, 8), width=200, height=50)
    wide = term.wait_for(lambda s: "node-40" in "\n".join(s) and "2 pods" in "\n".join(s), what="the wide wall")
    assert sum(bool(re.match(r"node-\d+ +[█·]{16}  \d pods?$", line)) for line in wide) == 40, "a node a line"
    term.resize(80, 24)
    small = term.wait_for(lambda s: len(s) == 24 and any(re.match(r"node-1 .*node-21 ", line) for line in s),
                          what="two columns at 80 x 24")
    assert all(len(line) <= 80 for line in small) and "node-40" in "\n".join(small)
    term.resize(60, 10)
    paged = term.wait_for(lambda s: any(re.match(r"nodes 1-\d+ of 40, page 1/\d", line) for line in s),
                          what="pages at 60 x 10")
    assert len(paged) == 10
    assert term.history_size == 0
    term.keys("C-c")
    assert term.wait_ended() == 0
    restored(term)


def test_a_pipe_gets_plain_lines(mosquitto: BrokerEndpoint, topic_prefix: str, watcher: Watcher) -> None:
    watcher.pods("node-1", 6)
    process = subprocess.Popen(agent_command(mosquitto, topic_prefix, ["node-1"], 4), cwd=ROOT, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert process.stdout is not None
    try:
        assert process.stdout.readline() == "node-1: 0 pods\n"
        assert process.stdout.readline() == "node-1: 6 pods, 2 hidden\n"
    finally:
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=30)
    assert process.returncode == 0 and "\x1b" not in rest


def test_an_exit_without_close_still_gives_the_terminal_back(terminal: Callable[..., Tmux]) -> None:
    """A program that dies of an exception before the render loop's stop: atexit restores."""
    script = ("import sys, time\n"
              "from led_agent.backends.terminal import TerminalDevice\n"
              "view = TerminalDevice(['n1'], stream=sys.stdout, leds=2)\n"
              "view.show({'n1': ('ff0000', '000000')}, 1.0)\n"
              "view.print_above('about to fail')\n"
              "time.sleep(1)\n"
              "raise RuntimeError('a bug')\n")
    term = terminal([sys.executable, "-c", script], width=80, height=24)
    assert term.wait_ended() == 1
    restored(term)
    after = "\n".join(term.joined())
    assert "about to fail" in after and "RuntimeError: a bug" in after, after
