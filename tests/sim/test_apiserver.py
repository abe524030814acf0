"""The simulated API server on the wire, read by the official ``kubernetes`` client."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import kubernetes
import pytest
import urllib3
from kubernetes.client import CoreV1Api
from kubernetes.client.exceptions import ApiException

from sim.apiserver import ApiServer
from sim.pods import make_pod, set_ready
from sim.podstore import PodStore
from tests.sim.conftest import raw_watch, status_body

SHOW = {"blinkt": "show", "app": "web"}


def seed(store: PodStore) -> int:
    store.create(make_pod("web-1", node="node-1", labels=SHOW))
    store.create(make_pod("web-2", node="node-2", labels=SHOW))
    store.create(make_pod("db-1", "data", node="node-1", labels={"app": "db"}))
    return store.resource_version


def names(pods: Any) -> list[str]:
    return [p.metadata.name for p in pods.items]


def raw_lines(response: urllib3.BaseHTTPResponse) -> Iterator[dict[str, Any]]:
    """Watch events as a hand-written client reads them: one JSON document per line."""
    try:
        for line in response:
            if line.strip():
                yield json.loads(line)
    finally:
        response.release_conn()


def take(events: Iterator[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    return [next(events) for _ in range(count)]


def summary(event: dict[str, Any]) -> tuple[str, str]:
    obj = event["object"]
    name = obj.metadata.name if hasattr(obj, "metadata") else obj["metadata"].get("name", "")
    return event["type"], name or ""


def later(seconds: float, action: Any) -> threading.Timer:
    timer = threading.Timer(seconds, action)
    timer.start()
    return timer


# -- list and get ----------------------------------------------------------------------


def test_list_returns_items_and_the_store_version(store: PodStore, core: CoreV1Api) -> None:
    version = seed(store)
    pods = core.list_pod_for_all_namespaces()
    assert names(pods) == ["db-1", "web-1", "web-2"]
    assert pods.metadata is not None and pods.metadata.resource_version == str(version)
    status = pods.items[0].status
    assert status is not None and status.conditions is not None and status.conditions[1].type == "Ready"


@pytest.mark.parametrize(
    ("labels", "fields", "expected"),
    [
        ("blinkt=show", None, ["web-1", "web-2"]),
        (None, "spec.nodeName=node-1", ["db-1", "web-1"]),
        ("blinkt=show", "spec.nodeName=node-1", ["web-1"]),
        ("app in (db,cache)", "status.phase=Running", ["db-1"]),
        ("app notin (web),!blinkt", None, ["db-1"]),
    ],
)
def test_list_with_label_and_field_selectors(
    store: PodStore, core: CoreV1Api, labels: str | None, fields: str | None, expected: list[str]
) -> None:
    seed(store)
    pods = core.list_pod_for_all_namespaces(label_selector=labels, field_selector=fields)
    assert names(pods) == expected


def test_namespaced_list_and_get(store: PodStore, core: CoreV1Api) -> None:
    seed(store)
    assert names(core.list_namespaced_pod("data")) == ["db-1"]
    pod = core.read_namespaced_pod("web-1", "default")
    assert pod.spec is not None and (pod.kind, pod.api_version, pod.spec.node_name) == ("Pod", "v1", "node-1")


def test_list_items_carry_no_kind_as_real_lists(store: PodStore, server: ApiServer) -> None:
    seed(store)
    with urllib3.PoolManager() as http:
        body = http.request("GET", f"{server.url}/api/v1/pods").json()
    assert (body["kind"], body["apiVersion"]) == ("PodList", "v1")
    assert all("kind" not in item and "apiVersion" not in item for item in body["items"])


@pytest.mark.parametrize(
    ("path", "code", "reason"),
    [
        ("/api/v1/namespaces/default/pods/nope", 404, "NotFound"),
        ("/api/v1/nodes", 404, "NotFound"),
        ("/api/v1/pods?labelSelector=app%20in", 400, "BadRequest"),
        ("/api/v1/pods?watch=perhaps", 400, "BadRequest"),
    ],
)
def test_errors_are_status_objects(server: ApiServer, path: str, code: int, reason: str) -> None:
    with urllib3.PoolManager() as http:
        response = http.request("GET", server.url + path)
    body = response.json()
    assert response.status == code
    assert (body["kind"], body["code"], body["reason"], body["status"]) == ("Status", code, reason, "Failure")


def test_client_raises_api_exception_for_a_bad_selector(core: CoreV1Api) -> None:
    with pytest.raises(ApiException) as caught:
        core.list_pod_for_all_namespaces(field_selector="spec.color=red")
    assert caught.value.status == 400
    assert "not a known field selector" in status_body(caught.value)["message"]


def test_discovery_documents(core: CoreV1Api, api_client: kubernetes.client.ApiClient) -> None:
    assert kubernetes.client.VersionApi(api_client).get_code().git_version.startswith("v1.")
    resources = core.get_api_resources()
    assert [(r.name, r.namespaced, r.verbs) for r in resources.resources] == [("pods", True, ["get", "list", "watch"])]


# -- watch -----------------------------------------------------------------------------


def test_watch_stream_from_a_list_version(store: PodStore, core: CoreV1Api) -> None:
    version = seed(store)
    later(0.05, lambda: store.update("default", "web-1", lambda p: set_ready(p, False)))
    later(0.1, lambda: store.delete("default", "web-2"))
    watch = kubernetes.watch.Watch()
    stream = watch.stream(
        core.list_pod_for_all_namespaces,
        label_selector="blinkt=show",
        resource_version=str(version),
        timeout_seconds=10,
    )
    events = take(stream, 2)
    watch.stop()
    assert [summary(e) for e in events] == [("MODIFIED", "web-1"), ("DELETED", "web-2")]
    assert events[0]["object"].status.conditions[1].status == "False"
    assert int(events[1]["object"].metadata.resource_version) == version + 2


def test_watch_without_version_starts_with_synthetic_added(store: PodStore, core: CoreV1Api) -> None:
    seed(store)
    watch = kubernetes.watch.Watch()
    stream = watch.stream(core.list_namespaced_pod, "default", timeout_seconds=10)
    events = take(stream, 2)
    store.create(make_pod("web-3", node="node-3"))
    events.append(next(stream))
    watch.stop()
    assert [summary(e) for e in events] == [("ADDED", "web-1"), ("ADDED", "web-2"), ("ADDED", "web-3")]


def test_raw_watch_reads_json_lines_from_the_chunked_body(store: PodStore, core: CoreV1Api) -> None:
    version = seed(store)
    response = raw_watch(core,
        resource_version=str(version), field_selector="spec.nodeName=node-1"
    )
    assert response.headers["Transfer-Encoding"] == "chunked"
    events = raw_lines(response)
    store.create(make_pod("web-9", node="node-2"))  # another node: not for this watch
    store.create(make_pod("web-8", node="node-1"))
    first = next(events)
    response.close()
    assert (first["type"], first["object"]["metadata"]["name"]) == ("ADDED", "web-8")
    assert (first["object"]["kind"], first["object"]["apiVersion"]) == ("Pod", "v1")


def test_selector_changes_become_deleted_and_added(store: PodStore, core: CoreV1Api) -> None:
    version = seed(store)
    watch = kubernetes.watch.Watch()
    stream = watch.stream(
        core.list_pod_for_all_namespaces,
        label_selector="blinkt=show",
        resource_version=str(version),
        timeout_seconds=10,
    )
    store.update("default", "web-1", lambda p: p["metadata"]["labels"].update(blinkt="hide"))
    store.update("default", "web-1", lambda p: p["metadata"]["labels"].update(blinkt="show"))
    store.update("data", "db-1", lambda p: p["metadata"]["labels"].update(blinkt="show"))
    events = take(stream, 3)
    watch.stop()
    assert [summary(e) for e in events] == [("DELETED", "web-1"), ("ADDED", "web-1"), ("ADDED", "db-1")]
    assert events[0]["object"].metadata.labels["blinkt"] == "show"  # the last state this watch could see


def test_expired_version_gives_http_200_then_a_410_error_event(store: PodStore, core: CoreV1Api) -> None:
    old = seed(store)
    store.create(make_pod("web-3"))
    store.compact()
    response = raw_watch(core, resource_version=str(old))
    assert response.status == 200
    events = list(raw_lines(response))  # the server ends the stream after the error
    assert events == [
        {
            "type": "ERROR",
            "object": {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": f"too old resource version: {old} ({old + 1})",
                "reason": "Expired",
                "code": 410,
            },
        }
    ]


def test_watch_helper_raises_410_for_an_expired_version(store: PodStore, core: CoreV1Api) -> None:
    old = seed(store)
    store.create(make_pod("web-3"))
    store.compact()
    watch = kubernetes.watch.Watch()
    with pytest.raises(ApiException) as caught:
        next(watch.stream(core.list_pod_for_all_namespaces, resource_version=str(old), timeout_seconds=5))
    assert caught.value.status == 410


def test_bookmarks_arrive_at_the_interval_with_the_current_version(store: PodStore, core: CoreV1Api) -> None:
    version = seed(store)
    response = raw_watch(core,
        resource_version=str(version), allow_watch_bookmarks=True
    )
    events = raw_lines(response)
    started = time.monotonic()
    first = next(events)
    store.create(make_pod("other", "data"))
    second, third = take(events, 2)
    response.close()
    assert first == {
        "type": "BOOKMARK",
        "object": {"kind": "Pod", "apiVersion": "v1", "metadata": {"resourceVersion": str(version)}},
    }
    assert time.monotonic() - started >= 0.15
    assert second["type"] == "ADDED"
    assert third["type"] == "BOOKMARK"
    assert third["object"]["metadata"]["resourceVersion"] == str(version + 1)


def test_no_bookmarks_unless_asked_and_timeout_seconds_ends_the_stream(
    store: PodStore, core: CoreV1Api, server: ApiServer
) -> None:
    version = seed(store)
    started = time.monotonic()
    response = raw_watch(core,
        resource_version=str(version), timeout_seconds=1
    )
    assert list(raw_lines(response)) == []  # ended cleanly, no event, no bookmark
    assert 0.9 <= time.monotonic() - started < 5
    assert server.wait_for_watches(0)


def test_send_initial_events_ends_with_an_annotated_bookmark(store: PodStore, server: ApiServer) -> None:
    seed(store)
    query = "watch=1&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan"
    with urllib3.PoolManager() as http:
        response = http.request("GET", f"{server.url}/api/v1/namespaces/default/pods?{query}", preload_content=False)
        events = take(raw_lines(response), 3)
        response.close()
    assert [e["type"] for e in events[:3]] == ["ADDED", "ADDED", "BOOKMARK"]
    assert events[2]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


def test_request_log_records_watch_parameters(store: PodStore, core: CoreV1Api, server: ApiServer) -> None:
    version = seed(store)
    core.list_pod_for_all_namespaces(label_selector="blinkt=show")
    response = raw_watch(core,
        resource_version=str(version), allow_watch_bookmarks=True, timeout_seconds=9
    )
    response.close()
    assert server.requests.count("list") == 1
    (watch,) = server.requests.records("watch")
    assert watch.params == {
        "allowWatchBookmarks": "true",
        "resourceVersion": str(version),
        "timeoutSeconds": "9",
        "watch": "true",
    }
    assert server.requests.records("list")[0].params == {"labelSelector": "blinkt=show"}


def test_stop_ends_open_watches_promptly(store: PodStore) -> None:
    server = ApiServer(store).start()
    configuration = kubernetes.client.Configuration()
    configuration.host = server.url
    with kubernetes.client.ApiClient(configuration) as client:
        response = raw_watch(CoreV1Api(client))
        events = raw_lines(response)
        later(0.1, server.stop)
        started = time.monotonic()
        assert list(events) == []
        assert time.monotonic() - started < 3


def test_writes_are_refused_with_405_and_the_connection_closed(server: ApiServer) -> None:
    with urllib3.PoolManager() as http:
        response = http.request("POST", f"{server.url}/api/v1/namespaces/default/pods", body=b'{"kind": "Pod"}')
    assert response.status == 405
    assert response.json()["reason"] == "MethodNotAllowed"
    assert response.headers.get("Connection") == "close"
