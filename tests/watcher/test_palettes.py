"""Automatic version colours: the rule as docs/protocol.md states it, in tables and properties."""

from __future__ import annotations

import colorsys
import os
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bus.messages import normalize_color
from tests.support.paths import ROOT
from watcher.palettes import PALETTE, fnv1a32, split_key, version_color, version_key


def hue(color: str) -> float:
    r, g, b = (int(color[i:i + 2], 16) / 255 for i in (0, 2, 4))
    return colorsys.rgb_to_hsv(r, g, b)[0] * 360


def hue_distance(a: str, b: str) -> float:
    d = abs(hue(a) - hue(b)) % 360
    return min(d, 360 - d)


# -- the palette ----------------------------------------------------------------------------


def test_palette_is_ten_distinct_contract_colours() -> None:
    assert len(PALETTE) == len(set(PALETTE)) == 10
    assert all(normalize_color(c) == c for c in PALETTE), "six lower-case hex digits, as the contract's color"


def test_palette_leaves_out_the_colours_that_mean_something_else() -> None:
    assert {"ff0000", "ffffff", "0000ff"}.isdisjoint(PALETTE)  # removal flash, overflow, no colour
    assert min(hue_distance(c, "ff0000") for c in PALETTE) >= 30
    assert min(hue_distance(c, "0000ff") for c in PALETTE) >= 30


def test_every_entry_is_fully_saturated_and_bright() -> None:
    for color in PALETTE:
        channels = [int(color[i:i + 2], 16) for i in (0, 2, 4)]
        assert max(channels) == 255 and min(channels) == 0, color


def test_neighbours_in_the_palette_are_at_least_90_degrees_apart() -> None:
    for i, color in enumerate(PALETTE):
        assert round(hue_distance(color, PALETTE[(i + 1) % len(PALETTE)])) >= 90, (i, color)  # 80 is 128/255


# -- the rule -------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "value"), [("", 0x811C9DC5), ("a", 0xE40C292C), ("foobar", 0xBF9CF968)])
def test_fnv1a32_is_the_published_function(text: str, value: int) -> None:
    assert fnv1a32(text) == value


@pytest.mark.parametrize(("key", "split"), [
    ("v1.2.13", ("v1.2.#", 3)),
    ("1.2.3-rc10", ("1.2.3-rc#", 0)),
    ("2026.11.1", ("2026.11.#", 1)),
    ("build-41", ("build-#", 1)),
    ("6d9f7c8b45", ("6d9f7c8b#", 5)),
    ("latest", ("latest", 0)),
    ("v" + "9" * 5000, ("v#", 9)),  # a number beyond int()'s digit limit, mod 10 all the same
    ("١٢", ("١٢", 0)),  # only ASCII digits are digits
])
def test_split_key(key: str, split: tuple[str, int]) -> None:
    assert split_key(key) == split


@pytest.mark.parametrize(("key", "color"), [
    ("1.2.3", "ff00ff"), ("1.2.4", "ffff00"), ("1.2.5", "00ff80"),
    ("v41", "00ff00"), ("v42", "0080ff"), ("6d9f7c8b45", "80ff00"), ("latest", "00ff80"),
])
def test_known_colours(key: str, color: str) -> None:
    """Pinned: a change of palette or rule changes what every cluster shows, so it must be deliberate."""
    assert version_color(key) == color
    assert color == PALETTE[(fnv1a32(split_key(key)[0]) + split_key(key)[1]) % 10]


STEM = st.text(st.characters(codec="utf-8"), max_size=20)
NO_DIGITS = STEM.map(lambda s: "".join(c for c in s if not "0" <= c <= "9"))


@given(before=STEM, after=NO_DIGITS, number=st.integers(0, 10**30), step=st.integers(1, 9))
def test_numbers_one_to_nine_apart_never_share_a_colour(before: str, after: str, number: int, step: int) -> None:
    before = before + "." if before[-1:].isascii() and before[-1:].isdigit() else before
    assert version_color(f"{before}{number}{after}") != version_color(f"{before}{number + step}{after}")


@given(before=STEM, after=NO_DIGITS, number=st.integers(0, 10**30))
def test_the_next_number_gets_a_contrasting_neighbour(before: str, after: str, number: int) -> None:
    before = before + "." if before[-1:].isascii() and before[-1:].isdigit() else before
    old, new = version_color(f"{before}{number}{after}"), version_color(f"{before}{number + 1}{after}")
    assert PALETTE.index(new) == (PALETTE.index(old) + 1) % len(PALETTE)
    assert round(hue_distance(old, new)) >= 90


@given(st.text(max_size=70))
def test_any_key_gets_a_palette_colour(key: str) -> None:
    assert version_color(key) in PALETTE


def test_every_process_picks_the_same_colours() -> None:
    """No per-process state: not Python's salted hash(), nothing remembered between calls."""
    keys = ["1.2.3", "v42", "6d9f7c8b45", "ünïcødé-7", "latest"]
    script = f"from watcher.palettes import version_color; print([version_color(k) for k in {keys!r}])"
    runs = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT,
                           env=dict(os.environ, PYTHONHASHSEED=seed)) for seed in ("1", "2", "3")]
    outputs = {run.stdout for run in runs}
    assert outputs == {f"{[version_color(k) for k in keys]}\n"}


# -- which label ----------------------------------------------------------------------------


@pytest.mark.parametrize(("labels", "key"), [
    ({"app.kubernetes.io/version": "1.2.3", "pod-template-hash": "6d9f7c8b45"}, "1.2.3"),
    ({"pod-template-hash": "6d9f7c8b45"}, "6d9f7c8b45"),
    ({"app.kubernetes.io/version": "", "pod-template-hash": "6d9f7c8b45"}, "6d9f7c8b45"),
    ({"app.kubernetes.io/version": 3, "pod-template-hash": "6d9f7c8b45"}, "6d9f7c8b45"),
    ({"app": "whoami"}, None),
    ({}, None),
])
def test_version_key(labels: dict[str, object], key: str | None) -> None:
    assert version_key(labels) == key
