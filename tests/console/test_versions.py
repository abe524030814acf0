"""Versions as the page shows them, pure: per-cent columns that add up, the colour registry, the split."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from console.plans import Release, Values
from console.versions import Palette, percentages, split

V1 = Release("whoami", Values("ffff00", "1.0.0", "rolling", 3))
V2 = Release("whoamiv2", Values("a81399", "2.2.0", "rolling", 3))


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([1, 1, 1], [34, 33, 33]),  # the unit left over goes to the first of equals
        ([2, 1], [67, 33]),
        ([95, 5], [95, 5]),
        ([0.5, 0.5, 0.0], [50, 50, 0]),
        ([1, 0], [100, 0]),
        ([0, 0], [0, 0]),
        ([], []),
        ([19.5, 0.25, 0.25], [98, 1, 1]),
    ],
)
def test_percentages_round_to_whole_numbers_that_add_up(values: list[float], expected: list[int]) -> None:
    assert percentages(values) == expected


@given(st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1, max_size=12))
def test_percentages_always_add_up_to_100_and_stay_within_one_of_exact(values: list[float]) -> None:
    shares = percentages(values)
    whole = sum(values)
    if whole <= 0:
        assert shares == [0] * len(values)
        return
    assert sum(shares) == 100
    assert all(abs(share - value * 100 / whole) < 1 for share, value in zip(shares, values, strict=True))


def test_the_palette_remembers_every_version_and_its_latest_colour() -> None:
    palette = Palette()
    palette.learn([V1])
    palette.learn([Release("whoami", Values("00ff00", "1.0.0", "rolling", 3)), V2])
    assert palette.color("1.0.0") == "00ff00"
    assert palette.color("2.2.0") == "a81399"
    assert palette.color("3.0.0") is None
    assert palette.versions("a81399") == ("2.2.0",)
    assert palette.versions("ffff00") == ()
    assert palette.order() == {"1.0.0": 0, "2.2.0": 1}


def test_a_canary_split_is_one_row_per_version_with_the_weight_set_and_the_share_measured() -> None:
    rows, failed = split([V1, V2], (("whoami", 90), ("whoamiv2", 10)), {"1.0.0": 17.0, "2.2.0": 3.0})
    assert [(r.version, r.color, r.releases, r.weight, r.rate, r.share) for r in rows] == [
        ("1.0.0", "ffff00", ("whoami",), 90, 17.0, 85),
        ("2.2.0", "a81399", ("whoamiv2",), 10, 3.0, 15),
    ]
    assert failed == 0


def test_old_pods_of_a_rolling_update_answer_without_a_weight_of_their_own() -> None:
    upgraded = Release("whoami", Values("a81399", "2.2.0", "rolling", 3))
    palette = Palette()
    palette.learn([V1])
    rows, _ = split([upgraded], (("whoami", 100),), {"1.0.0": 12.0, "2.2.0": 8.0}, palette=palette)
    assert [(r.version, r.color, r.releases, r.weight, r.share) for r in rows] == [
        ("2.2.0", "a81399", ("whoami",), 100, 40),
        ("1.0.0", "ffff00", (), None, 60),  # the release's weight is on the version it runs now
    ]


def test_failed_requests_are_a_share_of_their_own_and_the_column_still_adds_up() -> None:
    rows, failed = split([V1], (("whoami", 100),), {"1.0.0": 1.0}, failed=2.0)
    assert [r.share for r in rows] == [33]
    assert failed == 67


def test_without_a_route_or_traffic_there_are_no_weights_and_no_shares() -> None:
    rows, failed = split([V1], (), {})
    assert [(r.version, r.weight, r.rate, r.share) for r in rows] == [("1.0.0", None, 0.0, 0)]
    assert failed == 0
    assert split([], (), {}) == ((), 0)


def test_a_version_two_releases_run_carries_both_weights() -> None:
    twin = Release("whoamiv2", Values("ffff00", "1.0.0", "rolling", 1))
    rows, _ = split([V1, twin], (("whoami", 70), ("whoamiv2", 30)), {"1.0.0": 20.0})
    assert [(r.version, r.releases, r.weight, r.share) for r in rows] == [("1.0.0", ("whoami", "whoamiv2"), 100, 100)]


@given(
    st.lists(st.integers(min_value=0, max_value=100), min_size=2, max_size=2),
    st.dictionaries(st.sampled_from(["1.0.0", "2.2.0", "0.9.0"]), st.floats(min_value=0, max_value=200), max_size=3),
    st.floats(min_value=0, max_value=50),
)
def test_every_split_adds_up(weights: list[int], by_version: dict[str, float], failed: float) -> None:
    rows, failed_share = split([V1, V2], (("whoami", weights[0]), ("whoamiv2", weights[1])), by_version,
                               failed=failed)  # fmt: skip
    shown = [r.weight for r in rows if r.weight is not None]
    assert sum(shown) == (100 if sum(weights) else 0)
    total = sum(by_version.values()) + failed
    assert sum(r.share for r in rows) + failed_share == (100 if total > 0 else 0)
    assert len({r.version for r in rows}) == len(rows)
