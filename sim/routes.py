"""HTTP requests to the simulated API server, parsed into typed routes; errors as Status.

Pure: a path and its query parameters in, a ``Route`` out, or an ``ApiError`` that the
server sends as a ``Status`` object with its HTTP code — never a Python traceback.
Streaming lives in ``sim.watching``, sockets in ``sim.apiserver``.

Routes (GET only; anything else is 405, unknown paths 404)::

    /version  /api  /api/v1  /apis                      discovery (kubectl needs it)
    /api/v1/pods                                        list or watch, all namespaces
    /api/v1/namespaces/{ns}/pods                        list or watch, one namespace
    /api/v1/namespaces/{ns}/pods/{name}                 get (or watch that one pod)

Query parameters as the real server reads them: booleans as Go's ``strconv.ParseBool``
(the official Python client sends ``true``, older ones ``True``), ``resourceVersion``
an unsigned integer, ``""`` and ``"0"`` meaning "any" (for a watch: start with
synthetic ADDED events for the current state). ``limit`` and ``continue`` are
accepted and ignored: lists are always complete, which the API allows. Unknown
parameters are ignored, as there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from sim.pods import JsonDict
from sim.selectors import EVERYTHING, FieldRequirement, FieldSelector, PodSelector, SelectorError

_TRUE = {"1", "t", "T", "true", "TRUE", "True"}
_FALSE = {"0", "f", "F", "false", "FALSE", "False"}
_RV_MATCHES = {"", "NotOlderThan", "Exact"}
_NAMESPACED = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/pods(?:/(?P<name>[^/]+))?$")


# metav1.StatusReason for the codes the server answers with.
STATUS_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    410: "Expired",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


class ApiError(Exception):
    """An error answer: HTTP ``code`` with a Status body (``reason`` as Kubernetes names it)."""

    def __init__(self, code: int, reason: str, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.retry_after = retry_after

    def status(self) -> JsonDict:
        return status_body(self.code, self.reason, self.message)


def status_body(code: int, reason: str, message: str) -> JsonDict:
    """A ``metav1.Status`` failure, as the API server sends for errors and in ERROR watch events."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


class RouteKind(StrEnum):
    DISCOVERY = "discovery"
    LIST = "list"
    WATCH = "watch"
    GET = "get"


@dataclass(frozen=True)
class PodQuery:
    """What a pod list or watch asks for, validated."""

    selector: PodSelector = EVERYTHING
    resource_version: int | None = None  # None: unset or "0", i.e. "any version"
    allow_bookmarks: bool = False
    send_initial_events: bool = False
    timeout_seconds: int | None = None


@dataclass(frozen=True)
class Route:
    kind: RouteKind
    path: str
    query: PodQuery = field(default_factory=PodQuery)
    name: str | None = None  # GET of one pod


def route(method: str, path: str, params: Mapping[str, Sequence[str]]) -> Route:
    """Parse one request; raise ApiError (404, 405, 400) for what the API would refuse."""
    path = path.rstrip("/") or "/"
    if method != "GET":
        message = f"the server does not allow this method on the requested resource: {method}"
        raise ApiError(405, "MethodNotAllowed", message)
    if path in ("/version", "/api", "/api/v1", "/apis"):
        return Route(RouteKind.DISCOVERY, path)
    if path == "/api/v1/pods":
        return _pods_route(path, None, None, params)
    if m := _NAMESPACED.match(path):
        return _pods_route(path, m["ns"], m["name"], params)
    raise ApiError(404, "NotFound", f"the server could not find the requested resource (get {path})")


def _pods_route(path: str, namespace: str | None, name: str | None, params: Mapping[str, Sequence[str]]) -> Route:
    query = parse_pod_query(params, namespace=namespace, name=name)
    if _flag(params, "watch"):
        return Route(RouteKind.WATCH, path, query)
    if name is not None:
        return Route(RouteKind.GET, path, query, name)
    return Route(RouteKind.LIST, path, query)


def parse_pod_query(params: Mapping[str, Sequence[str]], *, namespace: str | None, name: str | None) -> PodQuery:
    try:
        selector = PodSelector.parse(
            namespace=namespace, labels=_param(params, "labelSelector"), fields=_param(params, "fieldSelector")
        )
    except SelectorError as e:
        raise bad_request(str(e)) from e
    if name is not None:
        fields = FieldSelector((*selector.fields.requirements, FieldRequirement("metadata.name", name)))
        selector = PodSelector(selector.namespace, selector.labels, fields)
    _unsigned(params, "limit")
    if _param(params, "resourceVersionMatch") not in _RV_MATCHES:
        raise bad_request(f"resourceVersionMatch: Unsupported value: {_param(params, 'resourceVersionMatch')!r}")
    return PodQuery(
        selector=selector,
        resource_version=_unsigned(params, "resourceVersion") or None,
        allow_bookmarks=_flag(params, "allowWatchBookmarks"),
        send_initial_events=_flag(params, "sendInitialEvents"),
        timeout_seconds=_unsigned(params, "timeoutSeconds"),
    )


def _param(params: Mapping[str, Sequence[str]], name: str) -> str:
    values = params.get(name) or [""]
    return values[0]


def _flag(params: Mapping[str, Sequence[str]], name: str) -> bool:
    value = _param(params, name)
    if value in _TRUE:
        return True
    if value in _FALSE or value == "":
        return False
    raise bad_request(f"{name}: invalid boolean {value!r}")


def _unsigned(params: Mapping[str, Sequence[str]], name: str) -> int | None:
    value = _param(params, name)
    if value == "":
        return None
    if not value.isdigit() or not value.isascii():
        raise bad_request(f"{name}: invalid value {value!r}: expected a non-negative integer")
    return int(value)
