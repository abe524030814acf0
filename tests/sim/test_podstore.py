"""PodStore: versions, history, expiry, filtered watch semantics, waiting."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from sim.pods import make_pod, mark_terminating, set_ready
from sim.podstore import AlreadyExists, Conflict, EventType, Expired, InvalidPod, NotFound, PodStore
from sim.selectors import PodSelector, SelectorError

NOON = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)


def fixed_store(**kwargs: Any) -> PodStore:
    return PodStore(clock=lambda: NOON, start_resource_version=100, **kwargs)


def test_create_fills_identity_and_stamps_a_new_version() -> None:
    store = fixed_store()
    created = store.create(make_pod("web-1", labels={"app": "web"}))
    assert created["metadata"]["resourceVersion"] == "101"
    assert created["metadata"]["creationTimestamp"] == "2026-11-26T12:00:00Z"
    assert len(created["metadata"]["uid"]) == 36
    assert store.resource_version == 101
    assert store.get("default", "web-1") == created


def test_create_keeps_a_given_uid_and_strips_kind() -> None:
    store = fixed_store()
    created = store.create({"kind": "Pod", "apiVersion": "v1", **make_pod("a", uid="u-1")})
    assert created["metadata"]["uid"] == "u-1"
    assert "kind" not in created and "apiVersion" not in created


def test_duplicate_create_is_refused_and_changes_nothing() -> None:
    store = fixed_store()
    store.create(make_pod("web-1"))
    with pytest.raises(AlreadyExists, match='pods "web-1" already exists'):
        store.create(make_pod("web-1"))
    assert store.resource_version == 101


@pytest.mark.parametrize(
    "pod",
    [
        {"metadata": {"name": "Not_Valid"}},
        {"metadata": {"name": "ok", "namespace": "a/b"}},
        {"metadata": {}},
        {"spec": {}},
        {"kind": "Deployment", "metadata": {"name": "x"}},
    ],
)
def test_invalid_pods_are_refused(pod: dict[str, Any]) -> None:
    store = fixed_store()
    with pytest.raises(InvalidPod):
        store.create(pod)
    assert store.resource_version == 100


def test_update_bumps_the_version_and_records_the_previous_object() -> None:
    store = fixed_store()
    store.create(make_pod("web-1", ready=False))
    updated = store.update("default", "web-1", lambda p: set_ready(p, True))
    assert updated["metadata"]["resourceVersion"] == "102"
    events, version = store.events_since(101)
    assert version == 102
    assert [(e.type, e.resource_version) for e in events] == [(EventType.MODIFIED, 102)]
    assert events[0].previous is not None
    assert events[0].previous["metadata"]["resourceVersion"] == "101"


def test_an_update_that_changes_nothing_is_a_no_op() -> None:
    store = fixed_store()
    store.create(make_pod("web-1"))
    store.update("default", "web-1", lambda p: None)
    assert store.resource_version == 101
    assert store.events_since(101) == ([], 101)


def test_update_cannot_change_identity() -> None:
    store = fixed_store()
    store.create(make_pod("web-1"))

    def rename(pod: dict[str, Any]) -> None:
        pod["metadata"]["uid"] = "other"

    with pytest.raises(InvalidPod, match=r"metadata\.uid is immutable"):
        store.update("default", "web-1", rename)
    assert store.resource_version == 101


def test_missing_pods_raise_not_found() -> None:
    store = fixed_store()
    with pytest.raises(NotFound):
        store.get("default", "nope")
    with pytest.raises(NotFound):
        store.update("default", "nope", lambda p: None)
    with pytest.raises(NotFound):
        store.delete("default", "nope")


def test_replace_refuses_a_stale_resource_version() -> None:
    store = fixed_store()
    first = store.create(make_pod("web-1"))
    store.update("default", "web-1", lambda p: p["metadata"]["labels"].update(v="2"))
    first["metadata"]["labels"]["v"] = "3"
    with pytest.raises(Conflict):
        store.replace(first)
    current = store.get("default", "web-1")
    current["metadata"]["labels"]["v"] = "3"
    assert store.replace(current)["metadata"]["labels"]["v"] == "3"


def test_delete_emits_the_last_state_at_the_deletion_version() -> None:
    store = fixed_store()
    store.create(make_pod("web-1"))
    store.update("default", "web-1", lambda p: mark_terminating(p, NOON))
    deleted = store.delete("default", "web-1")
    assert deleted["metadata"]["resourceVersion"] == "103"
    assert deleted["metadata"]["deletionTimestamp"] == "2026-11-26T12:00:00Z"
    events, _ = store.events_since(102)
    assert [(e.type, e.object["metadata"]["resourceVersion"]) for e in events] == [(EventType.DELETED, "103")]
    assert store.list() == ([], 103)


def test_list_filters_sorts_and_reports_its_version() -> None:
    store = fixed_store()
    store.create(make_pod("b", "prod", node="n1", labels={"app": "web"}))
    store.create(make_pod("a", "prod", node="n2", labels={"app": "web"}))
    store.create(make_pod("c", "dev", node="n1", labels={"app": "db"}))
    names = lambda items: [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in items]  # noqa: E731
    assert names(store.list()[0]) == [("dev", "c"), ("prod", "a"), ("prod", "b")]
    assert names(store.list("prod")[0]) == [("prod", "a"), ("prod", "b")]
    assert names(store.list(label_selector="app=web", field_selector="spec.nodeName=n1")[0]) == [("prod", "b")]
    assert store.list(namespace="none")[1] == 103
    with pytest.raises(SelectorError):
        store.list(label_selector="app in")


def test_returned_objects_are_copies() -> None:
    store = fixed_store()
    created = store.create(make_pod("web-1"))
    created["metadata"]["labels"]["x"] = "y"
    store.list()[0][0]["status"]["phase"] = "Failed"
    assert store.get("default", "web-1")["metadata"]["labels"] == {}
    assert store.get("default", "web-1")["status"]["phase"] == "Running"


def test_history_is_bounded_and_older_versions_expire() -> None:
    store = fixed_store(history_size=3)
    for i in range(5):
        store.create(make_pod(f"p{i}"))  # versions 101..105; history keeps 103..105
    assert store.oldest_resource_version == 102
    assert [e.resource_version for e in store.events_since(102)[0]] == [103, 104, 105]
    with pytest.raises(Expired, match=r"too old resource version: 101 \(102\)"):
        store.events_since(101)


def test_compact_expires_every_older_version() -> None:
    store = fixed_store()
    store.create(make_pod("a"))
    store.create(make_pod("b"))
    store.compact()
    with pytest.raises(Expired) as caught:
        store.events_since(101)
    assert (caught.value.requested, caught.value.oldest) == (101, 102)
    assert store.events_since(102) == ([], 102)
    store.create(make_pod("c"))
    assert [e.resource_version for e in store.events_since(102)[0]] == [103]


def test_a_future_version_waits_instead_of_rewinding() -> None:
    store = fixed_store()
    store.create(make_pod("a"))
    assert store.events_since(500) == ([], 500)


LABEL_WATCH = PodSelector.parse(labels="blinkt=show")


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (None, "show", EventType.ADDED),
        (None, "hide", None),
        ("show", "show", EventType.MODIFIED),
        ("hide", "show", EventType.ADDED),  # starts matching: ADDED for this watch
        ("show", "hide", EventType.DELETED),  # stops matching: DELETED for this watch
        ("hide", "hide", None),
    ],
)
def test_filtered_watches_see_selector_changes_as_added_and_deleted(
    before: str | None, after: str, expected: EventType | None
) -> None:
    store = fixed_store()
    if before is not None:
        store.create(make_pod("web-1", labels={"blinkt": before, "v": "1"}))
        store.update("default", "web-1", lambda p: p["metadata"]["labels"].update(blinkt=after, v="2"))
    else:
        store.create(make_pod("web-1", labels={"blinkt": after, "v": "2"}))
    events, version = store.events_since(store.resource_version - 1, LABEL_WATCH)
    assert [e.type for e in events] == ([expected] if expected else [])
    if expected == EventType.DELETED:
        # The watch cache sends the last state the watcher could see, at the new version.
        assert events[0].object["metadata"]["labels"] == {"blinkt": "show", "v": "1"}
        assert events[0].object["metadata"]["resourceVersion"] == str(version)


def test_a_deleted_pod_is_seen_only_by_watches_it_matched() -> None:
    store = fixed_store()
    store.create(make_pod("hidden", labels={"blinkt": "hide"}))
    store.delete("default", "hidden")
    assert store.events_since(101, LABEL_WATCH) == ([], 102)


def test_wait_for_change_returns_at_once_when_already_newer() -> None:
    store = fixed_store()
    store.create(make_pod("a"))
    assert store.wait_for_change(100, timeout=5) == 101


def test_wait_for_change_wakes_on_a_write_from_another_thread() -> None:
    store = fixed_store()
    writer = threading.Timer(0.05, lambda: store.create(make_pod("a")))
    writer.start()
    started = time.monotonic()
    assert store.wait_for_change(100, timeout=5) == 101
    assert time.monotonic() - started < 4
    writer.join()


def test_wait_for_change_is_interruptible_and_times_out() -> None:
    store = fixed_store()
    flag = threading.Event()

    def interrupt() -> None:
        flag.set()
        store.wake()

    threading.Timer(0.05, interrupt).start()
    started = time.monotonic()
    assert store.wait_for_change(100, None, interrupted=flag.is_set) == 100
    assert time.monotonic() - started < 4
    assert store.wait_for_change(100, 0.01) == 100


def test_history_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="history_size"):
        PodStore(history_size=0)
