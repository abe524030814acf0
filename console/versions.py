"""Versions as the page shows them: the colour each runs in, and the traffic split per version.

Pure. Three views of one app have to be joined here: the route sends traffic to
*releases* (its backends are the releases' Services), the load generator measures the
answers per *version*, and the LEDs show *colours*. The page shows one row per version.

- :class:`Palette` remembers every (version, colour) pair a release has had, so a version
  whose release is gone, or was upgraded in place while its old pods still answer,
  keeps its colour, and a colour on the wall keeps its label.
- :func:`split` makes the rows: per version, the releases that run it now, the weight
  the last step set (the sum of those releases' route weights, as a per cent of all),
  the requests/s measured and their share. Both per-cent columns are rounded with the
  largest remainder method (:func:`percentages`), so each adds up to exactly 100 — the
  failed requests are a share of their own. A version that no release runs any more
  (old pods of a rolling update still answering) gets no weight of its own: the route
  weighs releases, and its release's weight is on the row of the version it runs now.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Mapping, Sequence

from console.messages import SplitRow
from console.plans import Release, Weights


def percentages(values: Sequence[float], total: int = 100) -> list[int]:
    """``values`` as whole per cents adding up to exactly ``total`` (all zeros if they sum to 0).

    Largest remainder: each gets its floor, the units left go to the largest fractions
    (ties: the earlier value), so no displayed column sums to 99 or 101.
    """
    whole = sum(values)
    if whole <= 0:
        return [0] * len(values)
    exact = [value * total / whole for value in values]
    shares = [math.floor(x) for x in exact]
    order = sorted(range(len(values)), key=lambda i: (shares[i] - exact[i], i))
    for i in order[: total - sum(shares)]:
        shares[i] += 1
    return shares


class Palette:
    """Every version's colour as releases have shown it (the latest wins); thread-safe."""

    def __init__(self) -> None:
        self._colors: dict[str, str] = {}  # version → colour, in the order first seen
        self._lock = threading.Lock()

    def learn(self, releases: Iterable[Release]) -> None:
        with self._lock:
            for release in releases:
                if release.values.version is not None and release.values.color is not None:
                    self._colors[release.values.version] = release.values.color

    def color(self, version: str) -> str | None:
        with self._lock:
            return self._colors.get(version)

    def order(self) -> dict[str, int]:
        """Each version's place in the order first seen (for a stable stacking of the chart)."""
        with self._lock:
            return {version: i for i, version in enumerate(self._colors)}

    def versions(self, color: str) -> tuple[str, ...]:
        """The versions shown in ``color``, oldest first (usually one)."""
        with self._lock:
            return tuple(version for version, c in self._colors.items() if c == color)


def split(
    releases: Sequence[Release],
    weights: Weights,
    by_version: Mapping[str, float],
    *,
    failed: float = 0.0,
    palette: Palette | None = None,
) -> tuple[tuple[SplitRow, ...], int]:
    """One row per version (the releases' versions first, then any other that answered),
    and the failed requests' share."""
    running: dict[str, list[str]] = {}
    for release in releases:
        running.setdefault(release.values.version or "?", []).append(release.name)
    versions = [*running, *sorted(v for v in by_version if v not in running)]
    weight_of = dict(weights)
    raw = [sum(weight_of.get(name, 0) for name in running.get(v, ())) for v in versions]
    weighted = percentages(raw) if sum(raw) > 0 else None
    rates = [by_version.get(v, 0.0) for v in versions]
    shares = percentages([*rates, failed])
    colors = {r.values.version: r.values.color for r in releases}
    rows = tuple(
        SplitRow(
            version=v,
            color=colors.get(v) or (palette.color(v) if palette is not None else None),
            releases=tuple(running.get(v, ())),
            weight=weighted[i] if weighted is not None and v in running else None,
            rate=rates[i],
            share=shares[i],
        )
        for i, v in enumerate(versions)
    )
    return rows, shares[-1]
