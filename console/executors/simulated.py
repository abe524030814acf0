"""The simulated executor: plan steps applied to ``sim.cluster.Cluster`` as the chart would.

A release is what ``helm/whoami`` renders, reduced to what the simulation models: a
Deployment and a Service named after the release, selecting
``app.kubernetes.io/name=whoami, app.kubernetes.io/instance=<release>`` (the chart's
immutable selector labels), with pods labelled for the lights (``app=whoami``,
``blinkt=show``, ``blinktColor=<colour>``, ``version=<version>``). ``strategy`` maps to
``Recreate()`` or the chart's ``RollingUpdate(maxSurge=1, maxUnavailable=0)``, and
``minReadySeconds`` is the chart's 2 s, so a rollout is slow enough to follow on the
LEDs. The route is the cluster's weighted route of that name, between the releases'
Services. As on a cluster, it belongs to no release: ``EnsureRoute`` creates it (or sets
its weights), ``SetWeights`` only changes an existing one — a missing route is refused,
as ``kubectl patch`` refuses it — and ``Delete`` leaves it alone.

Like helm, the executor remembers each release's values, so an ``Upgrade`` with
``reuse_values`` changes only what it sets. It is the only writer of the demo app's
Deployments: releases created behind its back are unknown to it.

Time is the cluster's clock: waits use ``Cluster.wait_until`` and pauses step the
cluster, so with a ``VirtualClock`` a whole rollout runs in milliseconds (the thread
running the plan drives the clock), and with a ``RealClock`` (the demo, the cluster
ticking in its own thread) at the speed the LEDs show.

Errors: the cluster's ``ValueError``/``LookupError`` become ``ClusterRefused``; a wait
that runs out becomes ``StepTimeout`` (both ``ExecutorError``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import assert_never

from console.executors import ClusterRefused, LogLine, StepTimeout
from console.plans import (
    CHART_DEFAULTS,
    ClusterStep,
    Delete,
    DeletePod,
    EnsureRoute,
    Install,
    Scale,
    SetWeights,
    Upgrade,
    Values,
    WaitReady,
)
from sim.cluster import Cluster
from sim.deployments import DeploymentStatus
from sim.rollout import Recreate, RollingUpdate, Strategy
from sim.selectors import PodSelector

CHART_NAME = "whoami"
CHART_ROLLING = RollingUpdate(max_surge=1, max_unavailable=0)
CHART_MIN_READY_SECONDS = 2.0
DELETE_TIMEOUT_S = 300.0


def selector_labels(release: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": CHART_NAME, "app.kubernetes.io/instance": release}


def pod_labels(release: str, values: Values) -> dict[str, str]:
    """The chart's pod template labels for complete ``values``."""
    return {
        **selector_labels(release),
        "app": "whoami",
        "blinkt": "show",
        "blinktColor": values.color or "",
        "version": values.version or "",
    }


def rollout_line(status: DeploymentStatus) -> str:
    """``kubectl rollout status``'s progress line for one status."""
    waiting = f'Waiting for deployment "{status.name}" rollout to finish: '
    if status.updated < status.desired:
        return waiting + f"{status.updated} out of {status.desired} new replicas have been updated..."
    if status.replicas > status.updated:
        return waiting + f"{status.replicas - status.updated} old replicas are pending termination..."
    if status.available < status.updated:
        return waiting + f"{status.available} of {status.updated} updated replicas are available..."
    return f'deployment "{status.name}" successfully rolled out'


class SimulatedExecutor:
    def __init__(
        self,
        cluster: Cluster,
        *,
        namespace: str = "default",
        rolling: RollingUpdate = CHART_ROLLING,
        min_ready_seconds: float = CHART_MIN_READY_SECONDS,
    ) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.rolling = rolling
        self.min_ready_seconds = min_ready_seconds
        self.releases: dict[str, Values] = {}  # what `helm get values --all` would say

    def execute(self, step: ClusterStep, *, log: LogLine, cancel: threading.Event) -> None:
        with _refusals(step):
            match step:
                case Install():
                    self._install(step, log)
                case Upgrade():
                    base = self._values(step.release) if step.reuse_values else CHART_DEFAULTS
                    self._apply(step.release, step.values.over(base), log)
                case Scale():
                    self._scale(step, log)
                case SetWeights():
                    self.cluster.route_stats(step.route, namespace=self.namespace)  # UnknownName if there is none
                    self._set_weights(step, log)
                case EnsureRoute():
                    self._set_weights(step, log)
                case WaitReady():
                    self._wait_ready(step, log, cancel)
                case Delete():
                    self._delete(step, log, cancel)
                case DeletePod():
                    self.cluster.delete_pod(step.pod, namespace=step.namespace or self.namespace)
                    log(f'pod "{step.pod}" deleted')
                case _:
                    assert_never(step)

    def pause(self, seconds: float | None, *, wake: threading.Event, log: LogLine) -> None:
        if seconds is not None:
            self.cluster.wait_until(wake.is_set, seconds)
            return
        log("paused: promote to go on, abort to go back")
        while not wake.wait(self.cluster.tick):
            self.cluster.step()  # a real clock keeps moving; a virtual one waits for promote

    # --- Steps -----------------------------------------------------------------------

    def _install(self, step: Install, log: LogLine) -> None:
        if step.release in self.releases or step.release in self.cluster.deployment_names(namespace=self.namespace):
            raise ClusterRefused(f"cannot re-use a name that is still in use: release {step.release}")
        self._apply(step.release, step.values.over(CHART_DEFAULTS), log)
        self.cluster.apply_service(step.release, selector_labels(step.release), namespace=self.namespace)

    def _apply(self, release: str, values: Values, log: LogLine) -> None:
        self.cluster.apply_deployment(
            release,
            namespace=self.namespace,
            replicas=values.replica_count or 0,
            pod_labels=pod_labels(release, values),
            strategy=self._strategy(values),
            min_ready_seconds=self.min_ready_seconds,
            selector=selector_labels(release),
        )
        self.releases[release] = values
        log(f"deployment {release}: {values.describe()}")

    def _scale(self, step: Scale, log: LogLine) -> None:
        values = self._values(step.release)
        self.cluster.scale(step.release, step.replicas, namespace=self.namespace)
        self.releases[step.release] = Values(values.color, values.version, values.strategy, step.replicas)
        log(f"deployment {step.release} scaled to {step.replicas}")

    def _set_weights(self, step: SetWeights | EnsureRoute, log: LogLine) -> None:
        self.cluster.set_route(step.route, dict(step.weights), namespace=self.namespace)
        log(f"route {step.route}: " + ", ".join(f"{name}={weight}" for name, weight in step.weights))

    def _wait_ready(self, step: WaitReady, log: LogLine, cancel: threading.Event) -> None:
        lines: list[str] = []

        def done() -> bool:
            status = self.cluster.deployment_status(step.release, namespace=self.namespace)
            line = rollout_line(status)
            if not lines or lines[-1] != line:
                lines.append(line)
                log(line)
            return cancel.is_set() or status.complete

        if not self.cluster.wait_until(done, step.timeout_s):
            raise StepTimeout(f"deployment {step.release} not ready after {step.timeout_s:g} s: {lines[-1]}")

    def _delete(self, step: Delete, log: LogLine, cancel: threading.Event) -> None:
        self._values(step.release)
        self.cluster.delete_deployment(step.release, namespace=self.namespace)
        del self.releases[step.release]
        log(f'release "{step.release}" uninstalled; waiting for its pods to go')
        pods = PodSelector.parse(namespace=self.namespace, labels=f"app.kubernetes.io/instance={step.release}")

        def gone() -> bool:
            return cancel.is_set() or not self.cluster.store.select(pods)[0]

        if not self.cluster.wait_until(gone, DELETE_TIMEOUT_S):
            raise StepTimeout(f"pods of {step.release} still there after {DELETE_TIMEOUT_S:g} s")

    # --- Helpers ---------------------------------------------------------------------

    def _values(self, release: str) -> Values:
        try:
            return self.releases[release]
        except KeyError:
            raise ClusterRefused(f"release {release}: not found") from None

    def _strategy(self, values: Values) -> Strategy:
        return Recreate() if values.strategy == "recreate" else self.rolling


@contextmanager
def _refusals(step: ClusterStep) -> Iterator[None]:
    """The cluster's input errors as ClusterRefused, naming the step."""
    try:
        yield
    except (ValueError, LookupError) as e:
        raise ClusterRefused(f"{step.describe()}: {e}") from e
