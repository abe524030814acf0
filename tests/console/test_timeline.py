"""The strategy's timeline, pure: lights counted per colour and state, pods per release, marks, the window."""

from __future__ import annotations

import pytest

from bus.messages import PodEntry, PodState
from console.messages import (
    AbortedMessage,
    FinishedMessage,
    LogMessage,
    PausedMessage,
    PlanStartedMessage,
    ResumedMessage,
    RunMessage,
    SplitRow,
    StepMessage,
    WeightRow,
    WeightsMessage,
)
from console.plans import Release, Values
from console.timeline import Timeline, count_pods, mark_of, release_of, release_pods
from console.versions import Palette

YELLOW, VIOLET = "ffff00", "a81399"
V1 = Release("whoami", Values(YELLOW, "1.0.0", "rolling", 3))
V2 = Release("whoamiv2", Values(VIOLET, "2.2.0", "rolling", 1))


def pod(name: str, color: str | None, state: PodState | None) -> PodEntry:
    return PodEntry(pod=name, uid=name, color=color, state=state)


ENTRIES = [
    pod("whoami-6d9f-aaaaa", YELLOW, PodState.READY),
    pod("whoami-6d9f-bbbbb", YELLOW, None),  # no state: shown as ready
    pod("whoami-6d9f-ccccc", YELLOW, PodState.TERMINATING),
    pod("whoamiv2-77c4-ddddd", VIOLET, PodState.PENDING),
    pod("whoamiv2-77c4-eeeee", VIOLET, PodState.UNREADY),
    pod("other-1", None, PodState.READY),  # no colour: the rendering rule's blue
]


@pytest.fixture
def palette() -> Palette:
    p = Palette()
    p.learn([V1, V2])
    return p


def test_lights_are_counted_per_colour_and_state_in_the_order_the_versions_appeared(palette: Palette) -> None:
    counts = count_pods(ENTRIES, palette)
    assert [(c.color, c.versions, c.pending, c.ready, c.unready, c.terminating) for c in counts] == [
        (YELLOW, ("1.0.0",), 0, 2, 0, 1),
        (VIOLET, ("2.2.0",), 1, 0, 1, 0),
        ("0000ff", (), 0, 1, 0, 0),
    ]


@pytest.mark.parametrize(
    ("pod_name", "expected"),
    [
        ("whoami-6d9f-aaaaa", "whoami"),
        ("whoamiv2-77c4-ddddd", "whoamiv2"),  # not whoami's: the longest name that fits wins
        ("whoami", None),
        ("whoamix-1", None),
        ("other-1", None),
    ],
)
def test_a_pod_belongs_to_the_release_whose_deployment_named_it(pod_name: str, expected: str | None) -> None:
    assert release_of(pod_name, ["whoami", "whoamiv2"]) == expected


def test_pods_per_release_are_kubectls_ready_column(palette: Palette) -> None:
    assert [(r.release, r.ready, r.pods) for r in release_pods(ENTRIES, [V1, V2])] == [
        ("whoami", 2, 2),  # the terminating one counts for neither
        ("whoamiv2", 0, 2),
    ]


def test_a_sample_takes_the_marks_since_the_last_one_and_the_window_is_bounded(palette: Palette) -> None:
    timeline = Timeline(start=100.0, limit=3)
    rows = (SplitRow(version="1.0.0", color=YELLOW, releases=("whoami",), weight=90, rate=9.0, share=90),)
    timeline.mark("canary")
    timeline.mark("traffic 90/10")
    timeline.mark("canary")  # the same moment twice is one mark
    first = timeline.record(100.5, entries=ENTRIES, releases=[V1, V2], rows=rows, failed=10, palette=palette)
    assert first.t == 0.5 and first.mark == "canary · traffic 90/10" and first.failed == 10
    assert [(t.version, t.share, t.weight) for t in first.traffic] == [("1.0.0", 90, 90)]
    second = timeline.record(101.0, entries=[], releases=[], rows=(), failed=0, palette=palette)
    assert second.mark is None and second.pods == () and second.releases == ()
    for t in (101.5, 102.0):
        timeline.record(t, entries=[], releases=[], rows=(), failed=0, palette=palette)
    assert [s.t for s in timeline.samples()] == [1.0, 1.5, 2.0]


WEIGHTS = (WeightRow(release="whoami", weight=90), WeightRow(release="whoamiv2", weight=10))
MARKS: list[tuple[RunMessage, str | None]] = [
    (PlanStartedMessage(strategy="canary", aborting=False, steps=()), "canary"),
    (PlanStartedMessage(strategy="canary", aborting=True, steps=()), "abort canary"),
    (WeightsMessage(route="whoami", weights=WEIGHTS), "traffic 90/10"),
    (PausedMessage(index=3, seconds=None), "paused"),
    (ResumedMessage(index=3, promoted=True), "promoted"),
    (ResumedMessage(index=3, promoted=False), "resumed"),
    (FinishedMessage(ok=True, aborted=False, summary=""), "done"),
    (FinishedMessage(ok=True, aborted=True, summary=""), "aborted"),
    (FinishedMessage(ok=False, aborted=False, summary=""), "failed"),
    (StepMessage(event="step-started", index=0, step="install", kind="install"), None),
    (LogMessage(line="$ helm"), None),
    (AbortedMessage(index=2), None),
]


@pytest.mark.parametrize(("message", "mark"), MARKS, ids=lambda m: getattr(m, "event", m))
def test_the_moments_of_a_run_are_marked(message: RunMessage, mark: str | None) -> None:
    assert mark_of(message) == mark
