"""Checks of rendered manifests against what a real cluster would accept.

``validate`` runs ``kubernetes-validate`` (the Kubernetes OpenAPI schemas it bundles,
offline; strict, so unknown fields are errors) at the newest Kubernetes version it
ships. ``restricted_violations`` applies the Pod Security Standard ``restricted``
profile (kubernetes.io/docs/concepts/security/pod-security-standards, the checks of
the pod-security admission controller) to a workload's pod template and says what
breaks it; pure, so its own table test can show it catches each rule.
"""

from __future__ import annotations

from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]

Manifest = dict[str, Any]

KUBERNETES_VERSION = kubernetes_validate.latest_version()

# Volume types the restricted (and baseline) profile allows.
_ALLOWED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                    "projected", "secret"}
_SECCOMP_OK = {"RuntimeDefault", "Localhost"}


def validate(manifest: Manifest) -> None:
    """Raise ``kubernetes_validate.ValidationError`` if the cluster would refuse it."""
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def pod_spec(workload: Manifest) -> Manifest:
    spec: Manifest = workload["spec"]["template"]["spec"]
    return spec


def restricted_violations(pod: Manifest) -> list[str]:
    """Why a pod spec is not Pod Security ``restricted`` (empty: it is)."""
    problems = [f"host namespace {key}" for key in ("hostNetwork", "hostPID", "hostIPC") if pod.get(key)]
    problems += [f"volume {v['name']} is not an allowed type" for v in pod.get("volumes", [])
                 if not set(v) - {"name"} <= _ALLOWED_VOLUMES]
    pod_context = pod.get("securityContext", {})
    if pod_context.get("sysctls"):
        problems.append("sysctls")
    for container in pod.get("initContainers", []) + pod["containers"]:
        problems += [f"{container['name']}: {p}" for p in _container_violations(container, pod_context)]
    return problems


def _container_violations(container: Manifest, pod_context: Manifest) -> list[str]:
    context = container.get("securityContext", {})

    def effective(key: str) -> Any:
        return context.get(key, pod_context.get(key))

    problems = []
    if context.get("privileged"):
        problems.append("privileged")
    if context.get("allowPrivilegeEscalation") is not False:
        problems.append("allowPrivilegeEscalation is not false")
    capabilities = context.get("capabilities", {})
    if "ALL" not in capabilities.get("drop", []):
        problems.append("capabilities do not drop ALL")
    if set(capabilities.get("add", [])) - {"NET_BIND_SERVICE"}:
        problems.append(f"adds capabilities {capabilities['add']}")
    if effective("runAsNonRoot") is not True:
        problems.append("runAsNonRoot is not true")
    if effective("runAsUser") == 0:
        problems.append("runs as uid 0")
    if (effective("seccompProfile") or {}).get("type") not in _SECCOMP_OK:
        problems.append("no RuntimeDefault/Localhost seccomp profile")
    if any(port.get("hostPort") for port in container.get("ports", [])):
        problems.append("hostPort")
    return problems
