"""The watcher's Kubernetes client pointed at the project's API server, with short test timeouts."""

from __future__ import annotations

import kubernetes

from sim.apiserver import ApiServer
from watcher.kube import PodApi, Timeouts

FAST = Timeouts(connect=2, list_read=5)


def pod_api(server: ApiServer, *, timeouts: Timeouts = FAST) -> PodApi:
    configuration = kubernetes.client.Configuration()
    configuration.host = server.url
    configuration.retries = False
    return PodApi(configuration, timeouts=timeouts)
