"""Frames as a function of (list, scene, time): tables on an injected clock, and properties."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bus.messages import PodEntry, PodState
from bus.ordering import Changes, NodeList
from led_agent.rendering import (
    FLASH_HALF_PERIOD,
    FLASH_SECONDS,
    PULSE_PERIOD,
    Scene,
    animated,
    pulse_level,
    render,
    scale,
)
from tests.support.messages import entry, event, snapshot

T0 = 1000.0
BLUE, RED, GREEN, YELLOW, WHITE, DARK = "0000ff", "ff0000", "00ff00", "ffff00", "ffffff", "000000"


class Strip:
    """A node list and its scene, driven by events, rendered at chosen times."""

    def __init__(self, leds: int = 8) -> None:
        self.leds = leds
        self.nodes = NodeList()
        self.scene = Scene()

    def add(self, *names_colors: tuple[str, str | None], now: float = T0) -> Strip:
        for name, color in names_colors:
            self._apply(self.nodes.apply_event(event("add", name, color=color)).changes, now)
        return self

    def remove(self, name: str, *, now: float) -> None:
        self._apply(self.nodes.apply_event(event("remove", name)).changes, now)

    def _apply(self, changes: Changes, now: float) -> None:
        self.scene.apply(changes, live_count=len(self.nodes.entries), now=now)

    def frame(self, now: float) -> tuple[str, ...]:
        return render(self.nodes.entries, self.scene, leds=self.leds, now=now)


def test_nothing_to_show_is_dark() -> None:
    assert Strip().frame(T0) == (DARK,) * 8


def test_pods_light_in_order_and_default_to_blue() -> None:
    strip = Strip().add(("a", RED), ("b", None), ("c", GREEN))
    assert strip.frame(T0) == (RED, BLUE, GREEN, DARK, DARK, DARK, DARK, DARK)


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (0.0, (RED, RED, YELLOW, DARK)),  # b flashes red at its place, c stays
        (FLASH_HALF_PERIOD + 0.01, (RED, DARK, YELLOW, DARK)),  # off phase of the flash
        (2 * FLASH_HALF_PERIOD + 0.01, (RED, RED, YELLOW, DARK)),  # second flash
        (FLASH_SECONDS - 0.01, (RED, DARK, YELLOW, DARK)),
        (FLASH_SECONDS, (RED, YELLOW, DARK, DARK)),  # then c moves up, the end goes dark
        (60.0, (RED, YELLOW, DARK, DARK)),
    ],
)
def test_removal_flashes_red_then_closes_the_gap(after: float, expected: tuple[str, ...]) -> None:
    strip = Strip(leds=4).add(("a", RED), ("b", GREEN), ("c", YELLOW))
    strip.remove("b", now=T0)
    assert strip.frame(T0 + after) == expected


def test_removals_during_a_flash_and_adds_keep_list_order() -> None:
    strip = Strip(leds=5).add(("a", RED), ("b", GREEN), ("c", YELLOW))
    strip.remove("a", now=T0)
    strip.remove("c", now=T0 + 0.1)
    strip.add(("d", WHITE), now=T0 + 0.1)
    assert strip.frame(T0 + 0.1) == (RED, GREEN, RED, WHITE, DARK)
    assert strip.frame(T0 + FLASH_SECONDS + 0.05) == (GREEN, DARK, WHITE, DARK, DARK)  # c: off phase, slot kept
    assert strip.frame(T0 + FLASH_SECONDS + 0.2) == (GREEN, WHITE, DARK, DARK, DARK)


def test_prune_forgets_finished_flashes_without_changing_the_frame() -> None:
    strip = Strip(leds=3).add(("a", RED), ("b", GREEN))
    strip.remove("a", now=T0)
    later = T0 + FLASH_SECONDS + 0.1
    before = strip.frame(later)
    strip.scene.prune(later)
    assert strip.frame(later) == before == (GREEN, DARK, DARK)
    assert not strip.scene.flashing(later)


def test_snapshot_reconcile_animates_vanished_pods_and_follows_the_snapshot_order() -> None:
    strip = Strip(leds=4).add(("a", RED), ("b", GREEN), ("c", YELLOW))
    outcome = strip.nodes.apply_snapshot(snapshot(9, "c", "a", colors={"c": YELLOW, "a": RED}))
    strip.scene.apply(outcome.changes, live_count=2, now=T0)
    assert strip.frame(T0) == (YELLOW, RED, RED, DARK)  # b's ghost flashes in its old (second) slot
    assert strip.frame(T0 + FLASH_SECONDS) == (YELLOW, RED, DARK, DARK)


@pytest.mark.parametrize(("at", "last_led"), [(0.0, "000007"), (0.49, "000007"), (0.5, WHITE), (0.99, WHITE)])
def test_overflow_shows_the_first_pods_and_the_last_led_alternates_with_white(at: float, last_led: str) -> None:
    strip = Strip(leds=8).add(*[(f"p{i}", f"00000{i}") for i in range(10)])
    assert strip.frame(at) == ("000000", "000001", "000002", "000003", "000004", "000005", "000006", last_led)


def test_exactly_as_many_pods_as_leds_is_no_overflow() -> None:
    strip = Strip(leds=2).add(("a", RED), ("b", GREEN))
    assert {strip.frame(t / 10) for t in range(20)} == {(RED, GREEN)}


@pytest.mark.parametrize(
    ("state", "at", "expected"),
    [
        (None, 0.0, "4080ff"),
        (PodState.READY, 0.3, "4080ff"),
        (PodState.PENDING, 0.0, "102040"),  # 25 %
        (PodState.PENDING, 0.3, "102040"),
        (PodState.TERMINATING, 0.0, "4080ff"),  # 2 Hz: on for a quarter second...
        (PodState.TERMINATING, 0.24, "4080ff"),
        (PodState.TERMINATING, 0.26, DARK),  # ...off for the next
        (PodState.TERMINATING, 0.51, "4080ff"),
        (PodState.UNREADY, 0.0, "102040"),  # pulse: 25 % at the start of a period
        (PodState.UNREADY, PULSE_PERIOD / 2, "4080ff"),  # full at its middle
    ],
)
def test_states(state: PodState | None, at: float, expected: str) -> None:
    nodes = [entry("a", "4080ff", state)]
    scene = Scene()
    scene.apply(Changes(added=("uid-a",)), live_count=1, now=0.0)
    assert render(nodes, scene, leds=1, now=at) == (expected,)


def test_unready_pulses_through_a_few_levels() -> None:
    levels = {pulse_level(t / 100) for t in range(int(PULSE_PERIOD * 100))}
    assert 4 <= len(levels) <= 8
    assert min(levels) == pytest.approx(0.25)
    assert max(levels) == pytest.approx(1.0)


def test_scale() -> None:
    assert scale("ff8000", 0.5) == "804000"
    assert scale("ffffff", 0.0) == DARK


@pytest.mark.parametrize(
    ("pods", "removing", "expected"),
    [
        ([entry("a", RED)], False, False),
        ([entry("a", RED, PodState.PENDING)], False, False),
        ([entry("a", RED, PodState.TERMINATING)], False, True),
        ([entry("a", RED, PodState.UNREADY)], False, True),
        ([entry(f"p{i}") for i in range(9)], False, True),  # overflow blinks
        ([entry("a", RED)], True, True),
    ],
)
def test_animated_says_when_time_alone_changes_the_frame(pods: list[PodEntry], removing: bool,
                                                        expected: bool) -> None:
    scene = Scene()
    scene.apply(Changes(), live_count=len(pods), now=T0)
    if removing:
        scene.apply(Changes(removed=((0, "uid-x"),)), live_count=len(pods), now=T0)
        scene.apply(Changes(), live_count=len(pods), now=T0)
    assert animated(pods, scene, leds=8, now=T0) is expected


def test_a_scene_out_of_step_with_the_list_still_renders_every_pod() -> None:
    pods = [entry("a", RED), entry("b", GREEN)]
    assert render(pods, Scene(), leds=3, now=T0) == (RED, GREEN, DARK)


# -- properties ---------------------------------------------------------------------------

HEX = re.compile(r"^[0-9a-f]{6}$")
names = st.sampled_from([f"p{i}" for i in range(12)])
steps = st.lists(
    st.tuples(st.sampled_from(["add", "remove"]), names, st.sampled_from([None, RED, GREEN, "0a0b0c"]),
              st.floats(0, 0.5)),
    max_size=30,
)


def play(steps: list[tuple[str, str, str | None, float]], leds: int) -> tuple[Strip, float]:
    strip, now = Strip(leds=leds), T0
    for action, name, color, pause in steps:
        now += pause
        if action == "add":
            strip.add((name, color), now=now)
        else:
            strip.remove(name, now=now)
    return strip, now


@given(steps=steps, leds=st.integers(1, 12), probes=st.lists(st.floats(0, 3), max_size=5))
def test_frames_always_have_exactly_leds_valid_colours(steps: list[tuple[str, str, str | None, float]],
                                                       leds: int, probes: list[float]) -> None:
    strip, now = play(steps, leds)
    for probe in probes:
        frame = strip.frame(now + probe)
        assert len(frame) == leds
        assert all(HEX.match(color) for color in frame)


@given(steps=steps, leds=st.integers(1, 12))
def test_after_all_animations_the_frame_is_the_list_padded_with_dark(
        steps: list[tuple[str, str, str | None, float]], leds: int) -> None:
    strip, now = play(steps, leds)
    colors = [e.shown_color for e in strip.nodes.entries]
    settled = now + FLASH_SECONDS
    assert not strip.scene.flashing(settled)
    if len(colors) <= leds:
        assert strip.frame(settled) == tuple(colors) + (DARK,) * (leds - len(colors))
    else:  # overflow: the first leds-1 pods, then the last LED alternates between its pod and white
        assert strip.frame(settled)[: leds - 1] == tuple(colors[: leds - 1])
        assert {strip.frame(settled + t / 4)[-1] for t in range(4)} == {colors[leds - 1], WHITE}


@given(steps=steps, leds=st.integers(1, 12), probes=st.lists(st.floats(0, 3), min_size=1, max_size=5))
def test_a_frame_needs_only_the_first_leds_pods(steps: list[tuple[str, str, str | None, float]], leds: int,
                                                 probes: list[float]) -> None:
    """What the board relies on to render a node of a thousand pods as fast as one of ten."""
    strip, now = play(steps, leds)
    entries = strip.nodes.entries
    first, more = entries[:leds], max(0, len(entries) - leds)
    for probe in probes:
        at = now + probe
        assert render(first, strip.scene, leds=leds, now=at, more=more) == strip.frame(at)
        assert animated(first, strip.scene, leds=leds, now=at, more=more) is animated(
            entries, strip.scene, leds=leds, now=at)


def test_pods_beyond_the_cap_signal_overflow_on_the_last_led() -> None:
    pods = [entry("a", RED), entry("b", GREEN)]
    scene = Scene()
    scene.apply(Changes(), live_count=2, now=T0)
    assert render(pods, scene, leds=2, now=T0) == (RED, GREEN)
    assert not animated(pods, scene, leds=2, now=T0)
    frames = {render(pods, scene, leds=2, now=T0 + t / 4, more=1) for t in range(4)}
    assert frames == {(RED, GREEN), (RED, WHITE)}
    assert animated(pods, scene, leds=2, now=T0, more=1)
