"""The simulated cluster's control plane: one facade over controllers that drive a PodStore.

``Cluster`` is what the demo, the strategy console and the tests call: ``kubectl apply``
of a Deployment (``apply_deployment``), ``scale``, ``delete_deployment``, status, and
Services with weighted routes. Every pod change goes through the ``PodStore`` (create,
update, delete), so a watch on the API server sees ADDED / MODIFIED / DELETED exactly
as a real cluster would produce them.

One ``step()`` runs the controllers to a fixed point at the clock's current time (see
``sim.reconciling``: kubelet timers, one sync per Deployment, the ReplicaSet controller,
the scheduler, repeated until nothing changes). So between two steps the state is one a
real cluster would be in after its controllers caught up, and the rollout invariants
hold after every single store write, not only after each step.

Time: a ``VirtualClock`` makes tests jump from timer to timer (``advance``,
``step_to_next``, ``wait_until``); a ``RealClock`` with ``run(stop)`` (or ``start()``)
ticks every 50 ms for the demo. Randomness (pod names, uids, startup delays, request
routing) comes from separate rngs seeded from ``seed``, so with a virtual clock a run
is reproducible, and routing requests never change the pod names.

Thread-safety: one re-entrant lock around every public method; the console may call
from its own threads while ``run`` ticks.

Errors: invalid input raises a ``ValueError`` subclass (``SpecError``,
``RolloutError``, ``TrafficError``) before anything changes; an unknown deployment,
service or route raises ``UnknownName`` (a ``LookupError``). Store errors while
ticking in ``run`` are logged and counted in ``errors``, never silently dropped.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from sim.clock import Clock, VirtualClock
from sim.deployments import (
    Deployment,
    DeploymentStatus,
    PodTemplate,
    SpecError,
    adopt_template,
    check_label,
    check_name,
    check_selector,
    default_selector,
    status,
    validate_spec,
)
from sim.lifecycle import Timings, is_terminating
from sim.naming import template_hash
from sim.pods import DEFAULT_IMAGE
from sim.podstore import NotFound, PodStore, StoreError
from sim.reconciling import Controllers
from sim.rollout import RollingUpdate, Strategy
from sim.scheduling import node_names
from sim.traffic import Backend, RouteStats, Service, TrafficError, WeightedRoute, choose_pod, endpoints

log = logging.getLogger(__name__)

_Key = tuple[str, str]


class UnknownName(LookupError):
    """No deployment, service or route of that name."""


class Cluster:
    def __init__(
        self,
        store: PodStore | None = None,
        *,
        nodes: int | Sequence[str] = 3,
        clock: Clock | None = None,
        seed: int | str = 0,
        timings: Timings | None = None,
        tick: float = 0.05,
    ) -> None:
        self.clock: Clock = clock or VirtualClock()
        self.store = store or PodStore(clock=self.clock.wall, history_size=10_000)
        self.nodes = node_names(nodes)
        self.timings = timings or Timings()
        self.tick = tick
        self.errors = 0
        self._lock = threading.RLock()
        self._ctl = Controllers(self.store, nodes=self.nodes, clock=self.clock, timings=self.timings, seed=seed)
        self._deployments = self._ctl.deployments
        self._routing = random.Random(f"{seed}/routing")
        self._services: dict[_Key, Service] = {}
        self._routes: dict[_Key, WeightedRoute] = {}
        self._route_stats: dict[_Key, RouteStats] = {}

    # --- Deployments -----------------------------------------------------------------

    def apply_deployment(
        self,
        name: str,
        *,
        namespace: str = "default",
        replicas: int,
        pod_labels: Mapping[str, str],
        strategy: Strategy | None = None,
        min_ready_seconds: float = 0.0,
        image: str = DEFAULT_IMAGE,
        selector: Mapping[str, str] | None = None,
    ) -> DeploymentStatus:
        """Create or update a Deployment; a changed template (labels, image) starts a rollout."""
        strategy = strategy or RollingUpdate()
        template = PodTemplate(dict(pod_labels), image)
        validate_spec(
            name, replicas=replicas, template=template, strategy=strategy, min_ready_seconds=min_ready_seconds
        )
        with self._lock:
            key = (namespace, name)
            existing = self._deployments.get(key)
            fixed = existing.selector if existing else dict(selector or default_selector(template.labels))
            if existing and selector is not None and dict(selector) != dict(fixed):
                raise SpecError(f"deployment {name!r}: the selector is immutable ({dict(fixed)})")
            check_selector(fixed, template)
            d = existing or Deployment(name, namespace, replicas, fixed, template, strategy, min_ready_seconds)
            d.replicas, d.template, d.strategy, d.min_ready_seconds = replicas, template, strategy, min_ready_seconds
            digest = template_hash(template.as_json())
            adopt_template(d, digest, create=lambda revision: self._ctl.new_replica_set(d, digest, revision))
            self._deployments[key] = d
            self.step()
            return self.deployment_status(name, namespace=namespace)

    def scale(self, name: str, replicas: int, *, namespace: str = "default") -> DeploymentStatus:
        with self._lock:
            d = self._deployment(name, namespace)
            validate_spec(
                name, replicas=replicas, template=d.template, strategy=d.strategy, min_ready_seconds=d.min_ready_seconds
            )
            d.replicas = replicas
            self.step()
            return self.deployment_status(name, namespace=namespace)

    def delete_deployment(self, name: str, *, namespace: str = "default") -> None:
        """Delete it and (background cascade) all its pods, gracefully."""
        with self._lock:
            d = self._deployment(name, namespace)
            del self._deployments[(namespace, name)]
            view = self._ctl.view()
            for rs in d.replica_sets:
                for info in view.by_rs.get(rs.name, []):
                    if not info.terminating:
                        self._ctl.terminate(info.key)
            self.step()

    def delete_pod(self, name: str, *, namespace: str = "default") -> None:
        """``kubectl delete pod``: graceful (terminating, gone after the grace period); its
        ReplicaSet, if any, replaces it at once. UnknownName if there is no such pod."""
        with self._lock:
            try:
                pod = self.store.get(namespace, name)
            except NotFound as e:
                raise UnknownName(f"pod {name!r} not found in namespace {namespace!r}") from e
            if not is_terminating(pod):
                self._ctl.terminate((namespace, name))
            self.step()

    def deployment_status(self, name: str, *, namespace: str = "default") -> DeploymentStatus:
        with self._lock:
            return status(self._deployment(name, namespace), self._ctl.view().by_rs, now=self.clock.now())

    def deployment_names(self, *, namespace: str = "default") -> list[str]:
        with self._lock:
            return sorted(n for ns, n in self._deployments if ns == namespace)

    def replica_sets(self, name: str, *, namespace: str = "default") -> list[tuple[str, int, int]]:
        """(ReplicaSet name, revision, spec replicas), oldest first."""
        with self._lock:
            return [(rs.name, rs.revision, rs.replicas) for rs in self._deployment(name, namespace).replica_sets]

    # --- Services and routes ---------------------------------------------------------

    def apply_service(self, name: str, selector: Mapping[str, str], *, namespace: str = "default") -> Service:
        try:
            for key, value in selector.items():
                check_label(key, value)
            check_name("service", name)
        except SpecError as e:
            raise TrafficError(f"service {name!r}: {e}") from e
        if not selector:
            raise TrafficError(f"service {name!r}: the selector must not be empty")
        with self._lock:
            service = self._services[(namespace, name)] = Service(name, namespace, dict(selector))
            return service

    def set_route(self, name: str, weights: Mapping[str, int], *, namespace: str = "default") -> WeightedRoute:
        """Create or change a weighted route; its request counts carry on."""
        route = WeightedRoute(name, dict(weights))
        with self._lock:
            for service in route.weights:
                self._service(service, namespace)
            self._routes[(namespace, name)] = route
            self._route_stats.setdefault((namespace, name), RouteStats())
            return route

    def route_request(self, route: str, *, namespace: str = "default") -> Backend | None:
        """One request: a service by weight, then one of its ready pods; None is a failed request."""
        with self._lock:
            chosen = self._route(route, namespace).pick(self._routing)
            backend = None
            if chosen is not None:
                service = self._service(chosen, namespace)
                backend = choose_pod(chosen, self.store.select(service.pod_selector())[0], self._routing)
            self._route_stats[(namespace, route)].record(backend)
            return backend

    def route_stats(self, route: str, *, namespace: str = "default", reset: bool = False) -> RouteStats:
        with self._lock:
            self._route(route, namespace)
            stats = self._route_stats[(namespace, route)]
            if reset:
                self._route_stats[(namespace, route)] = RouteStats()
            return replace(stats, by_service=stats.by_service.copy(), by_version=stats.by_version.copy())

    def service_endpoints(self, name: str, *, namespace: str = "default") -> list[str]:
        """Names of the service's ready, non-terminating pods."""
        with self._lock:
            service = self._service(name, namespace)
            return [p["metadata"]["name"] for p in endpoints(self.store.select(service.pod_selector())[0])]

    # --- Time ------------------------------------------------------------------------

    def step(self) -> None:
        """Run every controller to a fixed point at the current time."""
        with self._lock:
            self._ctl.run_to_fixed_point()

    def next_due(self) -> float | None:
        """When something will change on its own (a timer, a pod becoming available), or None."""
        with self._lock:
            return self._ctl.next_due()

    def advance(self, seconds: float) -> None:
        """Virtual clock only: move ``seconds`` ahead, stopping at every timer on the way."""
        clock = self._virtual_clock()
        if seconds < 0:
            raise ValueError(f"a clock does not go back: advance({seconds})")
        target = clock.now() + seconds
        self.step()
        while (due := self.next_due()) is not None and due <= target:
            clock.sleep_until(due)
            self.step()
        clock.sleep_until(target)
        self.step()

    def step_to_next(self) -> bool:
        """Virtual clock only: jump to the next timer and step; False when nothing is pending."""
        clock = self._virtual_clock()
        self.step()
        due = self.next_due()
        if due is None:
            return False
        clock.sleep_until(due)
        self.step()
        return True

    def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Step until ``predicate()`` holds (True) or ``timeout`` cluster seconds pass (False)."""
        deadline = self.clock.now() + timeout
        while True:
            self.step()
            if predicate():
                return True
            now = self.clock.now()
            if now >= deadline:
                return False
            due = self.next_due()
            wake = deadline if due is None else min(due, deadline)
            if not isinstance(self.clock, VirtualClock):
                wake = min(wake, now + self.tick)
            self.clock.sleep_until(wake)

    def run(self, stop: threading.Event) -> None:
        """Real time: step every ``tick`` seconds until ``stop`` is set."""
        while not stop.is_set():
            try:
                self.step()
            except StoreError:
                self.errors += 1
                log.exception("cluster step failed (%d so far); carrying on", self.errors)
            stop.wait(self.tick)

    def start(self) -> Running:
        """``run`` in a daemon thread; stop it with ``.stop()``."""
        stop = threading.Event()
        thread = threading.Thread(target=self.run, args=(stop,), name="sim-cluster", daemon=True)
        thread.start()
        return Running(thread, stop)

    # --- Lookups ---------------------------------------------------------------------

    def _deployment(self, name: str, namespace: str) -> Deployment:
        try:
            return self._deployments[(namespace, name)]
        except KeyError:
            raise UnknownName(f'deployments.apps "{name}" not found in namespace "{namespace}"') from None

    def _service(self, name: str, namespace: str) -> Service:
        try:
            return self._services[(namespace, name)]
        except KeyError:
            raise UnknownName(f'services "{name}" not found in namespace "{namespace}"') from None

    def _route(self, name: str, namespace: str) -> WeightedRoute:
        try:
            return self._routes[(namespace, name)]
        except KeyError:
            raise UnknownName(f'route "{name}" not found in namespace "{namespace}"') from None

    def _virtual_clock(self) -> VirtualClock:
        if not isinstance(self.clock, VirtualClock):
            raise TypeError("advance/step_to_next need a VirtualClock; use run() or wait_until() in real time")
        return self.clock


@dataclass(frozen=True)
class Running:
    """A cluster ticking in its own thread."""

    thread: threading.Thread
    stop_event: threading.Event

    def stop(self, timeout: float = 5.0) -> None:
        self.stop_event.set()
        self.thread.join(timeout)
