"""The route chart: one HTTPRoute (or a weighted TraefikService) owned by its own release.

Besides its values, the chart is checked against the console's cluster executor: the
exact ``helm upgrade --install`` flags of an ``EnsureRoute`` step render a route whose
backends are what the later ``kubectl patch`` steps write to the same place, and the
demo app's chart, with its defaults, renders no route of its own.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from console.executors.cluster import ClusterExecutor
from console.executors.commands import CommandConfig, RouteKind, route_patch
from console.plans import EnsureRoute, Weights
from tests.helm.charts import CHARTS, Helm, Manifest, Rendered, parse_rendered

CHART = "whoami-route"
CANARY: Weights = (("whoami", 95), ("whoamiv2", 5))
FLIPPED: Weights = (("whoami", 0), ("whoamiv2", 100))


def backend_sets(weights: Weights) -> tuple[str, ...]:
    return tuple(
        f"backends[{i}].{key}={value}" for i, (name, weight) in enumerate(weights)
        for key, value in (("name", name), ("weight", weight))
    )  # fmt: skip


def backend_refs(rendered: Rendered, name: str = "whoami") -> list[Manifest]:
    rules = rendered.one("HTTPRoute", name)["spec"]["rules"]
    assert len(rules) == 1, "the console patches rules[0]: the route must have exactly one rule"
    refs: list[Manifest] = rules[0]["backendRefs"]
    return refs


@pytest.mark.parametrize(
    "sets",
    [
        (),
        backend_sets(CANARY),
        backend_sets(FLIPPED),
        ("gateway.name=lab-gw", "gateway.namespace=gateways", "gateway.sectionName=http", "hostnames={whoami.lab}"),
        ("kind=traefik", *backend_sets(CANARY)),
    ],
    ids=lambda s: ",".join(s) or "defaults",
)
def test_lint_passes(helm: Helm, sets: tuple[str, ...]) -> None:
    result = helm.lint(CHART, *sets)
    assert result.returncode == 0, result.stdout + result.stderr


def test_defaults_are_one_route_named_whoami_with_all_traffic_to_whoami(helm: Helm) -> None:
    rendered = helm.template(CHART)
    assert rendered.kinds() == {"HTTPRoute"}
    route = rendered.one("HTTPRoute", "whoami")
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert route["spec"]["parentRefs"] == [{"name": "gateway"}]
    assert "hostnames" not in route["spec"]
    assert route["spec"]["rules"][0]["matches"] == [{"path": {"type": "PathPrefix", "value": "/"}}]
    assert backend_refs(rendered) == [{"name": "whoami", "port": 80, "weight": 100}]
    assert route["metadata"]["labels"]["app.kubernetes.io/instance"] == "whoami-route"
    assert "whoami: weight 100" in rendered.notes
    assert "kubectl patch httproute whoami" in rendered.notes


@pytest.mark.parametrize("weights", [CANARY, FLIPPED], ids=["95-5", "0-100"])
def test_backends_carry_the_weights(helm: Helm, weights: Weights) -> None:
    rendered = helm.template(CHART, *backend_sets(weights))
    assert backend_refs(rendered) == [{"name": name, "port": 80, "weight": weight} for name, weight in weights]
    for name, weight in weights:
        assert f"{name}: weight {weight}" in rendered.notes


def test_gateway_hostnames_path_and_name_are_values(helm: Helm) -> None:
    rendered = helm.template(
        CHART,
        "name=shop",
        "gateway.name=lab-gw",
        "gateway.namespace=gateways",
        "gateway.sectionName=http",
        "hostnames={whoami.lab,demo.lab}",
        "path=/whoami",
        "backends[0].name=blue",
        "backends[0].port=8080",
    )
    spec = rendered.one("HTTPRoute", "shop")["spec"]
    assert spec["parentRefs"] == [{"name": "lab-gw", "namespace": "gateways", "sectionName": "http"}]
    assert spec["hostnames"] == ["whoami.lab", "demo.lab"]
    assert spec["rules"][0]["matches"][0]["path"]["value"] == "/whoami"
    assert spec["rules"][0]["backendRefs"] == [{"name": "blue", "port": 8080, "weight": 1}]  # weight not given: 1


def test_traefik_kind_is_a_weighted_service_and_an_ingress_route_to_it(helm: Helm) -> None:
    rendered = helm.template(CHART, "kind=traefik", "hostnames={whoami.lab,demo.lab}", *backend_sets(CANARY))
    assert rendered.kinds() == {"TraefikService", "IngressRoute"}
    service = rendered.one("TraefikService", "whoami")
    assert service["apiVersion"] == "traefik.io/v1alpha1"
    assert service["spec"]["weighted"]["services"] == [
        {"name": "whoami", "port": 80, "weight": 95},
        {"name": "whoamiv2", "port": 80, "weight": 5},
    ]
    (rule,) = rendered.one("IngressRoute", "whoami")["spec"]["routes"]
    assert rule["match"] == "(Host(`whoami.lab`) || Host(`demo.lab`)) && PathPrefix(`/`)"
    assert rule["services"] == [{"name": "whoami", "kind": "TraefikService"}]
    assert "kubectl patch traefikservice whoami" in rendered.notes


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (("kind=nginx",), "/kind"),
        (("name=Whoami",), "/name"),
        (("backends[0].weight=-1",), "/backends/0/weight"),
        (("backends[0].port=0",), "/backends/0/port"),
        (("backends=null",), "backends"),
        (("gateway.nmae=x",), "nmae"),
        (("backends[0].name=whoami", "backends[1].name=whoami"), '"whoami" is listed twice'),
    ],
)
def test_bad_values_fail_with_the_reason(helm: Helm, sets: tuple[str, ...], message: str) -> None:
    result = helm.template_raw(CHART, *sets)
    assert result.returncode == 1
    assert message in result.stderr


# --- Against the console's commands -----------------------------------------------------


def render_command(helm: Helm, argv: list[str], tmp_path: Path) -> Rendered:
    """``helm template`` with the value flags of a ``helm upgrade --install`` argv.

    minihelm has no ``--set-json``; ``--set-json key=JSON`` is a values file ``{key: JSON}``.
    """
    assert argv[:4] == ["helm", "upgrade", "--install", "whoami-route"]
    flags: list[str] = ["--namespace", "demo"]
    for i, (flag, value) in enumerate(itertools.pairwise(argv[5:])):
        if flag == "--set-json":
            key, _, raw = value.partition("=")
            path = tmp_path / f"set-json-{i}.json"
            path.write_text(json.dumps({key: json.loads(raw)}))
            flags += ["-f", str(path)]
        elif flag in ("--set", "--set-string"):
            flags += [flag, value]
    result = helm.run("template", "whoami-route", str(CHARTS / CHART), *flags)
    assert result.returncode == 0, f"{argv} does not render:\n{result.stderr}"
    return parse_rendered(result.stdout)


@pytest.mark.parametrize("route_kind", ["httproute", "traefik"])
@pytest.mark.parametrize("weights", [(("whoami", 100),), CANARY, FLIPPED], ids=["100", "95-5", "0-100"])
def test_the_install_plans_route_step_renders_what_the_weight_patches_write(
    helm: Helm, tmp_path: Path, route_kind: RouteKind, weights: Weights
) -> None:
    executor = ClusterExecutor(str(CHARTS / "whoami"), route_kind=route_kind, namespace="demo")
    assert executor.config.route_chart == str(CHARTS / CHART)
    (argv,) = executor.commands(EnsureRoute("whoami", weights))
    rendered = render_command(helm, argv, tmp_path)
    patch = route_patch("whoami", weights, CommandConfig(route_kind=route_kind))
    assert patch[1:4] == ["patch", route_kind if route_kind == "httproute" else "traefikservice", "whoami"]
    if route_kind == "httproute":
        ((operation,)) = json.loads(patch[patch.index("-p") + 1])
        assert operation["path"] == "/spec/rules/0/backendRefs"
        assert backend_refs(rendered) == operation["value"]
    else:
        merge = json.loads(patch[patch.index("-p") + 1])
        assert rendered.one("TraefikService", "whoami")["spec"]["weighted"] == merge["spec"]["weighted"]


@pytest.mark.parametrize("release", ["whoami", "whoamiv2"])
def test_the_demo_apps_releases_render_no_route_by_default(helm: Helm, release: str) -> None:
    """So uninstalling either (the end of a blue-green) never removes the route."""
    rendered = helm.template("whoami", release=release)
    assert rendered.all("HTTPRoute") == []
    assert rendered.kinds() == {"Deployment", "Service"}
