"""Every chart, for the value sets users will run, is what a current cluster accepts.

Each value set is rendered once by the real Helm (the session cache of ``Helm.template``)
and every manifest goes through ``kubernetes-validate`` in strict mode at the newest
Kubernetes it bundles. Custom resources (Gateway API ``HTTPRoute``, Traefik's
``TraefikService`` and ``IngressRoute``) have no schema there: they are named here, not
validated, and checked field by field by each chart's own tests.

The system chart's pods are also held to Pod Security ``restricted``: all of them by
default, and the agent whenever it needs no host device.
"""

from __future__ import annotations

import pytest

from tests.helm.charts import Helm, Manifest
from tests.helm.schemas import KUBERNETES_VERSION, pod_spec, restricted_violations, validate

CUSTOM_KINDS = {"HTTPRoute", "TraefikService", "IngressRoute"}
TLS = ("broker.tls.enabled=true", "broker.tls.secretName=mqtt-tls")

VALUE_SETS: dict[str, dict[str, tuple[str, ...]]] = {
    "shinealight": {
        "defaults": (),
        "anonymous": ("auth.enabled=false",),
        "existing-secret": ("auth.existingSecret=lab-mqtt", "auth.viewers={viewer,console}",
                            "bus.topicPrefix=sal/"),
        "tls": (*TLS, "agent.enabled=true", "agent.device=terminal"),
        "namespaces": ("watcher.namespaces={default,demo}",),
        "all-nodes": ("watcher.allNodes=true", "agent.enabled=true", "agent.device=terminal"),
        "agent-devices": ("agent.enabled=true", "agent.gpio.devices={/dev/gpiomem,/dev/gpiochip0}"),
        "agent-plugin": ("agent.enabled=true", "agent.gpio.deviceResources.squat\\.ai/gpio=1"),
        "agent-privileged": ("agent.enabled=true", "agent.gpio.mode=privileged", "agent.gpio.driver=rpi-gpio"),
        "persistence-nodeport": ("broker.persistence.enabled=true", "broker.service.type=NodePort",
                                 "networkPolicy.from.mqtt[0].ipBlock.cidr=192.168.1.0/24"),
        "external-broker": ("broker.enabled=false", "bus.host=mqtt.example.org", "bus.scheme=mqtts",
                            "bus.tls.caSecret=lab-ca", "agent.enabled=true", "agent.device=json"),
    },
    "whoami": {
        "defaults": (),
        "recreate": ("strategy=recreate", "replicaCount=5", "color=A81399", "version=2.2.0"),
        "route": ("route.enabled=true", "route.backends[0].name=whoami", "route.backends[0].weight=90",
                  "route.backends[1].name=whoamiv2", "route.backends[1].weight=10"),
        "ingress": ("ingress.enabled=true", "ingress.className=traefik"),
    },
    "whoami-route": {
        "defaults": (),
        "traefik": ("kind=traefik",),
    },
}
CASES = [(chart, name) for chart, sets in VALUE_SETS.items() for name in sets]


def _render(helm: Helm, chart: str, name: str) -> list[Manifest]:
    return helm.template(chart, *VALUE_SETS[chart][name]).manifests


def test_the_newest_bundled_kubernetes_is_used() -> None:
    major, minor = (int(part) for part in KUBERNETES_VERSION.split(".")[:2])
    assert (major, minor) >= (1, 33), f"kubernetes-validate bundles schemas up to {KUBERNETES_VERSION} only"


@pytest.mark.parametrize(("chart", "name"), CASES, ids=[f"{c}:{n}" for c, n in CASES])
def test_manifests_are_valid_kubernetes(helm: Helm, chart: str, name: str) -> None:
    manifests = _render(helm, chart, name)
    assert manifests, "nothing rendered"
    for manifest in manifests:
        if manifest["kind"] in CUSTOM_KINDS:
            continue
        validate(manifest)


def test_validation_catches_a_misspelt_field() -> None:
    import kubernetes_validate  # type: ignore[import-untyped]

    broken = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"},
              "spec": {"ports": [{"port": 1883, "targetPrt": "mqtt"}]}}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(broken)


def _workloads(manifests: list[Manifest]) -> dict[str, Manifest]:
    return {m["metadata"]["labels"]["app.kubernetes.io/component"]: m for m in manifests
            if m["kind"] in {"Deployment", "DaemonSet"}}


@pytest.mark.parametrize("name", ["defaults", "tls", "namespaces", "all-nodes", "agent-plugin", "external-broker",
                                  "existing-secret", "persistence-nodeport"])
def test_pods_meet_pod_security_restricted(helm: Helm, name: str) -> None:
    workloads = _workloads(_render(helm, "shinealight", name))
    assert workloads
    for component, workload in workloads.items():
        assert restricted_violations(pod_spec(workload)) == [], f"{component} in {name}"


@pytest.mark.parametrize(("name", "expected"), [
    ("agent-devices", ["volume gpio-0 is not an allowed type", "volume gpio-1 is not an allowed type"]),
    ("agent-privileged", ["agent: privileged", "agent: allowPrivilegeEscalation is not false",
                          "agent: capabilities do not drop ALL", "agent: runAsNonRoot is not true",
                          "agent: runs as uid 0", "agent: no RuntimeDefault/Localhost seccomp profile"]),
])
def test_host_device_agents_are_not_restricted_and_say_why(helm: Helm, name: str, expected: list[str]) -> None:
    agent = _workloads(_render(helm, "shinealight", name))["agent"]
    assert restricted_violations(pod_spec(agent)) == expected


@pytest.mark.parametrize(("change", "problem"), [
    ({"hostNetwork": True}, "host namespace hostNetwork"),
    ({"volumes": [{"name": "h", "hostPath": {"path": "/"}}]}, "volume h is not an allowed type"),
    ({"securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"},
                          "sysctls": [{"name": "net.ipv4.ip_local_port_range", "value": "1 2"}]}}, "sysctls"),
])
def test_restricted_checker_catches_pod_level_breaches(change: Manifest, problem: str) -> None:
    pod = _good_pod() | change
    assert problem in restricted_violations(pod)


@pytest.mark.parametrize(("change", "problem"), [
    ({"allowPrivilegeEscalation": True}, "c: allowPrivilegeEscalation is not false"),
    ({"capabilities": {"drop": ["ALL"], "add": ["SYS_ADMIN"]}}, "c: adds capabilities ['SYS_ADMIN']"),
    ({"capabilities": {}}, "c: capabilities do not drop ALL"),
    ({"runAsUser": 0}, "c: runs as uid 0"),
    ({"runAsNonRoot": False}, "c: runAsNonRoot is not true"),
    ({"seccompProfile": {"type": "Unconfined"}}, "c: no RuntimeDefault/Localhost seccomp profile"),
])
def test_restricted_checker_catches_container_breaches(change: Manifest, problem: str) -> None:
    pod = _good_pod()
    pod["containers"][0]["securityContext"] |= change
    assert restricted_violations(pod) == [problem]


def test_restricted_checker_passes_a_restricted_pod() -> None:
    assert restricted_violations(_good_pod()) == []


def _good_pod() -> Manifest:
    return {"securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "c", "securityContext": {"allowPrivilegeEscalation": False,
                                                             "capabilities": {"drop": ["ALL"]}}}],
            "volumes": [{"name": "s", "secret": {"secretName": "x"}}]}
