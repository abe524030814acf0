"""The timeline of a strategy: pods per version and state, and traffic per version, over time.

Pure (time is passed in). Every :data:`SAMPLE_SECONDS` the console takes a sample
(:meth:`Timeline.record`) of what the page shows, so the chart and the wall never
disagree:

- ``pods``: the wall's lights across every node counted per colour and state (pending,
  ready, unready, terminating) — what the LEDs show — each colour labelled with the
  versions the palette knows in it (``console.versions.Palette``);
- ``releases``: per release, its pods (not terminating) and the ready ones: the READY
  column of ``kubectl get deploy``. A pod belongs to the release whose name, plus ``-``,
  starts the pod's name (a Deployment's pods are ``<deployment>-<hash>-<suffix>``; the
  longest such name wins, so ``whoamiv2-…`` is never counted under ``whoami``);
- ``traffic``: the split rows' measured share and the weight set, per version;
- ``mark``: what happened in the run since the previous sample (a plan started, the
  weights were set, a pause, the end), for the chart's vertical lines.

A bounded deque keeps the last :data:`SAMPLE_LIMIT` samples (six minutes), so a browser
that opens the page mid-rollout draws the whole story from its first message.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from typing import assert_never

from bus.messages import PodEntry, PodState
from console.messages import (
    AbortedMessage,
    FinishedMessage,
    LogMessage,
    PausedMessage,
    PlanStartedMessage,
    PodCount,
    ReleasePods,
    ResumedMessage,
    RunMessage,
    ShareSample,
    SplitRow,
    StepMessage,
    TimelineSample,
    WeightsMessage,
)
from console.plans import Release
from console.versions import Palette

SAMPLE_SECONDS = 0.5
SAMPLE_LIMIT = 720


def state_of(entry: PodEntry) -> PodState:
    """A missing state counts as ready: the rendering rule (``console.messages.Light``)."""
    return entry.state if entry.state is not None else PodState.READY


def count_pods(entries: Iterable[PodEntry], palette: Palette) -> tuple[PodCount, ...]:
    """Lights per colour and state; colours in the order their versions appeared, unknown ones last."""
    counts: Counter[tuple[str, PodState]] = Counter((e.shown_color, state_of(e)) for e in entries)
    colors = {color for color, _ in counts}
    labelled = {color: palette.versions(color) for color in colors}
    order = palette.order()
    ranked = sorted(colors, key=lambda c: (min((order[v] for v in labelled[c]), default=len(order)), c))
    return tuple(
        PodCount(color=c, versions=labelled[c], pending=counts[(c, PodState.PENDING)],
                 ready=counts[(c, PodState.READY)], unready=counts[(c, PodState.UNREADY)],
                 terminating=counts[(c, PodState.TERMINATING)])
        for c in ranked
    )


def release_of(pod: str, names: Sequence[str]) -> str | None:
    """The release whose Deployment named this pod (longest matching ``<name>-`` prefix)."""
    matching = [name for name in names if pod.startswith(f"{name}-")]
    return max(matching, key=len) if matching else None


def release_pods(entries: Iterable[PodEntry], releases: Sequence[Release]) -> tuple[ReleasePods, ...]:
    names = [r.name for r in releases]
    pods: Counter[str] = Counter()
    ready: Counter[str] = Counter()
    for entry in entries:
        state = state_of(entry)
        name = release_of(entry.pod, names)
        if name is None or state is PodState.TERMINATING:
            continue
        pods[name] += 1
        ready[name] += state is PodState.READY
    return tuple(ReleasePods(release=n, pods=pods[n], ready=ready[n]) for n in names)


def mark_of(message: RunMessage) -> str | None:
    """The chart's label for a moment of the run, or None for the messages in between."""
    match message:
        case PlanStartedMessage():
            return f"abort {message.strategy}" if message.aborting else message.strategy
        case WeightsMessage():
            return "traffic " + "/".join(str(w.weight) for w in message.weights)
        case PausedMessage():
            return "paused"
        case ResumedMessage():
            return "promoted" if message.promoted else "resumed"
        case FinishedMessage():
            return "aborted" if message.aborted else "done" if message.ok else "failed"
        case StepMessage() | LogMessage() | AbortedMessage():
            return None
        case _:
            assert_never(message)


class Timeline:
    """The last :data:`SAMPLE_LIMIT` samples and the marks not yet sampled; thread-safe."""

    def __init__(self, *, start: float, limit: int = SAMPLE_LIMIT) -> None:
        self.start = start
        self._samples: deque[TimelineSample] = deque(maxlen=limit)
        self._marks: list[str] = []
        self._lock = threading.Lock()

    def mark(self, label: str) -> None:
        with self._lock:
            if label not in self._marks:
                self._marks.append(label)

    def record(
        self,
        now: float,
        *,
        entries: Sequence[PodEntry],
        releases: Sequence[Release],
        rows: Sequence[SplitRow],
        failed: int,
        palette: Palette,
    ) -> TimelineSample:
        traffic = tuple(ShareSample(version=r.version, color=r.color, share=r.share, weight=r.weight) for r in rows)
        with self._lock:
            mark = " · ".join(self._marks) or None
            self._marks.clear()
            sample = TimelineSample(t=round(now - self.start, 2), pods=count_pods(entries, palette),
                                    releases=release_pods(entries, releases), traffic=traffic, failed=failed,
                                    mark=mark)  # fmt: skip
            self._samples.append(sample)
            return sample

    def samples(self) -> tuple[TimelineSample, ...]:
        with self._lock:
            return tuple(self._samples)
