"""The kubelet's part of a pod's life: startup delay, readiness, graceful termination.

Pure-ish: a ``Kubelet`` holds one small record of timers per pod it knows and hands
out what is due; the functions below turn a pod's JSON into its next state. Nothing
here touches the store; the cluster writes each transition through it, so watchers
see ADDED (Pending, not ready) → MODIFIED (Running, Ready) → MODIFIED
(deletionTimestamp set) → DELETED, as from a real cluster.

Timings are cluster seconds (see ``sim.clock``). The startup delay of each pod is drawn
uniformly from ``Timings.startup`` with the cluster's seeded rng, so pods of one
rollout become ready one by one, and a run with the same seed repeats exactly.

``deletionTimestamp`` is, as in Kubernetes, the moment the grace period *ends*
(request time + grace), and ``deletionGracePeriodSeconds`` the grace in whole seconds.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from sim.pods import Pod, mark_terminating, rfc3339, set_ready


@dataclass(frozen=True)
class Timings:
    """Startup delay range (pending → ready) and termination grace period, in cluster seconds."""

    startup: tuple[float, float] = (2.0, 4.0)
    grace: float = 3.0

    def __post_init__(self) -> None:
        low, high = self.startup
        if not 0 <= low <= high:
            raise ValueError(f"startup must be (min, max) with 0 <= min <= max, got {self.startup}")
        if self.grace < 0:
            raise ValueError(f"grace must be >= 0, got {self.grace}")


class Transition(StrEnum):
    READY = "ready"  # Pending → Running and Ready
    GONE = "gone"  # grace period over: delete from the store


@dataclass
class PodTimers:
    """What the kubelet remembers of one pod; times are cluster seconds."""

    seq: int  # creation order, a tie-breaker finer than timestamps
    created_at: float
    ready_due: float | None
    ready_at: float | None = None
    gone_due: float | None = None


@dataclass
class Kubelet:
    timings: Timings
    rng: random.Random
    pods: dict[tuple[str, str], PodTimers] = field(default_factory=dict)
    _seq: int = 0

    def admit(self, key: tuple[str, str], now: float) -> PodTimers:
        """A new pod: it becomes ready after a random startup delay."""
        self._seq += 1
        delay = self.rng.uniform(*self.timings.startup)
        timers = PodTimers(seq=self._seq, created_at=now, ready_due=now + delay)
        self.pods[key] = timers
        return timers

    def terminate(self, key: tuple[str, str], now: float) -> None:
        timers = self.pods.get(key)
        if timers is None:  # a pod we never started (created by someone else): still end it
            self._seq += 1
            timers = self.pods[key] = PodTimers(seq=self._seq, created_at=now, ready_due=None)
        timers.ready_due = None
        if timers.gone_due is None:
            timers.gone_due = now + self.timings.grace

    def due(self, now: float) -> list[tuple[tuple[str, str], Transition]]:
        """Transitions whose time has come, in time order (ties by creation order)."""
        found: list[tuple[float, int, tuple[str, str], Transition]] = []
        for key, t in self.pods.items():
            if t.gone_due is not None and t.gone_due <= now:
                found.append((t.gone_due, t.seq, key, Transition.GONE))
            elif t.ready_due is not None and t.ready_due <= now:
                found.append((t.ready_due, t.seq, key, Transition.READY))
        return [(key, what) for _, _, key, what in sorted(found)]

    def mark_ready(self, key: tuple[str, str], now: float) -> None:
        timers = self.pods[key]
        timers.ready_due = None
        timers.ready_at = now

    def forget(self, key: tuple[str, str]) -> None:
        self.pods.pop(key, None)

    def next_due(self) -> float | None:
        """The next moment a pod changes on its own."""
        moments = [t.gone_due for t in self.pods.values() if t.gone_due is not None]
        moments += [t.ready_due for t in self.pods.values() if t.ready_due is not None]
        return min(moments, default=None)


def started(pod: Pod, *, now: datetime, pod_ip: str) -> Pod:
    """Containers up and the readiness probe passed: Running, Ready, with an IP."""
    status = pod.setdefault("status", {})
    status["phase"] = "Running"
    status["podIP"] = pod_ip
    status["podIPs"] = [{"ip": pod_ip}]
    status.setdefault("startTime", rfc3339(now))
    return set_ready(pod, True)


def terminating(pod: Pod, *, now: datetime, grace: float) -> Pod:
    """A graceful delete: deletionTimestamp is when the grace period ends."""
    seconds = math.ceil(grace)
    return mark_terminating(pod, now + timedelta(seconds=grace), grace_seconds=seconds)


def is_terminating(pod: Pod) -> bool:
    return bool(pod.get("metadata", {}).get("deletionTimestamp"))
