"""Fixtures for the simulated API server: a store, a running server, real clients."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import kubernetes
import pytest

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
