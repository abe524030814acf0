"""Injected failures, as the watcher's resilience tests will use them, seen by the real client."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import kubernetes
import pytest
import urllib3
from kubernetes.client import CoreV1Api
from kubernetes.client.exceptions import ApiException

from sim.apiserver import ApiServer
from sim.faults import Faults
from sim.pods import make_pod
from sim.podstore import PodStore
from tests.sim.conftest import raw_watch, status_body


@pytest.fixture
def strict_core(server: ApiServer) -> Iterator[CoreV1Api]:
    """A client without urllib3's automatic retries, so each fault reaches the caller."""
    configuration = kubernetes.client.Configuration()
    configuration.host = server.url
    configuration.retries = False
    with kubernetes.client.ApiClient(configuration) as client:
        yield CoreV1Api(client)


@pytest.mark.parametrize(("status", "reason"), [(500, "InternalError"), (429, "TooManyRequests")])
def test_failed_lists_raise_api_exception_with_a_status_body(
    strict_core: CoreV1Api, server: ApiServer, status: int, reason: str
) -> None:
    server.faults.fail_next(1, status=status, kind="list")
    with pytest.raises(ApiException) as caught:
        strict_core.list_pod_for_all_namespaces()
    assert caught.value.status == status
    assert status_body(caught.value)["reason"] == reason
    assert (caught.value.headers or {}).get("Retry-After") == ("1" if status == 429 else None)
    assert strict_core.list_pod_for_all_namespaces().items == []  # the fault is used up


def test_default_client_retries_429_by_itself_after_retry_after(core: CoreV1Api, server: ApiServer) -> None:
    server.faults.fail_next(1, status=429, retry_after=0)
    assert core.list_pod_for_all_namespaces().items == []
    assert server.requests.count("list") == 2


def test_faults_hit_only_their_kind_and_count(strict_core: CoreV1Api, server: ApiServer) -> None:
    server.faults.fail_next(2, status=500, kind="watch")
    strict_core.list_pod_for_all_namespaces()
    for _ in range(2):
        with pytest.raises(ApiException) as caught:
            raw_watch(strict_core)
        assert caught.value.status == 500
    response = raw_watch(strict_core, timeout_seconds=1)
    assert response.status == 200
    response.close()


def test_dropped_watch_breaks_mid_stream(store: PodStore, core: CoreV1Api, server: ApiServer) -> None:
    store.create(make_pod("web-1"))
    watch = kubernetes.watch.Watch()
    stream = watch.stream(core.list_pod_for_all_namespaces, timeout_seconds=30)
    assert next(stream)["type"] == "ADDED"
    assert server.drop_watches() == 1
    with pytest.raises(urllib3.exceptions.ProtocolError):
        next(stream)
    assert server.wait_for_watches(0)


def test_stalled_watch_trips_the_client_read_timeout(store: PodStore, core: CoreV1Api, server: ApiServer) -> None:
    watch = kubernetes.watch.Watch()
    stream = watch.stream(core.list_pod_for_all_namespaces, allow_watch_bookmarks=True, _request_timeout=(2, 0.5))
    started = time.monotonic()
    while time.monotonic() - started < 0.8:  # bookmarks every 0.2 s keep a healthy stream alive past 0.5 s
        assert next(stream)["type"] == "BOOKMARK"
    assert server.stall_watches() == 1
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        next(stream)
    store.create(make_pod("web-1"))
    fresh = kubernetes.watch.Watch()
    assert next(fresh.stream(core.list_pod_for_all_namespaces, timeout_seconds=5))["type"] == "ADDED"
    fresh.stop()


def test_a_stalled_watch_holds_its_events_until_resumed(store: PodStore, core: CoreV1Api, server: ApiServer) -> None:
    response = raw_watch(core,
        resource_version=str(store.resource_version), _request_timeout=(2, 10)
    )
    assert server.wait_for_watches(1)
    assert server.stall_watches() == 1
    assert server.open_watches == 0  # stalled streams are not counted as streaming
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(response.readline().decode()))
    reader.start()
    store.create(make_pod("web-1"))
    reader.join(0.4)
    assert received == []
    assert server.resume_watches() == 1
    assert server.open_watches == 1
    reader.join(5)
    assert json.loads(received[0])["object"]["metadata"]["name"] == "web-1"
    response.close()


def test_hanging_requests_outlast_the_client_timeout(strict_core: CoreV1Api, server: ApiServer) -> None:
    server.faults.hang_next(1, seconds=5, kind="list")
    started = time.monotonic()
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        strict_core.list_pod_for_all_namespaces(_request_timeout=0.3)
    assert time.monotonic() - started < 2
    assert strict_core.list_pod_for_all_namespaces().items == []


def test_stop_does_not_wait_for_a_hanging_request(store: PodStore) -> None:
    server = ApiServer(store).start()
    server.faults.hang_next(1, seconds=30)
    outcome: list[BaseException] = []

    def request() -> None:
        try:
            http.request("GET", f"{server.url}/api/v1/pods", retries=False)
        except urllib3.exceptions.ProtocolError as e:
            outcome.append(e)

    with urllib3.PoolManager() as http:
        client = threading.Thread(target=request)
        client.start()
        server.requests.wait_for("list", 1, timeout=5)
        started = time.monotonic()
        server.stop()
        client.join(5)
    assert time.monotonic() - started < 3
    assert len(outcome) == 1  # the connection closed without an answer, as when an API server dies


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"status": 200}, "error status"),
        ({"count": 0}, "at least 1"),
        ({"kind": "delete"}, "unknown request kind"),
    ],
)
def test_fault_arguments_are_validated(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Faults().fail_next(**kwargs)  # type: ignore[arg-type]


def test_503_carries_retry_after_and_its_reason(strict_core: CoreV1Api, server: ApiServer) -> None:
    server.faults.fail_next(1, status=503, retry_after=7)
    with pytest.raises(ApiException) as caught:
        strict_core.list_namespaced_pod("default")
    assert (caught.value.headers or {})["Retry-After"] == "7"
    assert status_body(caught.value)["reason"] == "ServiceUnavailable"
