"""The written kubeconfig, loaded by the official client's own loader and by kubectl."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import kubernetes
import pytest

from sim.apiserver import ApiServer
from sim.kubeconfig import write_kubeconfig
from sim.pods import make_pod, mark_terminating
from sim.podstore import PodStore


def test_load_kube_config_reaches_the_server(store: PodStore, kubeconfig_path: Path) -> None:
    store.create(make_pod("web-1", node="node-1"))
    configuration = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(config_file=str(kubeconfig_path), client_configuration=configuration)
    with kubernetes.client.ApiClient(configuration) as client:
        pods = kubernetes.client.CoreV1Api(client).list_namespaced_pod("default")
    assert [p.metadata.name for p in pods.items if p.metadata] == ["web-1"]
    assert oct(kubeconfig_path.stat().st_mode & 0o777) == "0o600"


def test_context_and_namespace_are_configurable(tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path / "nested" / "config", "http://127.0.0.1:1", context="lab", namespace="prod")
    contexts, active = kubernetes.config.list_kube_config_contexts(config_file=str(path))
    assert active["name"] == "lab"
    assert active["context"] == {"cluster": "lab", "user": "lab", "namespace": "prod"}
    assert len(contexts) == 1


def test_server_url_must_be_http(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="http"):
        write_kubeconfig(tmp_path / "config", "127.0.0.1:6443")


def kubectl(kubeconfig: Path, *args: str) -> str:
    binary = shutil.which("kubectl")
    assert binary, "kubectl is part of this machine's image; install it (apt package kubectl) to run this test"
    cache = kubeconfig.parent / "kubectl-cache"
    result = subprocess.run(
        [binary, "--kubeconfig", str(kubeconfig), "--cache-dir", str(cache), "--request-timeout", "10s", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_kubectl_get_pods_wide(store: PodStore, server: ApiServer, kubeconfig_path: Path) -> None:
    store.create(make_pod("web-1", node="node-1", pod_ip="10.1.0.7", labels={"app": "web"}))
    store.create(make_pod("web-2", "prod", node="node-2", phase="Pending", ready=False, labels={"app": "web"}))
    store.create(mark_terminating(make_pod("db-1", "prod", node="node-1"), datetime.now(UTC)))
    rows = [line.split() for line in kubectl(kubeconfig_path, "get", "pods", "-A", "-o", "wide").splitlines()]
    assert rows[0] == [
        "NAMESPACE",
        "NAME",
        "READY",
        "STATUS",
        "RESTARTS",
        "AGE",
        "IP",
        "NODE",
        "NOMINATED",
        "NODE",
        "READINESS",
        "GATES",
    ]
    assert [(r[0], r[1], r[2], r[3], r[6], r[7]) for r in rows[1:]] == [
        ("default", "web-1", "1/1", "Running", "10.1.0.7", "node-1"),
        ("prod", "db-1", "1/1", "Terminating", "<none>", "node-1"),
        ("prod", "web-2", "0/1", "ContainerCreating", "<none>", "node-2"),
    ]
    assert server.requests.count("list") == 1


def test_kubectl_selectors_and_single_get(store: PodStore, kubeconfig_path: Path) -> None:
    store.create(make_pod("web-1", node="node-1", labels={"app": "web"}))
    store.create(make_pod("db-1", node="node-2", labels={"app": "db"}))
    names = kubectl(
        kubeconfig_path, "get", "pods", "-l", "app=web", "--field-selector", "spec.nodeName=node-1", "-o", "name"
    )
    assert names.split() == ["pod/web-1"]
    assert kubectl(kubeconfig_path, "get", "pod", "db-1", "-o", "jsonpath={.spec.nodeName}") == "node-2"


def test_kubectl_watch_prints_changes_as_table_rows(store: PodStore, server: ApiServer, kubeconfig_path: Path) -> None:
    store.create(make_pod("web-1", node="node-1"))
    binary = shutil.which("kubectl")
    assert binary
    args = [binary, "--kubeconfig", str(kubeconfig_path), "--cache-dir", str(kubeconfig_path.parent / "cache")]
    with subprocess.Popen([*args, "get", "pods", "-A", "-w"], stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            header, first = process.stdout.readline().split(), process.stdout.readline().split()
            assert server.wait_for_watches(1)
            store.create(make_pod("web-2", "prod", node="node-2"))
            added = process.stdout.readline().split()
        finally:
            process.terminate()
    assert header == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert first[:4] == ["default", "web-1", "1/1", "Running"]
    assert added[:4] == ["prod", "web-2", "1/1", "Running"]
