"""Helpers for the cluster tests: the demo app's labels and pod readings; the history
replay is shared (``tests/store_history.py``)."""

from __future__ import annotations

from sim.cluster import Cluster
from tests.support.history import Mark, Pod, replay, rolling_bounds, version
from watcher.podviews import pod_state

__all__ = ["V1", "V1_COLOR", "V2", "V2_COLOR", "Mark", "Pod", "demo_labels", "replay", "rolling_bounds", "settle",
           "state", "version"]
V1_COLOR, V2_COLOR = "ffff00", "a81399"


def demo_labels(version: str, color: str) -> dict[str, str]:
    return {"app": "whoami", "blinkt": "show", "blinktColor": color, "version": version}


V1 = demo_labels("v1", V1_COLOR)
V2 = demo_labels("v2", V2_COLOR)


def state(pod: Pod) -> str:
    """The watcher's reading of the pod: pending / ready / unready / terminating."""
    return str(pod_state(pod).value)


def settle(cluster: Cluster, name: str = "whoami", timeout: float = 600.0) -> None:
    assert cluster.wait_until(lambda: cluster.deployment_status(name).settled, timeout), cluster.deployment_status(name)
