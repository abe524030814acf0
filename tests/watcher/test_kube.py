"""The Kubernetes adapter (watcher/kube.py) on the wire: the official client against the simulated API server.

What the loop's table tests take for granted is checked here once, with real HTTP:
statuses become the right errors (Retry-After read from the header), a silent stream
is ``Stalled`` after the stall timeout — also after the loop tightened it on the open
stream — and ``close()`` interrupts a blocked read.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

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
