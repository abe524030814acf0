"""Request parsing: paths and query parameters into routes, refusals as Status errors."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest

from sim.pods import make_pod
from sim.routes import ApiError, RouteKind, route


def parse(target: str, method: str = "GET") -> tuple[RouteKind, object]:
    path, _, query = target.partition("?")
    r = route(method, path, parse_qs(query, keep_blank_values=True))
    return r.kind, r


@pytest.mark.parametrize(
    ("target", "kind"),
    [
        ("/version", RouteKind.DISCOVERY),
        ("/api", RouteKind.DISCOVERY),
        ("/api/", RouteKind.DISCOVERY),
        ("/api/v1", RouteKind.DISCOVERY),
        ("/apis", RouteKind.DISCOVERY),
        ("/api/v1/pods", RouteKind.LIST),
        ("/api/v1/pods?watch=false", RouteKind.LIST),
        ("/api/v1/pods?watch=true", RouteKind.WATCH),
        ("/api/v1/pods?watch=1", RouteKind.WATCH),
        ("/api/v1/pods?watch=True", RouteKind.WATCH),  # older Python clients send True
        ("/api/v1/namespaces/prod/pods", RouteKind.LIST),
        ("/api/v1/namespaces/prod/pods?watch=true", RouteKind.WATCH),
        ("/api/v1/namespaces/prod/pods/web-1", RouteKind.GET),
        ("/api/v1/namespaces/prod/pods/web-1?watch=true", RouteKind.WATCH),
    ],
)
def test_routes_by_path_and_watch_flag(target: str, kind: RouteKind) -> None:
    assert parse(target)[0] is kind


def test_query_parameters_are_parsed_into_the_pod_query() -> None:
    _, r = parse(
        "/api/v1/namespaces/prod/pods?watch=true&labelSelector=blinkt%3Dshow&fieldSelector=spec.nodeName%3Dn1"
        "&resourceVersion=1234&allowWatchBookmarks=true&timeoutSeconds=30&limit=500&continue=&resourceVersionMatch="
    )
    query = r.query  # type: ignore[attr-defined]
    assert query.resource_version == 1234
    assert query.allow_bookmarks is True
    assert query.timeout_seconds == 30
    assert query.selector.namespace == "prod"
    assert query.selector.matches(make_pod("a", "prod", node="n1", labels={"blinkt": "show"}))
    assert not query.selector.matches(make_pod("a", "prod", node="n2", labels={"blinkt": "show"}))


@pytest.mark.parametrize(("value", "expected"), [("", None), ("0", None), ("7", 7)])
def test_resource_version_zero_and_unset_mean_any(value: str, expected: int | None) -> None:
    _, r = parse(f"/api/v1/pods?resourceVersion={value}")
    assert r.query.resource_version == expected  # type: ignore[attr-defined]


def test_get_of_one_pod_selects_it_by_name() -> None:
    _, r = parse("/api/v1/namespaces/prod/pods/web-1?watch=true")
    assert r.query.selector.matches(make_pod("web-1", "prod"))  # type: ignore[attr-defined]
    assert not r.query.selector.matches(make_pod("web-2", "prod"))  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("target", "method", "code", "message"),
    [
        ("/api/v1/nodes", "GET", 404, "could not find the requested resource"),
        ("/apis/apps/v1/deployments", "GET", 404, "could not find"),
        ("/api/v1/namespaces/prod/pods/web-1/log", "GET", 404, "could not find"),
        ("/api/v1/pods", "POST", 405, "does not allow this method"),
        ("/api/v1/pods?labelSelector=app%20in", "GET", 400, "unable to parse requirement"),
        ("/api/v1/pods?fieldSelector=spec.foo%3Dbar", "GET", 400, "not a known field selector"),
        ("/api/v1/pods?watch=yes", "GET", 400, "watch: invalid boolean"),
        ("/api/v1/pods?allowWatchBookmarks=maybe", "GET", 400, "allowWatchBookmarks"),
        ("/api/v1/pods?resourceVersion=abc", "GET", 400, "resourceVersion: invalid value"),
        ("/api/v1/pods?resourceVersion=-1", "GET", 400, "resourceVersion"),
        ("/api/v1/pods?timeoutSeconds=1.5", "GET", 400, "timeoutSeconds"),
        ("/api/v1/pods?limit=x", "GET", 400, "limit"),
        ("/api/v1/pods?resourceVersionMatch=Newest", "GET", 400, "resourceVersionMatch"),
    ],
)
def test_refusals_carry_status_code_reason_and_message(target: str, method: str, code: int, message: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse(target, method)
    status = caught.value.status()
    assert (status["kind"], status["status"], status["code"]) == ("Status", "Failure", code)
    assert message in status["message"]
