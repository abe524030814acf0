"""The project-wide ``apiserver`` fixture (tests/conftest.py) that other test folders use."""

from __future__ import annotations

import kubernetes

from sim.apiserver import ApiServer
from sim.pods import make_pod


def test_apiserver_fixture_serves_an_empty_store(apiserver: ApiServer) -> None:
    configuration = kubernetes.client.Configuration()
    configuration.host = apiserver.url
    with kubernetes.client.ApiClient(configuration) as client:
        core = kubernetes.client.CoreV1Api(client)
        assert core.list_pod_for_all_namespaces().items == []
        apiserver.store.create(make_pod("web-1"))
        assert [p.metadata.name for p in core.list_pod_for_all_namespaces().items if p.metadata] == ["web-1"]
    assert apiserver.bookmark_interval == 0.2
    assert apiserver.requests.count("list") == 2
