"""Raw pod list and watch calls over the official ``kubernetes`` client.

We use the client for what it is good at — configuration, authentication, TLS, the
HTTP pool — and call the generated API with ``_preload_content=False``: pods stay plain
JSON dicts (no model deserialisation per event), and the watch stream is read line by
line here instead of through ``kubernetes.watch.Watch``, which neither lists, relists
nor diffs, and which can end silently.

Errors (one tree for this boundary)::

    KubeError
    ├── Expired          410 Gone / "too old resource version": relist
    ├── TooManyRequests  429, with the server's Retry-After
    ├── ApiRejected      any other HTTP error status (4xx/5xx)
    └── StreamBroken     connection refused/reset, read timeout, stalled or garbled stream

Time: every request has a connect and a read timeout. For a watch the read timeout is
longer than the server's bookmark interval (about a minute), so silence means a dead
connection; the stream also gives up when bytes trickle in without a complete event for
``watchdog`` seconds.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, cast

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException


class KubeError(Exception):
    """Anything that went wrong talking to the API server."""


class Expired(KubeError):
    """The resourceVersion we asked for is gone from the server's history (410)."""


class TooManyRequests(KubeError):
    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ApiRejected(KubeError):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class StreamBroken(KubeError):
    """The connection failed, timed out or carried something that is not a watch event."""


@dataclass(frozen=True)
class PodQuery:
    namespace: str | None
    label_selector: str
    field_selector: str | None


@dataclass(frozen=True)
class Timeouts:
    connect: float = 10.0
    list_read: float = 60.0
    watch_read: float = 120.0
    watchdog: float = 180.0


WatchEvent = tuple[str, dict[str, Any]]


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
    def __init__(self, configuration: client.Configuration, *, timeouts: Timeouts = Timeouts()) -> None:
        self._core = client.CoreV1Api(client.ApiClient(configuration))
        self.timeouts = timeouts
        self._open: set[urllib3.HTTPResponse] = set()
        self._lock = threading.Lock()

    def close(self) -> None:
        """Interrupt every open watch (a blocked read wakes up with StreamBroken)."""
        with self._lock:
            responses = list(self._open)
        for response in responses:
            _shutdown(response)

    def list(self, query: PodQuery, *, resource_version: str) -> tuple[list[dict[str, Any]], str]:
        """List matching pods; returns the items and the list's resourceVersion."""
        response = self._call(query, resource_version=resource_version,
                              _request_timeout=(self.timeouts.connect, self.timeouts.list_read))
        try:
            body = json.loads(response.data)
            return list(body.get("items") or []), str(body["metadata"]["resourceVersion"])
        except (ValueError, KeyError, TypeError) as e:
            raise StreamBroken(f"unreadable pod list: {e}") from e
        finally:
            response.release_conn()

    @contextmanager
    def watch(self, query: PodQuery, *, resource_version: str, timeout_seconds: int) -> Iterator[Iterator[WatchEvent]]:
        """Open a watch from ``resource_version``; yields an iterator of (type, object)."""
        response = self._call(
            query, watch=True, resource_version=resource_version, allow_watch_bookmarks=True,
            timeout_seconds=timeout_seconds, _request_timeout=(self.timeouts.connect, self.timeouts.watch_read),
        )
        with self._lock:
            self._open.add(response)
        try:
            yield read_events(_chunks(response), watchdog=self.timeouts.watchdog, clock=time.monotonic)
        finally:
            with self._lock:
                self._open.discard(response)
            response.close()
            response.release_conn()

    def _call(self, query: PodQuery, **kwargs: Any) -> urllib3.HTTPResponse:
        selectors: dict[str, Any] = {"label_selector": query.label_selector, "_preload_content": False}
        if query.field_selector:
            selectors["field_selector"] = query.field_selector
        try:
            if query.namespace is None:
                response: Any = self._core.list_pod_for_all_namespaces(**selectors, **kwargs)
            else:
                response = self._core.list_namespaced_pod(query.namespace, **selectors, **kwargs)
            return cast(urllib3.HTTPResponse, response)
        except ApiException as e:
            raise _classify(e) from e
        except urllib3.exceptions.HTTPError as e:
            raise StreamBroken(f"API server unreachable: {e}") from e


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
    except (ValueError, KeyError, TypeError):
        return None
    return str(message) if message else None


def _seconds(value: object) -> float:
    try:
        return max(0.0, float(str(value)))
    except ValueError:
        return 1.0


def _chunks(response: urllib3.HTTPResponse) -> Iterator[bytes]:
    try:
        yield from response.stream(amt=None, decode_content=False)
    except urllib3.exceptions.HTTPError as e:
        raise StreamBroken(f"watch stream broke: {e}") from e
    except OSError as e:
        raise StreamBroken(f"watch stream broke: {e}") from e


def iter_lines(chunks: Iterable[bytes], *, watchdog: float, clock: Callable[[], float]) -> Iterator[bytes]:
    """Split byte chunks into lines; raise StreamBroken if no complete line for ``watchdog`` s."""
    pending = b""
    last_line = clock()
    for chunk in chunks:
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if line.strip():
                last_line = clock()
                yield line
        if clock() - last_line > watchdog:
            raise StreamBroken(f"watch stream stalled: no complete event for {watchdog:g} s")
    if pending.strip():
        yield pending


def parse_event(line: bytes) -> WatchEvent:
    """One watch line → (type, object); an ERROR event becomes the matching KubeError."""
    try:
        event = json.loads(line)
        kind, obj = event["type"], event["object"]
    except (ValueError, KeyError, TypeError) as e:
        raise StreamBroken(f"not a watch event: {line[:200]!r}") from e
    if not isinstance(kind, str) or not isinstance(obj, dict):
        raise StreamBroken(f"not a watch event: {line[:200]!r}")
    if kind == "ERROR":
        code, message = obj.get("code"), obj.get("message", "")
        if code == 410 or obj.get("reason") in {"Expired", "Gone"}:
            raise Expired(f"410 Gone: {message}")
        raise ApiRejected(f"watch error {code}: {message}", status=int(code or 0))
    return kind, obj


def read_events(chunks: Iterable[bytes], *, watchdog: float, clock: Callable[[], float]) -> Iterator[WatchEvent]:
    """Watch events from a chunk stream."""
    for line in iter_lines(chunks, watchdog=watchdog, clock=clock):
        yield parse_event(line)
