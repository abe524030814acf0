"""The simulated cluster's pod storage: what etcd plus the API server's watch cache hold.

Thread-safe, pure data plus one condition variable; no HTTP. The simulated cluster
(Deployments, scheduler, pod lifecycle) writes here; the API server reads lists and
watch events from here.

Semantics copied from the real thing, because the watcher is tested against them:

- One global integer resourceVersion, bumped by every mutation and stamped into the
  object's ``metadata.resourceVersion`` (a string on the wire, like etcd's revision).
  Updates that change nothing are no-ops: no bump, no event (the API server skips them).
- Every mutation appends a ``WatchEvent`` (ADDED / MODIFIED / DELETED, the object at
  that version plus the object before it) to a bounded history. A watch from a version
  older than the history raises ``Expired`` (HTTP 410 "too old resource version");
  ``compact()`` drops the whole history, as an etcd compaction does.
- ``WatchEvent.seen_through(selector)`` applies the watch cache's rule for filtered
  watches: an object that stops matching is delivered as DELETED (its previous state at
  the new version), one that starts matching as ADDED.
- Deletion is immediate. Graceful termination is the simulated cluster's business: it
  sets ``deletionTimestamp`` with ``update`` and deletes later.

Objects go in and come out as deep copies, so no caller can change stored state by
accident. Objects are stored without ``kind``/``apiVersion``, as list items are.

Errors (``StoreError`` and below): ``NotFound``, ``AlreadyExists``, ``Conflict``
(stale resourceVersion on ``replace``), ``InvalidPod``, ``Expired``.
"""

from __future__ import annotations

import copy
import itertools
import re
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sim.pods import Pod, key_of, rfc3339
from sim.selectors import EVERYTHING, PodSelector

_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_IMMUTABLE = ("name", "namespace", "uid", "creationTimestamp")


class StoreError(Exception):
    """Base of everything the store refuses."""


class NotFound(StoreError):
    pass


class AlreadyExists(StoreError):
    pass


class Conflict(StoreError):
    pass


class InvalidPod(StoreError):
    pass


class Expired(StoreError):
    """A resourceVersion older than the retained history: the client must relist."""

    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"too old resource version: {requested} ({oldest})")
        self.requested = requested
        self.oldest = oldest


class EventType(StrEnum):
    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"


@dataclass(frozen=True)
class WatchEvent:
    """One change; ``previous`` is the object before it (None for ADDED)."""

    type: EventType
    object: Pod
    resource_version: int
    previous: Pod | None = None

    def seen_through(self, selector: PodSelector) -> WatchEvent | None:
        """This event as a watch with ``selector`` sees it, or None (the watch cache's rule)."""
        now = self.type != EventType.DELETED and selector.matches(self.object)
        before = self.previous is not None and selector.matches(self.previous)
        version, previous = self.resource_version, self.previous
        if now and before:
            return WatchEvent(EventType.MODIFIED, self.object, version, previous)
        if now:
            return WatchEvent(EventType.ADDED, self.object, version)
        if before and previous is not None:
            return WatchEvent(EventType.DELETED, _stamped(previous, version), version, previous)
        return None


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _stamped(pod: Pod, resource_version: int) -> Pod:
    stamped = copy.deepcopy(pod)
    stamped["metadata"]["resourceVersion"] = str(resource_version)
    return stamped


_Pods = list[Pod]
_Events = list[WatchEvent]


class PodStore:
    def __init__(
        self,
        *,
        history_size: int = 1000,
        clock: Callable[[], datetime] = _utcnow,
        start_resource_version: int = 1000,
    ) -> None:
        if history_size < 1:
            raise ValueError("history_size must be at least 1")
        self._clock = clock
        self._pods: dict[tuple[str, str], Pod] = {}
        self._history: deque[WatchEvent] = deque(maxlen=history_size)
        self._version = start_resource_version
        # Every event after _floor is in the history; versions below it are expired.
        self._floor = start_resource_version
        self._changed = threading.Condition()

    @property
    def resource_version(self) -> int:
        with self._changed:
            return self._version

    def create(self, pod: Pod) -> Pod:
        """Store a new pod; fills namespace, uid, creationTimestamp; stamps a new version."""
        new = _normalised(pod)
        metadata = new["metadata"]
        with self._changed:
            key = key_of(new)
            if key in self._pods:
                raise AlreadyExists(f'pods "{key[1]}" already exists in namespace "{key[0]}"')
            metadata.setdefault("uid", str(uuid.uuid4()))
            metadata.setdefault("creationTimestamp", rfc3339(self._clock()))
            return self._commit(EventType.ADDED, new, previous=None)

    def get(self, namespace: str, name: str) -> Pod:
        with self._changed:
            return copy.deepcopy(self._current(namespace, name))

    def update(self, namespace: str, name: str, mutate: Callable[[Pod], Pod | None]) -> Pod:
        """Apply ``mutate`` to a copy of the pod (in place, or return a new dict) atomically."""
        with self._changed:
            current = self._current(namespace, name)
            draft = copy.deepcopy(current)
            result = mutate(draft)
            return self._write(current, _normalised(draft if result is None else result))

    def replace(self, pod: Pod) -> Pod:
        """PUT semantics: a stated ``metadata.resourceVersion`` must be the current one."""
        new = _normalised(pod)
        with self._changed:
            current = self._current(*key_of(new))
            stated = new["metadata"].get("resourceVersion")
            if stated not in (None, "", current["metadata"]["resourceVersion"]):
                raise Conflict(f'pod "{key_of(new)[1]}": resourceVersion {stated} is stale, the object was modified')
            for field in ("uid", "creationTimestamp"):
                new["metadata"].setdefault(field, current["metadata"][field])
            return self._write(current, new)

    def delete(self, namespace: str, name: str) -> Pod:
        """Remove the pod now; returns it stamped with the deletion's version."""
        with self._changed:
            current = self._current(namespace, name)
            del self._pods[(namespace, name)]
            return self._commit(EventType.DELETED, copy.deepcopy(current), previous=current)

    def list(
        self, namespace: str | None = None, label_selector: str | None = None, field_selector: str | None = None
    ) -> tuple[_Pods, int]:
        """Matching pods sorted by (namespace, name), and the version they were read at."""
        return self.select(PodSelector.parse(namespace=namespace, labels=label_selector, fields=field_selector))

    def select(self, selector: PodSelector = EVERYTHING) -> tuple[_Pods, int]:
        with self._changed:
            items = [copy.deepcopy(p) for _, p in sorted(self._pods.items()) if selector.matches(p)]
            return items, self._version

    def events_since(self, resource_version: int, selector: PodSelector = EVERYTHING) -> tuple[_Events, int]:
        """Events after ``resource_version`` as a watch with ``selector`` sees them, and the version read up to.

        The events' objects are the store's own history: read them, never write them.

        A version from the future reads as itself: the watch waits for the store to get there.
        """
        with self._changed:
            if resource_version < self._floor:
                raise Expired(resource_version, self._floor)
            # History is ordered by version: walk back from the newest, so a watch that is
            # up to date costs O(new events), not O(history).
            newer = list(itertools.takewhile(lambda e: e.resource_version > resource_version,
                                             reversed(self._history)))
            newer.reverse()
            seen = (e.seen_through(selector) for e in newer)
            # Shared, not copied: history objects are private copies made at commit and never
            # written again, and watchers only serialise them (copying was 80 % of a watch's cost).
            return [e for e in seen if e is not None], max(resource_version, self._version)

    def wait_for_change(
        self, resource_version: int, timeout: float | None, *, interrupted: Callable[[], bool] = lambda: False
    ) -> int:
        """Block until the store is newer than ``resource_version``, or ``interrupted()`` holds after a
        ``wake()``, or ``timeout`` passes; return the current version.

        ``interrupted`` is evaluated under the store's lock, so a flag set before ``wake()`` is never missed.
        """
        with self._changed:
            self._changed.wait_for(lambda: self._version > resource_version or interrupted(), timeout)
            return self._version

    def wake(self) -> None:
        """Release every ``wait_for_change`` now (a server stopping, a watch being dropped)."""
        with self._changed:
            self._changed.notify_all()

    def compact(self) -> None:
        """Forget all history: every watch from an older version gets 410 Expired."""
        with self._changed:
            self._history.clear()
            self._floor = self._version

    @property
    def oldest_resource_version(self) -> int:
        """The oldest version a watch may still start from."""
        with self._changed:
            return self._floor

    def _current(self, namespace: str, name: str) -> Pod:
        try:
            return self._pods[(namespace, name)]
        except KeyError:
            raise NotFound(f'pods "{name}" not found in namespace "{namespace}"') from None

    def _write(self, current: Pod, new: Pod) -> Pod:
        for field in _IMMUTABLE:
            if new["metadata"].get(field) != current["metadata"].get(field):
                raise InvalidPod(f"metadata.{field} is immutable: {current['metadata'].get(field)!r}")
        new["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        if new == current:
            return copy.deepcopy(current)
        return self._commit(EventType.MODIFIED, new, previous=current)

    def _commit(self, kind: EventType, pod: Pod, *, previous: Pod | None) -> Pod:
        self._version += 1
        pod["metadata"]["resourceVersion"] = str(self._version)
        if kind != EventType.DELETED:
            self._pods[key_of(pod)] = pod
        if len(self._history) == self._history.maxlen:
            self._floor = self._history[0].resource_version
        self._history.append(WatchEvent(kind, copy.deepcopy(pod), self._version, previous))
        self._changed.notify_all()
        return copy.deepcopy(pod)


def _normalised(pod: Pod) -> Pod:
    """A deep copy without kind/apiVersion, with the sections every pod has; InvalidPod if it is no pod."""
    if not isinstance(pod, dict) or not isinstance(pod.get("metadata"), dict):
        raise InvalidPod("a pod is a dict with a 'metadata' dict")
    if pod.get("kind", "Pod") != "Pod" or pod.get("apiVersion", "v1") != "v1":
        raise InvalidPod(f"expected kind Pod, apiVersion v1, got {pod.get('kind')!r}, {pod.get('apiVersion')!r}")
    new = copy.deepcopy({k: v for k, v in pod.items() if k not in ("kind", "apiVersion")})
    metadata = new["metadata"]
    metadata.setdefault("namespace", "default")
    for field in ("name", "namespace"):
        value = metadata.get(field)
        if not isinstance(value, str) or len(value) > 253 or not _DNS1123_SUBDOMAIN.match(value):
            raise InvalidPod(f"metadata.{field} {value!r} is not a DNS-1123 subdomain")
    new.setdefault("spec", {})
    new.setdefault("status", {})
    return new
