"""Raw pod list and watch calls over the official ``kubernetes`` client: the real :class:`PodSource`.

We use the client for what it is good at — configuration, authentication, TLS, the
HTTP pool — and call the generated API with ``_preload_content=False``: pods stay plain
JSON dicts (no model deserialisation per event), and the watch stream is read line by
line (``streams.py``) instead of through ``kubernetes.watch.Watch``, which neither
lists, relists nor diffs, and which can end silently.

Every failure leaves this module as one of :mod:`watcher.errors`, chained with
``raise … from``: HTTP statuses by code (410 ``Expired``, 429 ``TooManyRequests`` with
its Retry-After, else ``ApiRejected``), a watch read timeout as ``Stalled``, anything
else on the connection as ``StreamBroken``.

Nodes: :meth:`PodApi.node_names` lists node names only (metadata, ``PartialObjectMetadataList``,
in pages of ``NODE_PAGE``), for the watcher's check that a node has left the cluster. It
needs ``list`` on ``nodes`` (a cluster-wide grant); without it the server says 403 and the
watcher simply never clears a node.

Time: every request has a connect and a read timeout. A watch's read timeout is the
loop's stall timeout (``stall_after``), which the loop tightens on an open stream once
it knows the server's bookmark interval (the socket's timeout is changed in place); the
same number bounds how long bytes may trickle in without a complete event.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from watcher.errors import ApiRejected, Expired, KubeError, Stalled, StreamBroken, TooManyRequests
from watcher.sources import PodQuery, RawObject, WatchEvent
from watcher.streams import read_events

MAX_RETRY_AFTER_SECONDS = 300.0
T = TypeVar("T")
NODE_PAGE = 500
# Node metadata only (names are all the watcher needs); a server that cannot do that sends whole nodes.
METADATA_ONLY = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1, application/json"


@dataclass(frozen=True)
class Timeouts:
    """Connect and list-read timeouts; a watch's read timeout is the loop's ``stall_after``."""

    connect: float = 10.0
    list_read: float = 60.0


def load_configuration(kubeconfig: str | None = None, context: str | None = None) -> client.Configuration:
    """In-cluster config when running in a pod, else ``--kubeconfig``/``$KUBECONFIG``/``~/.kube/config``."""
    configuration = client.Configuration()
    try:
        if kubeconfig is None and context is None:
            try:
                config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
                return _no_retries(configuration)
            except config.ConfigException:
                pass
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig, context=context, client_configuration=configuration
        )
    except (config.ConfigException, OSError) as e:
        raise KubeError(f"no Kubernetes configuration: {e}") from e
    return _no_retries(configuration)


def _no_retries(configuration: client.Configuration) -> client.Configuration:
    # The loop above us owns retrying (with backoff and logging); urllib3 must not retry silently.
    configuration.retries = False
    return configuration


class PodApi:
    """A :class:`watcher.sources.PodSource` and :class:`watcher.sources.NodeSource` over the official client."""

    def __init__(self, configuration: client.Configuration, *, timeouts: Timeouts = Timeouts()) -> None:
        self._core = client.CoreV1Api(client.ApiClient(configuration))
        self.timeouts = timeouts
        self._open: set[urllib3.HTTPResponse] = set()
        self._lock = threading.Lock()
        self._closed = False

    def close(self) -> None:
        """Interrupt every open watch (a blocked read wakes up with StreamBroken) and refuse new calls."""
        with self._lock:
            self._closed = True
            responses = list(self._open)
        for response in responses:
            _shutdown(response)

    def list(self, query: PodQuery, *, resource_version: str) -> tuple[list[RawObject], str]:
        """List matching pods; returns the items and the list's resourceVersion."""
        response = self._call(query, resource_version=resource_version,
                              _request_timeout=(self.timeouts.connect, self.timeouts.list_read))
        return _read(response, _pod_list, "pod list")

    @contextmanager
    def watch(self, query: PodQuery, *, resource_version: str, timeout_seconds: int,
              stall_after: float) -> Iterator[ResponseStream]:
        """Open a watch from ``resource_version``; yields its stream of (type, object)."""
        response = self._call(
            query, watch=True, resource_version=resource_version, allow_watch_bookmarks=True,
            timeout_seconds=timeout_seconds, _request_timeout=(self.timeouts.connect, stall_after),
        )
        with self._lock:
            self._open.add(response)
            if self._closed:  # close() ran while this watch was opening
                _shutdown(response)
        try:
            yield ResponseStream(response, stall_after)
        finally:
            with self._lock:
                self._open.discard(response)
            response.close()
            response.release_conn()

    def node_names(self, name: str | None = None, *, timeout: float) -> frozenset[str]:
        """The cluster's node names (only ``name``, if it exists); see :class:`watcher.sources.NodeSource`."""
        deadline = time.monotonic() + timeout
        names: set[str] = set()
        token: str | None = None
        while True:
            left = max(0.1, deadline - time.monotonic())
            page, token = self._node_page(name, token, _request_timeout=(min(self.timeouts.connect, left), left))
            names.update(page)
            if not token:
                return frozenset(names)
            if time.monotonic() >= deadline:
                raise StreamBroken(f"node list not complete within {timeout:g} s")

    def _node_page(self, name: str | None, token: str | None, **kwargs: Any) -> tuple[Sequence[str], str | None]:
        options: dict[str, Any] = {"limit": NODE_PAGE, "_preload_content": False, "_headers": {"Accept": METADATA_ONLY}}
        if name is not None:
            options["field_selector"] = f"metadata.name={name}"
        if token:
            options["_continue"] = token
        with _translated():
            response = cast(urllib3.HTTPResponse, self._core.list_node(**options, **kwargs))
        return _read(response, _node_list, "node list")

    def _call(self, query: PodQuery, **kwargs: Any) -> urllib3.HTTPResponse:
        if self._closed:
            raise StreamBroken("the pod source is closed")
        selectors: dict[str, Any] = {"label_selector": query.label_selector, "_preload_content": False}
        if query.field_selector:
            selectors["field_selector"] = query.field_selector
        with _translated():
            if query.namespace is None:
                response: Any = self._core.list_pod_for_all_namespaces(**selectors, **kwargs)
            else:
                response = self._core.list_namespaced_pod(query.namespace, **selectors, **kwargs)
        return cast(urllib3.HTTPResponse, response)


class ResponseStream:
    """A :class:`watcher.sources.WatchStream` over one open watch response."""

    def __init__(self, response: urllib3.HTTPResponse, stall_after: float) -> None:
        self._response = response
        self._stall_after = stall_after

    def __iter__(self) -> Iterator[WatchEvent]:
        return read_events(self._chunks(), stall_after=lambda: self._stall_after, clock=time.monotonic)

    def stall_after(self, seconds: float) -> None:
        self._stall_after = seconds
        sock = getattr(self._response.connection, "sock", None)
        if sock is not None:
            with suppress(OSError):  # closed under us: the next read says so
                sock.settimeout(seconds)

    def _chunks(self) -> Iterator[bytes]:
        try:
            yield from self._response.stream(amt=None, decode_content=False)
        except urllib3.exceptions.ReadTimeoutError as e:
            raise Stalled(f"watch stream stalled: no event or bookmark for {self._stall_after:g} s") from e
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise StreamBroken(f"watch stream broke: {e}") from e


@contextmanager
def _translated() -> Iterator[None]:
    """A call's failures as the boundary's errors: HTTP statuses by code, the connection as StreamBroken."""
    try:
        yield
    except ApiException as e:
        raise _classify(e) from e
    except urllib3.exceptions.HTTPError as e:
        raise StreamBroken(f"API server unreachable: {e}") from e


def _read(response: urllib3.HTTPResponse, parse: Callable[[bytes], T], what: str) -> T:
    """A list response's body, parsed; the connection goes back to the pool whatever happens."""
    try:
        return parse(response.data)
    except urllib3.exceptions.HTTPError as e:
        raise StreamBroken(f"{what} broke off: {e}") from e
    finally:
        response.release_conn()


def _pod_list(data: bytes) -> tuple[list[RawObject], str]:
    try:
        body = json.loads(data)
        items, version = body.get("items") or [], body["metadata"]["resourceVersion"]
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as e:
        raise StreamBroken(f"unreadable pod list: {str(e)[:200]}") from e
    if not isinstance(items, list) or not isinstance(version, str | int):
        raise StreamBroken(f"unreadable pod list: items {type(items).__name__}, version {version!r:.40}")
    return items, str(version)


def _node_list(data: bytes) -> tuple[list[str], str | None]:
    try:
        body = json.loads(data)
        items, token = body.get("items") or [], (body.get("metadata") or {}).get("continue")
        names = [item["metadata"]["name"] for item in items]
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as e:
        raise StreamBroken(f"unreadable node list: {str(e)[:200]}") from e
    if not all(isinstance(n, str) for n in names) or not isinstance(token, str | None):
        raise StreamBroken("unreadable node list: a name or the continue token is not a string")
    return names, token or None


def _shutdown(response: urllib3.HTTPResponse) -> None:
    sock = getattr(response.connection, "sock", None)
    if sock is not None:
        with suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _classify(e: ApiException) -> KubeError:
    status = int(e.status or 0)
    reason = _status_message(e.body) or e.reason or "no reason given"
    if status == 410:
        return Expired(f"410 Gone: {reason}")
    if status == 429:
        headers = e.headers or {}
        return TooManyRequests(f"429 Too Many Requests: {reason}", retry_after=_seconds(headers.get("Retry-After")))
    return ApiRejected(f"HTTP {status}: {reason}", status=status)


def _status_message(body: object) -> str | None:
    try:
        message = json.loads(body)["message"] if isinstance(body, str | bytes) else None
    except (ValueError, KeyError, TypeError, RecursionError):
        return None
    return str(message)[:200] if message else None


def _seconds(value: object) -> float:
    """Retry-After in seconds, bounded; an HTTP date or garbage counts as one second."""
    try:
        seconds = float(str(value))
    except ValueError:
        return 1.0
    return min(MAX_RETRY_AFTER_SECONDS, seconds) if seconds >= 0 else 1.0

