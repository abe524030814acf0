"""``python -m demo`` as a booth runs it: the tour on a wall of 50 nodes, in a real terminal (tmux).

At 80 x 24 and at 200 x 50 the whole wall fits the window (columns, a compact tier),
the demo's lines and the running plan's progress stay above it, the legend under it,
the LEDs are in 24-bit colour — and nothing reaches tmux's history while the tour
runs. Ctrl-C gives the shell's screen back with what the demo said. Piped, the demo
prints plain lines.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.support.brokers import BrokerEndpoint
from tests.support.paths import ROOT
from tests.support.terminals import Tmux, lit_colors, tmux_available

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not tmux_available(), reason="tmux is not installed")]

NODES = 50
YELLOW, VIOLET = (255, 255, 0), (168, 19, 153)
PROGRESS = re.compile(r"^(install|scale|rolling|canary|blue-green|recreate)\s+[█░]{10}\s+(step \d+/\d+|done)")


def demo_command(mosquitto: BrokerEndpoint, prefix: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "demo", "--scenario", "tour", "--speed", "10", "--console-port", "0",
            "--broker", mosquitto.url, "--topic-prefix", prefix, *extra]


@pytest.fixture
def started() -> Iterator[list[Tmux]]:
    terms: list[Tmux] = []
    yield terms
    for term in terms:
        term.kill()


@pytest.mark.parametrize(("width", "height"), [(80, 24), (200, 50)])
def test_the_tour_on_fifty_nodes_fits_the_window_and_scrolls_nothing(
        mosquitto: BrokerEndpoint, topic_prefix: str, started: list[Tmux], width: int, height: int) -> None:
    term = Tmux(demo_command(mosquitto, topic_prefix, "--nodes", str(NODES)), width=width, height=height, cwd=ROOT,
                env={"PYTHONPATH": str(ROOT)})
    started.append(term)
    histories: list[int] = []

    def at_the_rolling_upgrade(lines: list[str]) -> bool:
        histories.append(term.history_size)
        return any(line.startswith("tour 3/7: rolling upgrade") for line in lines) and any(
            PROGRESS.match(line) for line in lines)

    screen = term.wait_for(at_the_rolling_upgrade, timeout=120, what="the tour's rolling upgrade")
    assert set(histories) == {0}, "nothing scrolled into the history while the tour ran"
    assert len(screen) == height and all(len(line) <= width for line in screen)
    shown = set(re.findall(r"\bnode-\d+\b", " ".join(screen)))
    assert shown == {f"node-{i}" for i in range(1, NODES + 1)}, "the whole wall at once"
    assert any(line.startswith("console: http://127.0.0.1:") for line in screen)
    legend = next(line for line in reversed(screen) if line.strip())
    assert re.search(r"ready.*dim.*puls.*blink.*red.*white", legend), legend
    counts = [int(n) for n in re.findall(r"node-\d+ +[█·]+ +(\d+)", " ".join(screen))]
    assert len(counts) == NODES and 1 <= sum(counts) <= 12, counts  # six replicas, and some surge
    styled = term.styled()
    colours = {c for line in styled if "node-" in line for c in lit_colors(line)}
    assert colours & {YELLOW, VIOLET}, colours
    term.keys("C-c")
    assert term.wait_ended(60) == 0
    assert term.display("#{alternate_on}#{cursor_flag}#{wrap_flag}") == "011"
    after = "\n".join(term.joined())
    assert "tour 3/7: rolling upgrade" in after and "console: http://127.0.0.1:" in after
    assert "█" not in after and term.history_size <= 10


def test_piped_the_demo_prints_plain_lines(mosquitto: BrokerEndpoint, topic_prefix: str) -> None:
    process = subprocess.run(demo_command(mosquitto, topic_prefix, "--nodes", "2", "--duration", "25"), cwd=ROOT,
                             env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120,
                             check=False)
    assert process.returncode == 0, process.stderr[-2000:]
    lines = process.stdout.splitlines()
    assert "\x1b" not in process.stdout
    assert "tour 1/7: install whoami 1.0.0 (yellow), 1 replica" in lines
    assert any(re.fullmatch(r"install: step 1/\d+: install release whoami .*", line) for line in lines), lines
    assert any(re.fullmatch(r"node-[12]: 1 pod", line) for line in lines), lines
    assert any(re.fullmatch(r"scale: done, \d+/\d+ steps · .*", line) for line in lines), lines
