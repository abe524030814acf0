"""A kubeconfig pointing at the simulated API server: no auth, plain HTTP.

What ``kubernetes.config.load_kube_config(config_file=path)`` and ``kubectl
--kubeconfig path`` accept, so the real watcher reaches the simulated cluster through
the same code path it uses for a real one. Written as JSON, which is valid YAML and
needs no YAML library here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def kubeconfig(server_url: str, *, context: str = "shinealight-sim", namespace: str = "default") -> dict[str, Any]:
    """The kubeconfig document: one cluster, one anonymous user, one current context."""
    if not server_url.startswith(("http://", "https://")):
        raise ValueError(f"server URL must start with http:// or https://, got {server_url!r}")
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": context, "cluster": {"server": server_url}}],
        "users": [{"name": context, "user": {}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context, "namespace": namespace}}],
        "current-context": context,
    }


def write_kubeconfig(
    path: str | os.PathLike[str], server_url: str, *, context: str = "shinealight-sim", namespace: str = "default"
) -> Path:
    """Write the kubeconfig to ``path`` (mode 0600, as kubectl writes them); returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(kubeconfig(server_url, context=context, namespace=namespace), indent=2) + "\n"
    target.write_text(text)
    target.chmod(0o600)
    return target
