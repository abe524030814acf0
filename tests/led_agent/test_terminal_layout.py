"""The terminal view's pure layout: tables for the words, hypothesis for the geometry and the painting."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from led_agent.backends.terminal_layout import (
    LEGENDS,
    MIN_MESSAGES,
    PAGE_SECONDS,
    Counts,
    NodeRow,
    Phase,
    Progress,
    View,
    count_text,
    layout,
    legend,
    paint,
    plain_lines,
    printable,
    progress_text,
    styled,
    width_of,
)
from led_agent.rendering import DARK, RED, WHITE

SGR = re.compile(r"\x1b\[[0-9;]*m")
CONTROL = re.compile(r"\x1b\[([0-9;]*)([A-Za-z])")


def text(line: str) -> str:
    return SGR.sub("", line)


def row(name: str, pods: int | None = None, *, leds: int = 8, status: str | None = None) -> NodeRow:
    lit = min(pods or 0, leds)
    return NodeRow(name, ("ffff00",) * lit + (DARK,) * (leds - lit), pods=pods, status=status)


# -- words ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("pods", "leds", "status", "counts", "expected"), [
    (6, 4, None, Counts.WORDS, "6 pods, 2 hidden"),
    (6, 8, None, Counts.WORDS, "6 pods"),
    (1, 8, None, Counts.WORDS, "1 pod"),
    (0, 8, None, Counts.WORDS, "0 pods"),
    (9, 8, "offline", Counts.WORDS, "9 pods, 1 hidden offline"),
    (3, 8, "degraded", Counts.WORDS, "3 pods degraded"),
    (3, 8, "online", Counts.WORDS, "3 pods"),
    (6, 4, None, Counts.SHORT, "6 (2 hidden)"),
    (6, 8, None, Counts.SHORT, "6"),
    (6, 4, None, Counts.NUMBER, "6"),
    (6, 4, "offline", Counts.NUMBER, "6 offline"),
    (None, 8, None, Counts.WORDS, ""),
    (None, 8, "offline", Counts.WORDS, "offline"),
])
def test_pod_counts(pods: int | None, leds: int, status: str | None, counts: Counts, expected: str) -> None:
    assert count_text(row("n1", pods, leds=leds, status=status), leds, counts) == expected


@pytest.mark.parametrize(("width", "variant"), [(200, 0), (129, 0), (128, 1), (80, 1), (77, 1), (76, 2)])
def test_the_widest_legend_that_fits(width: int, variant: int) -> None:
    shown = legend(width)
    assert width_of(shown) <= width
    labels = [label for label, _ in LEGENDS[variant]]
    assert all(label in "".join(t for t, _ in shown) for label in labels)


def test_the_legend_names_dim_blinking_red_and_white_with_their_colours() -> None:
    line = styled(legend(80))
    for word in ("ready", "dim", "pulse", "blink", "red", "white"):
        assert word in text(line)
    assert "\x1b[38;2;255;0;0m██" in line and "\x1b[38;2;255;255;255m██" in line
    assert re.search(r"\x1b\[5;38;2;\d+;\d+;\d+m██", line), "the blinking sample blinks"


def test_a_narrow_legend_is_clipped_not_wrapped() -> None:
    assert width_of(legend(20)) == 20 and text(styled(legend(20))).endswith("…")


@pytest.mark.parametrize(("progress", "expected"), [
    (Progress("rolling", 0, 3), "3 steps"),
    (Progress("rolling", 0, 1), "1 step"),
    (Progress("rolling", 0, 3, "upgrade release whoami", 1), "step 1/3: upgrade release whoami"),
    (Progress("rolling", 1, 3, "upgrade release whoami", 1), "step 1/3: upgrade release whoami"),
    (Progress("canary", 2, 5, "pause", 3, Phase.PAUSED, "until promoted", "traffic 90% 1.0.0, 10% 2.2.0"),
     "step 3/5 paused · until promoted · traffic 90% 1.0.0, 10% 2.2.0"),
    (Progress("rolling", 3, 3, "wait", 3, Phase.DONE, "version 2.2.0"), "done, 3/3 steps · version 2.2.0"),
    (Progress("recreate", 1, 4, "wait", 2, Phase.FAILED, "timed out"), "failed at step 2/4: wait · timed out"),
    (Progress("canary", 2, 5, "pause", 3, Phase.ABORTING), "aborting at step 3/5"),
    (Progress("canary", 2, 5, "pause", 3, Phase.ABORTED, "back to 1.0.0"), "aborted · back to 1.0.0"),
])
def test_progress_words(progress: Progress, expected: str) -> None:
    assert progress_text(progress) == expected


# -- the screen -------------------------------------------------------------------------------


def test_three_nodes_at_80_by_24_one_per_line_under_the_messages_and_the_plan() -> None:
    view = View(nodes=(row("node-1", 6, leds=4), row("node-2", 1, leds=4), row("node-3", 0, leds=4)), leds=4,
                messages=("broker: mosquitto", "tour 3/7: rolling"), progress=Progress("rolling", 2, 4, "wait", 3))
    screen = [text(line) for line in layout(view, width=80, height=24, now=0.0)]
    assert screen[:3] == ["broker: mosquitto", "tour 3/7: rolling", "rolling  █████░░░░░  step 3/4: wait"]
    assert screen[3:6] == ["node-1  ████████  6 pods, 2 hidden", "node-2  ██······  1 pod",
                           "node-3  ········  0 pods"]
    assert screen[6].startswith("██ready ██dim:starting") and len(screen) == 7


def test_fifty_nodes_at_80_by_24_wrap_into_columns_and_keep_the_last_messages() -> None:
    nodes = tuple(row(f"node-{i}", i % 11) for i in range(1, 51))
    messages = tuple(f"message {i}" for i in range(30))
    screen = [text(line) for line in layout(View(nodes, 8, messages, Progress("scale", 0, 2, "s", 1)), width=80,
                                            height=24, now=0.0)]
    assert len(screen) == 24 and all(len(line) <= 80 for line in screen)
    shown = set(re.findall(r"node-\d+", " ".join(screen)))
    assert shown == {f"node-{i}" for i in range(1, 51)}
    assert screen[-1].startswith("██ready") and screen[-2 - 17].startswith("scale")  # 50 nodes in 3 columns
    assert screen[:5] == [f"message {i}" for i in range(25, 30)]  # the newest that fit
    assert re.search(r"node-10 ████████ 10\b", " ".join(screen))  # the tiny tier: counts alone


def test_the_compact_tier_says_how_many_are_hidden() -> None:
    nodes = tuple(row(f"node-{i}", i % 11) for i in range(1, 21))
    screen = " ".join(text(line) for line in layout(View(nodes, 8), width=80, height=12, now=0.0))
    assert "node-10 ████████ 10 (2 hidden)" in screen and "node-1  █······· 1 " in screen


def test_a_wall_larger_than_the_window_turns_pages_and_shows_every_node() -> None:
    nodes = tuple(row(f"n{i:03d}", 3) for i in range(200))
    seen: set[str] = set()
    for page in range(6):
        screen = [text(line) for line in layout(View(nodes, 8), width=80, height=12, now=page * PAGE_SECONDS)]
        assert len(screen) == 12
        assert re.match(r"nodes \d+-\d+ of 200, page \d/\d: the next in \d s", screen[-2]), screen[-2]
        seen |= set(re.findall(r"n\d{3}", " ".join(screen)))
    assert seen == {f"n{i:03d}" for i in range(200)}


views = st.builds(
    View,
    nodes=st.lists(st.builds(NodeRow, name=st.text("abcdefghij-0123456789", min_size=1, max_size=40),
                             frame=st.lists(st.sampled_from([DARK, RED, WHITE, "a81399", "ffff00"]), min_size=8,
                                            max_size=8).map(tuple),
                             pods=st.none() | st.integers(0, 120), status=st.sampled_from([None, "online", "offline"])),
                   max_size=120, unique_by=lambda r: r.name).map(tuple),
    leds=st.just(8),
    messages=st.lists(st.text(max_size=300), max_size=40).map(tuple),
    progress=st.none() | st.builds(Progress, plan=st.sampled_from(["rolling", "canary"]), done=st.integers(0, 9),
                                   total=st.integers(0, 9), step=st.text(max_size=200),
                                   phase=st.sampled_from(list(Phase))),
)


@given(view=views, width=st.integers(1, 250), height=st.integers(1, 80), now=st.floats(0, 1e6))
def test_the_screen_never_exceeds_the_window(view: View, width: int, height: int, now: float) -> None:
    screen = layout(view, width=width, height=height, now=now)
    assert len(screen) <= height
    assert all(len(text(line)) <= width for line in screen)
    assert all("\n" not in line and "\r" not in line for line in screen)
    if height >= 3 + MIN_MESSAGES:
        assert text(screen[-1]) == "".join(t for t, _ in legend(width))  # the legend is always there


@given(view=views, width=st.integers(60, 250), height=st.integers(8, 80))
def test_every_node_is_shown_at_once_or_over_the_pages(view: View, width: int, height: int) -> None:
    names = {r.name[:24] for r in view.nodes}  # MAX_NAME; longer names end in an ellipsis
    seen = set()
    for page in range(len(view.nodes) + 1):
        screen = " ".join(text(line) for line in layout(view, width=width, height=height, now=page * PAGE_SECONDS))
        seen |= {name for name in names if name in screen or name[:23] + "…" in screen}
    assert seen == names


# -- painting ---------------------------------------------------------------------------------


class Screen:
    """Just enough of a terminal to check paint: CUP, ED 2, EL, SGR (ignored), no auto-wrap."""

    def __init__(self, width: int, height: int, lines: list[str] | None = None) -> None:
        self.width, self.height = width, height
        self.cells = [list(f"{line:<{width}}"[:width]) for line in (lines or [])]
        self.cells += [[" "] * width for _ in range(height - len(self.cells))]
        self.row = self.col = 0

    def feed(self, data: str) -> None:
        at = 0
        for match in CONTROL.finditer(data):
            self._text(data[at : match.start()])
            self._control(match.group(1), match.group(2))
            at = match.end()
        self._text(data[at:])

    def _text(self, chunk: str) -> None:
        assert "\n" not in chunk and "\r" not in chunk, "paint positions every line itself"
        for char in chunk:
            self.cells[self.row][min(self.col, self.width - 1)] = char
            self.col = min(self.col + 1, self.width)

    def _control(self, params: str, final: str) -> None:
        if final == "H":
            row, _, col = params.partition(";")
            self.row, self.col = int(row or 1) - 1, int(col or 1) - 1
        elif final == "J":
            assert params == "2"
            self.cells = [[" "] * self.width for _ in range(self.height)]
        elif final == "K":
            self.cells[self.row][self.col :] = [" "] * (self.width - self.col)
        else:
            assert final == "m", f"unexpected control {params}{final}"

    def lines(self) -> list[str]:
        return ["".join(cells).rstrip() for cells in self.cells]


@given(view=views, before=views, width=st.integers(10, 200), height=st.integers(3, 60), known=st.booleans())
def test_paint_turns_any_screen_into_the_new_one(view: View, before: View, width: int, height: int,
                                                  known: bool) -> None:
    old = layout(before, width=width, height=height, now=0.0)
    new = layout(view, width=width, height=height, now=0.0)
    screen = Screen(width, height, [text(line) for line in old] if known else ["garbage" * 40] * height)
    screen.feed(paint(old if known else None, new, height=height))
    assert screen.lines() == [text(line).rstrip() for line in new] + [""] * (height - len(new))


def test_paint_rewrites_only_the_lines_that_changed() -> None:
    old = ["a", "b", "c"]
    assert paint(old, ["a", "B", "c"], height=3) == "\x1b[2;1HB\x1b[0m\x1b[K"
    assert paint(old, old, height=3) == ""
    assert paint(old, ["a"], height=3) == "\x1b[2;1H\x1b[0m\x1b[K\x1b[3;1H\x1b[0m\x1b[K"


# -- without a screen -------------------------------------------------------------------------


def test_plain_lines_say_counts_or_lit_leds_and_the_plan() -> None:
    view = View(nodes=(row("node-1", 6, leds=4), NodeRow("node-2", ("ff0000", DARK, DARK, DARK)),
                       row("node-3", 2, leds=4, status="offline")), leds=4,
                progress=Progress("rolling", 1, 4, "wait until ready", 2))
    assert plain_lines(view) == {"": "rolling: step 2/4: wait until ready", "node-1": "node-1: 6 pods, 2 hidden",
                                 "node-2": "node-2: 1 of 4 LEDs lit", "node-3": "node-3: 2 pods offline"}
    assert not any("\x1b" in line for line in plain_lines(view).values())


@pytest.mark.parametrize(("raw", "shown"), [
    ("console: http://127.0.0.1:8080", "console: http://127.0.0.1:8080"),
    ("\x1b[2Jboom", "?[2Jboom"), ("a\tb\rc", "a?b?c"), ("日本", "??"), ("café ✓", "café ✓"),
])
def test_free_text_cannot_break_the_screen(raw: str, shown: str) -> None:
    assert printable(raw) == shown
