"""Fixtures for the simulated API server: a store, a running server, real clients."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest
import urllib3
from kubernetes.client.exceptions import ApiException

from sim.apiserver import ApiServer
from sim.kubeconfig import write_kubeconfig
from sim.podstore import PodStore

BOOKMARK_INTERVAL = 0.2


@pytest.fixture
def store() -> PodStore:
    return PodStore(history_size=50)


@pytest.fixture
def server(store: PodStore) -> Iterator[ApiServer]:
    api = ApiServer(store, bookmark_interval=BOOKMARK_INTERVAL).start()
    try:
        yield api
    finally:
        api.stop()


@pytest.fixture
def api_client(server: ApiServer) -> Iterator[kubernetes.client.ApiClient]:
    configuration = kubernetes.client.Configuration()
    configuration.host = server.url
    client = kubernetes.client.ApiClient(configuration)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def core(api_client: kubernetes.client.ApiClient) -> kubernetes.client.CoreV1Api:
    return kubernetes.client.CoreV1Api(api_client)


@pytest.fixture
def kubeconfig_path(server: ApiServer, tmp_path: Path) -> Path:
    return write_kubeconfig(tmp_path / "kubeconfig", server.url)


def raw_watch(core: kubernetes.client.CoreV1Api, **query: Any) -> urllib3.HTTPResponse:
    """A watch of all pods read raw (``_preload_content=False``): the HTTP response itself,
    which is what the client returns then, whatever its type hints say."""
    response = core.list_pod_for_all_namespaces(watch=True, _preload_content=False, **query)
    assert isinstance(response, urllib3.HTTPResponse)
    return response


def status_body(error: ApiException) -> dict[str, Any]:
    """The Kubernetes ``Status`` object an API error carries."""
    assert error.body is not None, "the error has no body"
    body: dict[str, Any] = json.loads(error.body)
    return body
