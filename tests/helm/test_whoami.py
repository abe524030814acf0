"""The demo app chart: the seed's values, strategies, two releases, traffic splitting."""

from __future__ import annotations

import pytest

from tests.helm.charts import Helm, Rendered, container_of

CHART = "whoami"


@pytest.mark.parametrize("sets", [
    (),
    ("replicaCount=8",),
    ("color=A81399", "version=2.2.0", "strategy=recreate"),
    ("route.enabled=true", "route.backends[0].name=whoami", "route.backends[0].weight=90",
     "route.backends[1].name=whoamiv2", "route.backends[1].weight=10"),
    ("ingress.enabled=true", "ingress.className=traefik"),
], ids=lambda s: ",".join(s) or "defaults")
def test_lint_passes(helm: Helm, sets: tuple[str, ...]) -> None:
    result = helm.lint(CHART, *sets)
    assert result.returncode == 0, result.stdout + result.stderr


def _pod_labels(rendered: Rendered) -> dict[str, str]:
    labels: dict[str, str] = rendered.one("Deployment")["spec"]["template"]["metadata"]["labels"]
    return labels


def test_defaults_are_the_seeds(helm: Helm) -> None:
    rendered = helm.template(CHART)
    deployment = rendered.one("Deployment", "whoami")
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["strategy"] == {"type": "RollingUpdate",
                                              "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    labels = _pod_labels(rendered)
    assert {k: labels[k] for k in ("app", "blinkt", "blinktColor", "version")} == {
        "app": "whoami", "blinkt": "show", "blinktColor": "FFFF00", "version": "1.0.0"}
    assert container_of(deployment, "whoami")["image"] == "traefik/whoami:v1.10.3"
    assert {"HTTPRoute", "Ingress"}.isdisjoint(rendered.kinds())


def test_upgrade_values_change_colour_and_version_not_the_selector(helm: Helm) -> None:
    before = helm.template(CHART).one("Deployment")
    after = helm.template(CHART, "color=A81399", "version=2.2.0", "replicaCount=5").one("Deployment")
    assert after["spec"]["replicas"] == 5
    labels = after["spec"]["template"]["metadata"]["labels"]
    assert (labels["blinktColor"], labels["version"]) == ("A81399", "2.2.0")
    assert after["spec"]["selector"] == before["spec"]["selector"], "a changed selector breaks `helm upgrade`"


def test_recreate_strategy(helm: Helm) -> None:
    strategy = helm.template(CHART, "strategy=recreate").one("Deployment")["spec"]["strategy"]
    assert strategy == {"type": "Recreate"}


def test_rolling_surge_and_unavailability(helm: Helm) -> None:
    strategy = helm.template(CHART, "rolling.maxSurge=2", "rolling.maxUnavailable=25%").one("Deployment")["spec"]
    assert strategy["strategy"]["rollingUpdate"] == {"maxSurge": 2, "maxUnavailable": "25%"}


@pytest.mark.parametrize(("given", "label"), [("#ff0", "ff0"), ("123456", "123456"), ("00ff00", "00ff00")])
def test_colour_becomes_a_valid_label(helm: Helm, given: str, label: str) -> None:
    assert _pod_labels(helm.template(CHART, f"color={given}"))["blinktColor"] == label


@pytest.mark.parametrize(("sets", "message"), [
    (("color=GGG",), "/color"),
    (("color=12345",), 'color "12345": use 3 or 6 hex digits'),
    (("strategy=bluegreen",), "/strategy"),
    (("version=2.2.0+build",), "/version"),
])
def test_bad_values_fail_with_the_reason(helm: Helm, sets: tuple[str, ...], message: str) -> None:
    result = helm.template_raw(CHART, *sets)
    assert result.returncode == 1
    assert message in result.stderr


def test_two_releases_do_not_collide(helm: Helm) -> None:
    blue = helm.template(CHART, release="whoami")
    green = helm.template(CHART, "color=00FF00", "version=2.0.0", release="whoamiv2")
    for kind in ("Deployment", "Service"):
        assert blue.one(kind)["metadata"]["name"] == "whoami"
        assert green.one(kind)["metadata"]["name"] == "whoamiv2"
    assert green.one("Service")["spec"]["selector"]["app.kubernetes.io/instance"] == "whoamiv2"
    assert _pod_labels(green)["app"] == "whoami", "both releases keep the seed's app label"


def test_route_splits_traffic_by_weight(helm: Helm) -> None:
    rendered = helm.template(CHART, "route.enabled=true", "route.parentRefs[0].name=lab-gw",
                             "route.parentRefs[0].namespace=gateways", "route.hostnames={whoami.lab}",
                             "route.backends[0].name=whoami", "route.backends[0].weight=90",
                             "route.backends[1].name=whoamiv2", "route.backends[1].weight=10")
    route = rendered.one("HTTPRoute", "whoami")
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert route["spec"]["parentRefs"] == [{"name": "lab-gw", "namespace": "gateways"}]
    assert route["spec"]["hostnames"] == ["whoami.lab"]
    assert route["spec"]["rules"][0]["backendRefs"] == [
        {"name": "whoami", "port": 80, "weight": 90}, {"name": "whoamiv2", "port": 80, "weight": 10}]
    assert "whoamiv2: weight 10" in rendered.notes


def test_route_defaults_to_its_own_service(helm: Helm) -> None:
    route = helm.template(CHART, "route.enabled=true", release="whoamiv2").one("HTTPRoute")
    assert route["spec"]["rules"][0]["backendRefs"] == [{"name": "whoamiv2", "port": 80, "weight": 1}]


def test_blue_green_flip_keeps_zero_weights(helm: Helm) -> None:
    route = helm.template(CHART, "route.enabled=true", "route.backends[0].name=whoami",
                          "route.backends[0].weight=0", "route.backends[1].name=whoamiv2",
                          "route.backends[1].weight=100").one("HTTPRoute")
    assert [b["weight"] for b in route["spec"]["rules"][0]["backendRefs"]] == [0, 100]


def test_ingress_alternative(helm: Helm) -> None:
    ingress = helm.template(CHART, "ingress.enabled=true", "ingress.host=whoami.lab").one("Ingress", "whoami")
    rule = ingress["spec"]["rules"][0]
    assert rule["host"] == "whoami.lab"
    assert rule["http"]["paths"][0]["backend"]["service"] == {"name": "whoami", "port": {"name": "http"}}
