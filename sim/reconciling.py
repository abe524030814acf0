"""The controllers' loop: read the store, run the pure decisions, write the changes back.

This is the only module of the control plane that writes pods. One ``run_pass`` is
one round of every controller at one moment:

1. the kubelet fires due timers (``sim.lifecycle``): Pending → Running+Ready, and pods
   whose grace period is over are deleted;
2. every Deployment makes one sync (``sim.deployments.sync``): scale the new ReplicaSet
   up *or* old ones down, as ``rolling.go``/``recreate.go`` do;
3. the ReplicaSet controller (``sim.replicasets``) marks surplus pods terminating and
   creates missing ones, deletions first so no watcher ever sees a surplus; new pods
   are bound by the scheduler (``sim.scheduling``) as they are created.

``run_to_fixed_point`` repeats passes until nothing changes. Not thread-safe on its
own: the ``Cluster`` facade holds the lock.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sim.clock import Clock
from sim.deployments import Deployment, ReplicaSet, sync
from sim.lifecycle import Kubelet, Timings, Transition, is_terminating, started, terminating
from sim.naming import random_suffix, random_uid
from sim.pods import Pod, is_ready, make_pod
from sim.podstore import AlreadyExists, NotFound, PodStore
from sim.replicasets import PodInfo, reconcile
from sim.scheduling import Placement

_MAX_PASSES = 10_000  # a bug guard: every step converges long before this
Key = tuple[str, str]


@dataclass(frozen=True)
class View:
    """All pods at the start of a pass, as the controllers see them."""

    by_rs: Mapping[str, list[PodInfo]]
    placement: Placement


class Controllers:
    def __init__(
        self, store: PodStore, *, nodes: Sequence[str], clock: Clock, timings: Timings, seed: int | str
    ) -> None:
        self.store = store
        self.nodes = tuple(nodes)
        self.clock = clock
        self.timings = timings
        self.deployments: dict[Key, Deployment] = {}
        self.kubelet = Kubelet(timings, random.Random(f"{seed}/kubelet"))
        self._names = random.Random(f"{seed}/names")
        self._rs_seq = 0
        self._ips: dict[str, int] = defaultdict(int)

    def run_to_fixed_point(self) -> None:
        now = self.clock.now()
        for _ in range(_MAX_PASSES):
            if not self.run_pass(now):
                return
        raise RuntimeError("the controllers did not reach a fixed point")

    def run_pass(self, now: float) -> bool:
        """One round of every controller; False when nothing changed."""
        changed = self._run_kubelet(now)
        view = self.view()
        plans = {key: sync(d, view.by_rs, now=now) for key, d in self.deployments.items()}
        for key, sizes in plans.items():
            for rs in self.deployments[key].replica_sets:
                rs.replicas = sizes.get(rs.name, rs.replicas)
        work = [
            (d, rs, *reconcile(rs.replicas, view.by_rs.get(rs.name, [])))
            for d in self.deployments.values()
            for rs in d.replica_sets
        ]
        for *_, doomed in work:  # deletions first: a watcher never sees a surplus
            for info in doomed:
                self.terminate(info.key)
        for d, rs, create, _ in work:
            for _ in range(create):
                self._create_pod(d, rs, view.placement.place(rs.name))
        return changed or any(plans.values()) or any(create or doomed for *_, create, doomed in work)

    def next_due(self) -> float | None:
        """When something changes on its own: a kubelet timer, or a pod becoming available."""
        now = self.clock.now()
        moments = [m for m in (self.kubelet.next_due(),) if m is not None]
        for d in self.deployments.values():
            if d.min_ready_seconds > 0:
                ready = [t.ready_at for t in self.kubelet.pods.values() if t.ready_at is not None]
                moments += [at + d.min_ready_seconds for at in ready if at + d.min_ready_seconds > now]
        return min(moments, default=None)

    def view(self) -> View:
        pods, _ = self.store.select()
        by_rs: dict[str, list[PodInfo]] = defaultdict(list)
        bound: list[tuple[str, str]] = []
        for pod in pods:
            info = self._info(pod)
            if info.owner is not None:
                by_rs[info.owner].append(info)
            if info.active and info.node is not None:
                bound.append((info.node, info.owner or ""))
        return View(by_rs, Placement(self.nodes, bound))

    def new_replica_set(self, d: Deployment, digest: str, revision: int) -> ReplicaSet:
        self._rs_seq += 1
        name = f"{d.name}-{digest}"
        return ReplicaSet(name, d.namespace, d.template, digest, random_uid(self._names), self._rs_seq, revision)

    def terminate(self, key: Key) -> None:
        """A graceful delete: deletionTimestamp now, gone after the grace period."""
        now, wall, grace = self.clock.now(), self.clock.wall(), self.timings.grace
        self.store.update(*key, lambda pod: terminating(pod, now=wall, grace=grace))
        self.kubelet.terminate(key, now)

    def _run_kubelet(self, now: float) -> bool:
        due = self.kubelet.due(now)
        for key, what in due:
            try:
                if what is Transition.GONE:
                    self.store.delete(*key)
                    self.kubelet.forget(key)
                else:
                    self.store.update(*key, lambda pod: started(pod, now=self.clock.wall(), pod_ip=self._pod_ip(pod)))
                    self.kubelet.mark_ready(key, now)
            except NotFound:  # deleted behind our back (a test, an operator): nothing left to run
                self.kubelet.forget(key)
        return bool(due)

    def _info(self, pod: Pod) -> PodInfo:
        meta = pod["metadata"]
        timers = self.kubelet.pods.get((meta["namespace"], meta["name"]))
        owners = [o.get("name") for o in meta.get("ownerReferences") or [] if o.get("controller")]
        return PodInfo(
            namespace=meta["namespace"],
            name=meta["name"],
            owner=owners[0] if owners else None,
            node=pod.get("spec", {}).get("nodeName"),
            phase=pod.get("status", {}).get("phase", "Pending"),
            ready=is_ready(pod),
            terminating=is_terminating(pod),
            seq=timers.seq if timers else 0,
            ready_at=timers.ready_at if timers else None,
        )

    def _create_pod(self, d: Deployment, rs: ReplicaSet, node: str) -> None:
        labels = {**rs.template.labels, "pod-template-hash": rs.template_hash}
        owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs.name, "uid": rs.uid}
        while True:
            name = f"{rs.name}-{random_suffix(self._names)}"
            pod = make_pod(name, d.namespace, node=node, labels=labels, phase="Pending", ready=False,
                           uid=random_uid(self._names), image=rs.template.image)  # fmt: skip
            pod["metadata"]["generateName"] = f"{rs.name}-"
            pod["metadata"]["ownerReferences"] = [{**owner, "controller": True, "blockOwnerDeletion": True}]
            try:
                self.store.create(pod)
            except AlreadyExists:  # generateName retries on a clash too
                continue
            self.kubelet.admit((d.namespace, name), self.clock.now())
            return

    def _pod_ip(self, pod: Pod) -> str:
        node = pod.get("spec", {}).get("nodeName") or ""
        index = self.nodes.index(node) if node in self.nodes else len(self.nodes)
        self._ips[node] += 1
        return f"10.244.{index}.{(self._ips[node] - 1) % 252 + 2}"
