"""The Kubernetes adapter (watcher/kube.py) on the wire: the official client against the simulated API server.

What the loop's table tests take for granted is checked here once, with real HTTP:
statuses become the right errors (Retry-After read from the header), a silent stream
is ``Stalled`` after the stall timeout — also after the loop tightened it on the open
stream — and ``close()`` interrupts a blocked read.

The simulated cluster serves pods only; node lists (``node_names``) go to a small
stand-in that answers ``/api/v1/nodes`` as the real server does (``limit``/``continue``,
``fieldSelector=metadata.name=…``, ``PartialObjectMetadataList``), and to the simulated
cluster for its honest 404.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import kubernetes
import pytest

from broker.launching import free_port
from sim.apiserver import ApiServer
from tests.support.kube import pod_api
from watcher.errors import ApiRejected, Expired, Stalled, StreamBroken, TooManyRequests
from watcher.kube import PodApi, Timeouts
from watcher.sources import PodQuery, WatchEvent

from .conftest import show_pod

QUERY = PodQuery(namespace=None, label_selector="blinkt=show", field_selector="spec.nodeName=node-1")


def api_at(url: str, timeouts: Timeouts) -> PodApi:
    configuration = kubernetes.client.Configuration()
    configuration.host = url
    configuration.retries = False
    return PodApi(configuration, timeouts=timeouts)


def next_of(stream: Iterator[WatchEvent]) -> WatchEvent:
    return next(stream)


def test_lists_and_watches_pods(cluster: ApiServer) -> None:
    cluster.store.create(show_pod("a"))
    cluster.store.create(show_pod("elsewhere", node="node-2"))
    api = pod_api(cluster)
    pods, rv = api.list(QUERY, resource_version="0")
    assert [p["metadata"]["name"] for p in pods] == ["a"]
    with api.watch(QUERY, resource_version=rv, timeout_seconds=5, stall_after=5) as stream:
        cluster.store.create(show_pod("b"))
        seen = next((kind, obj["metadata"]["name"]) for kind, obj in stream if kind != "BOOKMARK")
    assert seen == ("ADDED", "b")


@pytest.mark.parametrize(("status", "error", "detail"), [
    (429, TooManyRequests, ("retry_after", 2.0)),
    (500, ApiRejected, ("status", 500)),
    (503, ApiRejected, ("status", 503)),
])
def test_error_statuses_become_the_boundarys_errors(cluster: ApiServer, status: int, error: type[Exception],
                                                    detail: tuple[str, float]) -> None:
    cluster.faults.fail_next(1, status=status, kind="list", retry_after=2)
    with pytest.raises(error) as info:
        pod_api(cluster).list(QUERY, resource_version="0")
    assert getattr(info.value, detail[0]) == detail[1]


def test_a_watch_from_an_expired_version_is_expired(cluster: ApiServer) -> None:
    api = pod_api(cluster)
    _, rv = api.list(QUERY, resource_version="0")
    cluster.store.create(show_pod("a"))
    cluster.store.compact()
    with pytest.raises(Expired), api.watch(QUERY, resource_version=rv, timeout_seconds=5, stall_after=5) as stream:
        list(stream)


def test_a_list_that_hangs_past_its_read_timeout_is_a_broken_stream(cluster: ApiServer) -> None:
    cluster.faults.hang_next(1, seconds=3, kind="list")
    with pytest.raises(StreamBroken, match=r"unreachable|broke"):
        api_at(cluster.url, Timeouts(connect=2, list_read=0.5)).list(QUERY, resource_version="0")


def test_an_unreachable_server_is_a_broken_stream() -> None:
    with pytest.raises(StreamBroken, match="unreachable"):
        api_at(f"http://127.0.0.1:{free_port()}", Timeouts(connect=1, list_read=1)).list(QUERY, resource_version="0")


@pytest.mark.parametrize(("opened_with", "tightened_to"), [(1, None), (60, 1)])
def test_a_silent_watch_is_stalled_after_its_stall_timeout_also_one_tightened_on_the_open_stream(
    cluster: ApiServer, opened_with: float, tightened_to: float | None
) -> None:
    api = pod_api(cluster)
    _, rv = api.list(QUERY, resource_version="0")
    with api.watch(QUERY, resource_version=rv, timeout_seconds=120, stall_after=opened_with) as stream:
        events = iter(stream)
        assert next_of(events)[0] == "BOOKMARK"
        if tightened_to is not None:
            stream.stall_after(tightened_to)  # what the loop does once it knows the bookmark interval
        cluster.stall_watches()
        started = time.monotonic()
        with pytest.raises(Stalled, match="for 1 s"):
            list(events)
    assert time.monotonic() - started < 30  # the 60 s it was opened with would have taken twice that


def test_close_interrupts_an_open_watch_and_refuses_new_calls(cluster: ApiServer) -> None:
    api = pod_api(cluster)
    _, rv = api.list(QUERY, resource_version="0")
    broken: list[Exception] = []

    def follow() -> None:
        try:
            with api.watch(QUERY, resource_version=rv, timeout_seconds=60, stall_after=60) as stream:
                list(stream)
        except StreamBroken as e:
            broken.append(e)

    reader = threading.Thread(target=follow)
    reader.start()
    assert cluster.wait_for_watches(1)
    cluster.stall_watches()  # a blocked read, nothing arriving
    api.close()
    reader.join(10)
    assert not reader.is_alive() and broken
    with pytest.raises(StreamBroken, match="closed"):
        api.list(QUERY, resource_version="0")


def test_a_dropped_watch_is_a_broken_stream(cluster: ApiServer) -> None:
    api = pod_api(cluster)
    _, rv = api.list(QUERY, resource_version="0")
    with pytest.raises(StreamBroken), api.watch(QUERY, resource_version=rv, timeout_seconds=60,
                                                stall_after=60) as stream:
        events = iter(stream)
        next_of(events)
        cluster.drop_watches()
        list(events)


# -- node lists -------------------------------------------------------------------------------


class NodeApi(ThreadingHTTPServer):
    """``GET /api/v1/nodes`` over a list of names, paged as asked; ``refuse`` answers every call with it."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(("127.0.0.1", 0), NodeHandler)
        self.names = names
        self.refuse: int | None = None
        self.requests: list[tuple[dict[str, str], str]] = []
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class NodeHandler(BaseHTTPRequestHandler):
    server: NodeApi

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        self.server.requests.append((query, self.headers.get("Accept", "")))
        if url.path != "/api/v1/nodes" or self.server.refuse:
            code = self.server.refuse or 404
            self.send(code, {"kind": "Status", "status": "Failure", "code": code, "message": "nodes is forbidden"})
            return
        names = self.server.names
        if "fieldSelector" in query:
            names = [n for n in names if f"metadata.name={n}" == query["fieldSelector"]]
        start, limit = int(query.get("continue") or 0), int(query.get("limit") or len(names) or 1)
        page, more = names[start:start + limit], start + limit < len(names)
        self.send(200, {"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1",
                        "metadata": {"resourceVersion": "7", **({"continue": str(start + limit)} if more else {})},
                        "items": [{"kind": "PartialObjectMetadata", "metadata": {"name": n}} for n in page]})

    def send(self, code: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def node_api() -> Iterator[NodeApi]:
    server = NodeApi([f"node-{i}" for i in range(1200)])
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_node_names_reads_every_page_of_metadata_only(node_api: NodeApi) -> None:
    api = api_at(node_api.url, Timeouts(connect=2, list_read=5))
    assert api.node_names(timeout=10) == frozenset(node_api.names)
    assert [q.get("continue") for q, _ in node_api.requests] == [None, "500", "1000"]
    assert all(q["limit"] == "500" for q, _ in node_api.requests)
    assert all(a.startswith("application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1") for _, a in
               node_api.requests)


def test_node_names_of_one_node_asks_for_that_name_only(node_api: NodeApi) -> None:
    api = api_at(node_api.url, Timeouts(connect=2, list_read=5))
    assert api.node_names("node-7", timeout=10) == {"node-7"}
    assert api.node_names("node-gone", timeout=10) == frozenset()
    assert [q["fieldSelector"] for q, _ in node_api.requests] == ["metadata.name=node-7", "metadata.name=node-gone"]


def test_node_names_without_the_right_to_list_nodes_is_rejected(node_api: NodeApi, cluster: ApiServer) -> None:
    node_api.refuse = 403
    with pytest.raises(ApiRejected) as forbidden:
        api_at(node_api.url, Timeouts(connect=2, list_read=5)).node_names(timeout=10)
    assert forbidden.value.status == 403
    with pytest.raises(ApiRejected) as unserved:  # the simulated cluster has no nodes: an answer, not "none"
        pod_api(cluster).node_names(timeout=10)
    assert unserved.value.status == 404


def test_node_names_still_answer_after_close(node_api: NodeApi) -> None:
    """A stopping watcher closes its pod watches first, then asks whether its node is still there."""
    api = api_at(node_api.url, Timeouts(connect=2, list_read=5))
    api.close()
    assert api.node_names("node-1", timeout=10) == {"node-1"}


def test_node_names_from_an_unreachable_server_is_a_broken_stream() -> None:
    with pytest.raises(StreamBroken, match="unreachable"):
        api_at(f"http://127.0.0.1:{free_port()}", Timeouts(connect=1, list_read=1)).node_names(timeout=2)
