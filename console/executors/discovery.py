"""Where the cluster is when the console starts: the demo app's releases and the route's weights.

The console plans from an ``AppState``; on a real cluster that state must be read, not
assumed: the usual start is a cluster where the seed's ``helm install whoami ./whoami/``
already ran, and a console that believed the cluster empty would plan an ``install``
that helm refuses ("name still in use").

What is read (``read_cluster_state``), with the same command runner as the executor
(``console.executors.cluster.run_command``, injectable):

- each release of ``console.strategies.RELEASES``: ``helm get values <release> --all -o
  json``. ``--all`` gives the computed values (the chart's defaults merged with what was
  set), so the release's ``Values`` are complete, as ``AppState`` wants them. A non-zero
  exit whose stderr says ``release: not found`` means the release is not installed; any
  other failure is ``CommandFailed``. The match is on helm's exact words, not any "not
  found": ``Error: context "x" not found`` (a bad kube context) must not read as an
  empty cluster.
- the route: ``kubectl get httproute <route> -o json`` → ``spec.rules[0].backendRefs``, or
  (``--route-kind traefik``) ``kubectl get traefikservice <route> -o json`` →
  ``spec.weighted.services``; each backend's ``name`` and ``weight``. A route that is not
  there (``Error from server (NotFound)``), or whose kind the cluster does not know (no Gateway API / Traefik
  CRDs), means no weights: the install plan then creates it, and scaling or rolling
  needs none. An omitted weight is 1, the default of both APIs.

Release order: ``RELEASES`` order. With a route the live release is the heaviest
weighted one anyway; without one and with both installed (a blue-green cut short
outside the console), ``whoami`` counts as live.

Parsing (JSON → ``Values`` / weights / ``AppState``) is pure and lives in small
functions (``parse_values``, ``parse_weights``, ``cluster_state``), tested from tables.
Colours are normalised as ``console.plans`` does (``FFFF00`` → ``ffff00``). A value helm
stored as a number (``--set color=001122`` without ``--set-string`` is the number 1122)
is not guessed at: it is an error that says which release and value.

Errors (all ``ExecutorError``, so the caller catches one type): ``ToolMissing`` (helm or
kubectl not on PATH), ``CommandFailed`` (a read that failed for another reason than
"not found": cluster unreachable, no permission), ``ClusterStateError`` (output that is
not what was expected: not JSON, a bad colour, duplicate backends).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence

from console.executors import CommandFailed, ExecutorError
from console.executors.cluster import CommandRunner, Completed, run_command
from console.executors.commands import RouteKind, shell_line
from console.plans import CHART_DEFAULTS, AppState, PlanError, Release, Values, Weights
from console.strategies import RELEASES

log = logging.getLogger(__name__)

STDERR_TAIL_LINES = 5
_ROUTE_RESOURCE: dict[RouteKind, str] = {"httproute": "httproute", "traefik": "traefikservice"}
_RELEASE_ABSENT = ("release: not found",)
_ROUTE_ABSENT = ("(NotFound)", "doesn't have a resource type")
_DEFAULT_WEIGHT = 1  # Gateway API backendRefs and Traefik weighted services alike
_VALUE_KEYS = (("color", "color"), ("version", "version"), ("strategy", "strategy"),
               ("replicaCount", "replica_count"))  # fmt: skip


class ClusterStateError(ExecutorError):
    """The cluster answered, but not with what the console can read."""


def read_cluster_state(
    *, namespace: str | None, route_kind: RouteKind, route: str = "whoami", run: CommandRunner = run_command
) -> AppState:
    """The releases of the demo app and the route's weights, as the cluster has them now."""
    releases = {name: _read_values(name, namespace=namespace, run=run) for name in RELEASES}
    payload = _read_route(route, namespace=namespace, route_kind=route_kind, run=run)
    weights = parse_weights(route_kind, payload, route=route) if payload is not None else ()
    return cluster_state(releases, weights, route=route)


# --- Pure: JSON in, typed state out --------------------------------------------------


def cluster_state(releases: Mapping[str, Values | None], weights: Weights, *, route: str) -> AppState:
    """The ``AppState`` of the installed releases (``None``: not installed), in ``RELEASES`` order."""
    found = tuple(Release(name, values) for name in RELEASES if (values := releases.get(name)) is not None)
    return AppState(found, weights, route)


def parse_values(release: str, data: object) -> Values:
    """``helm get values --all -o json`` of ``release`` → its complete ``Values``."""
    if data is None:  # a release with no values at all: the chart's
        return CHART_DEFAULTS
    if not isinstance(data, dict):
        raise ClusterStateError(f"release {release}: expected a JSON object of values, got {data!r}")
    given = {field: data.get(key) for key, field in _VALUE_KEYS}
    if isinstance(given["version"], int) and not isinstance(given["version"], bool):
        given["version"] = str(given["version"])  # `--set version=2`: helm's int, the label's "2"
    try:
        return Values(**given).over(CHART_DEFAULTS)
    except PlanError as e:
        hint = " (helm stored a number: set it again with --set-string)" if isinstance(given["color"], int) else ""
        raise ClusterStateError(f"release {release}: {e}{hint}") from e


def parse_weights(route_kind: RouteKind, data: object, *, route: str) -> Weights:
    """The route object (``kubectl get … -o json``) → its backends' ``(name, weight)`` pairs."""
    backends = _backends(route_kind, data)
    if not isinstance(backends, list):
        raise ClusterStateError(f"route {route}: expected a list of backends, got {backends!r}")
    weights = tuple(_backend(route, b) for b in backends)
    names = [name for name, _ in weights]
    if len(set(names)) != len(names):
        raise ClusterStateError(f"route {route}: a backend is listed twice in {names}; fix the route first")
    return weights


def describe_found(state: AppState) -> str:
    """One log line: ``whoami 1.0.0 ffff00 x3, route whoami whoami 100`` (or what is missing)."""
    releases = [f"{r.name} {r.values.version} {r.values.color} x{r.values.replica_count}" for r in state.releases]
    route = (f"route {state.route} " + " / ".join(f"{n} {w}" for n, w in state.weights)) if state.weights \
        else f"no route {state.route}"  # fmt: skip
    return ", ".join([*(releases or ["no release installed"]), route])


def _backends(route_kind: RouteKind, data: object) -> object:
    spec = data.get("spec") if isinstance(data, dict) else None
    spec = spec if isinstance(spec, dict) else {}
    if route_kind == "traefik":
        weighted = spec.get("weighted")
        return weighted.get("services", []) if isinstance(weighted, dict) else []
    rules = spec.get("rules")
    if not isinstance(rules, list) or not rules:
        return []
    first = rules[0]
    return first.get("backendRefs", []) if isinstance(first, dict) else None


def _backend(route: str, backend: object) -> tuple[str, int]:
    name = backend.get("name") if isinstance(backend, dict) else None
    weight = backend.get("weight", _DEFAULT_WEIGHT) if isinstance(backend, dict) else None
    if not isinstance(name, str) or not name:
        raise ClusterStateError(f"route {route}: a backend without a name: {backend!r}")
    if isinstance(weight, bool) or not isinstance(weight, int) or weight < 0:
        raise ClusterStateError(f"route {route}: backend {name} has weight {weight!r}, expected an integer >= 0")
    return name, weight


# --- I/O: the commands ----------------------------------------------------------------


def _read_values(release: str, *, namespace: str | None, run: CommandRunner) -> Values | None:
    argv = ["helm", "get", "values", release, "--all", "-o", "json", *_namespace(namespace)]
    done = _run(argv, run, absent=_RELEASE_ABSENT)
    return None if done is None else parse_values(release, _decode(argv, done.stdout))


def _read_route(route: str, *, namespace: str | None, route_kind: RouteKind, run: CommandRunner) -> object | None:
    argv = ["kubectl", "get", _ROUTE_RESOURCE[route_kind], route, "-o", "json", *_namespace(namespace)]
    done = _run(argv, run, absent=_ROUTE_ABSENT)
    return None if done is None else _decode(argv, done.stdout)


def _run(argv: list[str], run: CommandRunner, *, absent: Sequence[str]) -> Completed | None:
    """The finished command; ``None`` if it says the object is absent; CommandFailed otherwise."""
    done = run(argv, cancel=None)
    if done.returncode == 0:
        return done
    if any(text in done.stderr for text in absent):
        log.debug("%s: absent (%s)", shell_line(argv), done.stderr.strip())
        return None
    tail = [line for line in done.stderr.splitlines() if line.strip()][-STDERR_TAIL_LINES:]
    raise CommandFailed(shell_line(argv), done.returncode, " | ".join(tail))


def _decode(argv: list[str], text: str) -> object:
    try:
        return json.loads(text) if text.strip() else None
    except json.JSONDecodeError as e:
        raise ClusterStateError(f"`{shell_line(argv)}` printed no JSON ({e}): {text[:200]!r}") from e


def _namespace(namespace: str | None) -> list[str]:
    return [] if namespace is None else ["--namespace", namespace]
