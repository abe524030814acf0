"""Readings of the demo app's pods for the strategy tests; the history replay is shared
(``tests/store_history.py``)."""

from __future__ import annotations

from sim.lifecycle import is_terminating
from sim.pods import is_ready
from tests.support.history import Mark, Pod, replay, rolling_bounds, version

__all__ = ["Mark", "Pod", "release", "replay", "rolling_bounds", "state", "version"]


def release(pod: Pod) -> str:
    return str(pod["metadata"]["labels"]["app.kubernetes.io/instance"])


def state(pod: Pod) -> str:
    if is_terminating(pod):
        return "terminating"
    return "ready" if is_ready(pod) else "pending"
