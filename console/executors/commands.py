"""The helm and kubectl command lines of each plan step, for a real cluster.

Pure: a step and a ``CommandConfig`` in, argv lists out; ``console.executors.cluster``
runs them (or prints them for ``--dry-run``). Printed with ``shlex.join``, they are the
seed's commands::

    helm upgrade whoami --reuse-values --set replicaCount=5 ./whoami/ --wait
    helm upgrade whoami --reuse-values --set color=A81399 --set version=2.2.0 ./whoami/
    helm install whoamiv2 ./whoami/ --set color=A81399 --set version=2.2.0 --set strategy=rolling --set replicaCount=3

Choices:

- Colours go to helm upper-case (``A81399``), as the seed and the chart's values.yaml
  write them; the chart puts them into the ``blinktColor`` label and the watchers
  normalise. A colour or version helm would read as a number (``001122``) goes with
  ``--set-string``, so it keeps its digits. An install sets all four values, so the release never depends on the
  chart's defaults; an upgrade sets only what the plan changes (``--reuse-values``).
- Installs and upgrades do not ``--wait``: the plan's ``WaitReady`` step that follows
  is ``kubectl rollout status``, which shows progress and can be interrupted by an
  abort (an interrupted ``helm --wait`` would leave the release ``pending-upgrade``).
  ``Scale`` keeps the seed's ``--wait``; ``helm uninstall --wait`` waits for the pods.
  ``DeletePod`` (Kill a pod) is ``kubectl delete pod --wait=false`` in the pod's own
  namespace (as the watcher reported it), else the configured one.
- Traffic: Gateway API ``HTTPRoute`` (the portable choice) with a JSON patch that
  replaces ``/spec/rules/0/backendRefs`` only, so the rule's matches and the
  parentRefs stay as they are (a merge patch would replace the whole ``rules`` list);
  or Traefik's ``TraefikService`` with a merge patch of ``spec.weighted.services``
  (the whole of it). The route must not belong to either release: it outlives the
  release a blue-green removes, and a later ``helm upgrade --reuse-values`` of its owner
  would re-render its backends over the patched weights. So it has its own chart and
  release, ``whoami-route`` (``helm/whoami-route``), and ``EnsureRoute`` (the install
  plan's route step) is ``helm upgrade --install whoami-route <route chart>
  --reuse-values --wait`` with the route's name, kind and backends as ``--set`` values:
  it creates the route the first time and resets its weights after that.
  ``--reuse-values`` keeps what the operator set when installing it (gateway,
  hostnames); the backends list given replaces the old one whole (helm merges maps, not
  lists). The backends go as one ``--set-json`` (helm >= 3.10), the same JSON list the
  patches send: names stay strings and ports and weights integers, with no ``--set``
  typing rules to dodge (``--set-string`` for the names and ``--set`` for the numbers
  of one list would do too, but reads worse and is one list split over 3n flags).
- ``namespace`` ``None`` adds no flag: the kube context's namespace, as the seed.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Literal, assert_never

from console.plans import (
    ClusterStep,
    Delete,
    DeletePod,
    EnsureRoute,
    Install,
    Pause,
    Scale,
    SetWeights,
    Upgrade,
    Values,
    WaitReady,
    Weights,
)

RouteKind = Literal["httproute", "traefik"]
Argv = list[str]
ROUTE_RELEASE = "whoami-route"  # the Helm release that owns the route

@dataclass(frozen=True)
class CommandConfig:
    chart: str = "./whoami/"
    namespace: str | None = None
    route_kind: RouteKind = "httproute"
    service_port: int = 80
    route_chart: str = "./whoami-route/"

    def __post_init__(self) -> None:
        if self.route_kind not in ("httproute", "traefik"):
            raise ValueError(f"route kind {self.route_kind!r}: httproute or traefik")

def commands(step: ClusterStep, config: CommandConfig) -> list[Argv]:
    """The commands that carry out ``step``."""
    match step:
        case Install():
            return [_install(step, config)]
        case Upgrade():
            return [_upgrade(step, config)]
        case Scale():
            return [_scale(step, config)]
        case WaitReady():
            return [_wait_ready(step, config)]
        case SetWeights():
            return [route_patch(step.route, step.weights, config)]
        case EnsureRoute():
            return [_ensure_route(step, config)]
        case Delete():
            return [_delete(step, config)]
        case DeletePod():
            return [_delete_pod(step, config)]
        case _:
            assert_never(step)

def _install(step: Install, config: CommandConfig) -> Argv:
    return _helm(config, "install", step.release, config.chart, *_sets(step.values))

def _upgrade(step: Upgrade, config: CommandConfig) -> Argv:
    reuse = "--reuse-values" if step.reuse_values else "--reset-values"
    return _helm(config, "upgrade", step.release, reuse, *_sets(step.values), config.chart)

def _scale(step: Scale, config: CommandConfig) -> Argv:
    sets = _sets(Values(replica_count=step.replicas))
    return _helm(config, "upgrade", step.release, "--reuse-values", *sets, config.chart, "--wait")

def _wait_ready(step: WaitReady, config: CommandConfig) -> Argv:
    return _kubectl(config, "rollout", "status", f"deployment/{step.release}", f"--timeout={step.timeout_s:g}s")

def _ensure_route(step: EnsureRoute, config: CommandConfig) -> Argv:
    return _helm(
        config, "upgrade", "--install", ROUTE_RELEASE, config.route_chart, "--reuse-values", "--wait",
        "--set-string", f"name={step.route}", "--set", f"kind={config.route_kind}",
        "--set-json", f"backends={_json(route_backends(step.weights, config))}",
    )  # fmt: skip

def _delete(step: Delete, config: CommandConfig) -> Argv:
    return _helm(config, "uninstall", step.release, "--wait")

def _delete_pod(step: DeletePod, config: CommandConfig) -> Argv:
    """Graceful, and without waiting for the grace period: the wall shows the rest."""
    namespace = ["--namespace", step.namespace] if step.namespace else _namespace(config)
    return ["kubectl", "delete", "pod", step.pod, "--wait=false", *namespace]

def route_backends(weights: Weights, config: CommandConfig) -> list[dict[str, object]]:
    """The route's backends as the chart's values and the patches spell them."""
    return [{"name": name, "port": config.service_port, "weight": weight} for name, weight in weights]

def route_patch(route: str, weights: Weights, config: CommandConfig) -> Argv:
    backends = route_backends(weights, config)
    if config.route_kind == "traefik":
        patch: object = {"spec": {"weighted": {"services": backends}}}
        return _kubectl(config, "patch", "traefikservice", route, "--type", "merge", "-p", _json(patch))
    patch = [{"op": "replace", "path": "/spec/rules/0/backendRefs", "value": backends}]
    return _kubectl(config, "patch", "httproute", route, "--type", "json", "-p", _json(patch))

def comment(step: Pause) -> str:
    """The line a dry run prints for a pause — a shell comment."""
    return f"# {step.describe()}"

def shell_line(argv: Argv) -> str:
    return shlex.join(argv)

def helm_color(color: str) -> str:
    return color.upper()

def _sets(values: Values) -> list[str]:
    pairs = [
        ("color", helm_color(values.color) if values.color is not None else None),
        ("version", values.version),
        ("strategy", values.strategy),
        ("replicaCount", None if values.replica_count is None else str(values.replica_count)),
    ]
    return [arg for key, value in pairs if value is not None for arg in (_set_flag(key, value), f"{key}={value}")]

def _set_flag(key: str, value: str) -> str:
    """``--set``, unless helm would read the value as a number or a bool (``001122`` → 1122)."""
    typed = value.isdigit() or value.lower() in ("true", "false", "null")
    return "--set-string" if typed and key != "replicaCount" else "--set"

def _helm(config: CommandConfig, *args: str) -> Argv:
    return ["helm", *args, *_namespace(config)]

def _kubectl(config: CommandConfig, *args: str) -> Argv:
    return ["kubectl", *args, *_namespace(config)]

def _namespace(config: CommandConfig) -> list[str]:
    return [] if config.namespace is None else ["--namespace", config.namespace]

def _json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))
