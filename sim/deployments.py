"""Deployments and their ReplicaSets: the specs, revisions, the controller's decisions, status.

Pure: in-memory records and functions over them; pods arrive as ``PodInfo`` views.
The cluster runs ``sync`` for every Deployment, resizes ReplicaSets as it says, lets
the ReplicaSet controller create/delete pods, and repeats until nothing changes.

Revisions work as in Kubernetes: a Deployment's pod *template* (labels and image)
decides its ReplicaSet (``<deployment>-<pod-template-hash>``). Applying a changed
template makes (or, for a template used before, revives) the ReplicaSet of that
template and gives it the next revision: that is a rollout. Applying the same
template with another replica count is only a scale. The selector is fixed at
creation (``app=<label>`` by default) and must match the template, as the API demands.

A scale in the middle of a rolling update is left to the rolling arithmetic (which
converges to the same end state); Kubernetes' *proportional* scaling of the
intermediate ReplicaSets is not simulated.

Errors: ``SpecError`` (a ``ValueError``) for a spec the API server would refuse.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sim.pods import DEFAULT_IMAGE
from sim.replicasets import PodInfo
from sim.rollout import Recreate, ReplicaSetCounts, RollingUpdate, Strategy, recreate_sync, rolling_sync
from sim.selectors import SelectorError, parse_label_selector

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# generateName keeps room for the hash and the 5-character suffix in a 63-character name.
_MAX_DEPLOYMENT_NAME = 47


class SpecError(ValueError):
    """A Deployment spec the API server would reject."""


@dataclass(frozen=True)
class PodTemplate:
    labels: Mapping[str, str]
    image: str = DEFAULT_IMAGE

    def as_json(self) -> dict[str, Any]:
        containers = [{"name": "app", "image": self.image}]
        return {"metadata": {"labels": dict(self.labels)}, "spec": {"containers": containers}}


@dataclass
class ReplicaSet:
    name: str
    namespace: str
    template: PodTemplate
    template_hash: str
    uid: str
    seq: int  # creation order across the cluster: "oldest first" sorts by it
    revision: int
    replicas: int = 0


@dataclass
class Deployment:
    name: str
    namespace: str
    replicas: int
    selector: Mapping[str, str]
    template: PodTemplate
    strategy: Strategy
    min_ready_seconds: float = 0.0
    replica_sets: list[ReplicaSet] = field(default_factory=list)  # oldest first

    @property
    def new_rs(self) -> ReplicaSet:
        """The ReplicaSet of the current template (the newest revision)."""
        return max(self.replica_sets, key=lambda rs: rs.revision)

    @property
    def old_rs(self) -> list[ReplicaSet]:
        new = self.new_rs
        return [rs for rs in self.replica_sets if rs is not new]

    @property
    def revision(self) -> int:
        return self.new_rs.revision


@dataclass(frozen=True)
class DeploymentStatus:
    """``kubectl get deployment`` and ``rollout status`` in one record."""

    name: str
    namespace: str
    desired: int  # spec.replicas
    replicas: int  # active pods of all its ReplicaSets (status.replicas)
    updated: int  # active pods of the newest ReplicaSet
    ready: int
    available: int
    unavailable: int  # ReplicaSet sizes minus available, never negative
    terminating: int  # pods with a deletionTimestamp, still listed
    revision: int
    complete: bool  # deploymentutil.DeploymentComplete: all updated, all available, no old replica

    @property
    def settled(self) -> bool:
        """Complete, and the last terminating pod is gone."""
        return self.complete and self.terminating == 0


def validate_spec(
    name: str, *, replicas: int, template: PodTemplate, strategy: Strategy, min_ready_seconds: float
) -> None:
    check_name("deployment", name, longest=_MAX_DEPLOYMENT_NAME)
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
        raise SpecError(f"replicas {replicas!r}: must be an integer >= 0")
    if not isinstance(strategy, RollingUpdate | Recreate):
        raise SpecError(f"strategy {strategy!r}: expected RollingUpdate(...) or Recreate()")
    if min_ready_seconds < 0:
        raise SpecError(f"minReadySeconds {min_ready_seconds}: must be >= 0")
    if not isinstance(template.image, str) or not template.image.strip():
        raise SpecError(f"image {template.image!r}: must be a non-empty string")
    if not template.labels:
        raise SpecError("the pod template needs labels (the selector must match them)")
    for key, value in template.labels.items():
        check_label(key, value)


def check_name(kind: str, name: str, *, longest: int = 63) -> None:
    if not isinstance(name, str) or len(name) > longest or not _DNS1123_LABEL.match(name):
        raise SpecError(f"{kind} name {name!r}: must be a DNS-1123 label of at most {longest} characters")


def check_label(key: str, value: str) -> None:
    """One label, checked with the label selector grammar (keys: qualified names, values: label values)."""
    if not isinstance(key, str) or not isinstance(value, str):
        raise SpecError(f"label {key!r}={value!r}: keys and values are strings")
    try:
        parsed = parse_label_selector(f"{key}={value}").requirements
    except SelectorError as e:
        raise SpecError(f"label {key!r}={value!r}: {e}") from e
    if len(parsed) != 1 or parsed[0].key != key or parsed[0].values != frozenset({value}):
        raise SpecError(f"label {key!r}={value!r} is not a valid label")


def default_selector(labels: Mapping[str, str]) -> dict[str, str]:
    """``app=<app>`` when the template has an app label (what charts do), else all its labels."""
    return {"app": labels["app"]} if "app" in labels else dict(labels)


def check_selector(selector: Mapping[str, str], template: PodTemplate) -> None:
    if not selector:
        raise SpecError("the selector must not be empty")
    for key, value in selector.items():
        check_label(key, value)
    if any(template.labels.get(k) != v for k, v in selector.items()):
        raise SpecError(f"selector {dict(selector)} does not match template labels {dict(template.labels)}")


def counts(
    rs: ReplicaSet, pods: Sequence[PodInfo], *, now: float, min_ready_seconds: float
) -> ReplicaSetCounts:
    available = sum(p.available(now=now, min_ready_seconds=min_ready_seconds) for p in pods)
    return ReplicaSetCounts(rs.name, rs.replicas, available)


def sync(d: Deployment, pods_by_rs: Mapping[str, Sequence[PodInfo]], *, now: float) -> dict[str, int]:
    """One pass of the Deployment controller: ReplicaSet name → new size (empty: nothing to do)."""

    def of(rs: ReplicaSet) -> ReplicaSetCounts:
        return counts(rs, pods_by_rs.get(rs.name, ()), now=now, min_ready_seconds=d.min_ready_seconds)

    new, old = of(d.new_rs), [of(rs) for rs in sorted(d.old_rs, key=lambda rs: rs.seq)]
    if isinstance(d.strategy, Recreate):
        old_pods = any(p.phase not in ("Succeeded", "Failed") for rs in d.old_rs for p in pods_by_rs.get(rs.name, ()))
        return recreate_sync(replicas=d.replicas, new=new, old=old, old_pods_exist=old_pods)
    return rolling_sync(d.strategy, replicas=d.replicas, new=new, old=old)


def status(d: Deployment, pods_by_rs: Mapping[str, Sequence[PodInfo]], *, now: float) -> DeploymentStatus:
    pods = [p for rs in d.replica_sets for p in pods_by_rs.get(rs.name, ())]
    active = [p for p in pods if p.active]
    updated = sum(p.active for p in pods_by_rs.get(d.new_rs.name, ()))
    available = sum(p.available(now=now, min_ready_seconds=d.min_ready_seconds) for p in pods)
    sizes = sum(rs.replicas for rs in d.replica_sets)
    return DeploymentStatus(
        name=d.name,
        namespace=d.namespace,
        desired=d.replicas,
        replicas=len(active),
        updated=updated,
        ready=sum(p.ready for p in active),
        available=available,
        unavailable=max(sizes - available, 0),
        terminating=len(pods) - len(active),
        revision=d.revision,
        complete=updated == d.replicas and len(active) == d.replicas and available == d.replicas,
    )


def adopt_template(d: Deployment, template_hash: str, *, create: Callable[[int], ReplicaSet]) -> bool:
    """Make the ReplicaSet with ``template_hash`` the newest revision; False if it already is.

    A template used before revives its ReplicaSet (a rollback); otherwise ``create(revision)``.
    """
    revision = max((rs.revision for rs in d.replica_sets), default=0) + 1
    if d.replica_sets and d.new_rs.template_hash == template_hash:
        return False
    for rs in d.replica_sets:
        if rs.template_hash == template_hash:
            rs.revision = revision
            return True
    d.replica_sets.append(create(revision))
    return True
