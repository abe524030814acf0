"""Label and field selectors: Kubernetes syntax and semantics, table-driven."""

from __future__ import annotations

import pytest

from sim.pods import make_pod
from sim.selectors import PodSelector, SelectorError, parse_field_selector, parse_label_selector

LABELS = {"app": "web", "tier": "front", "blinkt": "show"}

LABEL_CASES = [
    ("", True),
    ("app=web", True),
    ("app==web", True),
    ("app = web", True),
    ("app=db", False),
    ("app!=db", True),
    ("app!=web", False),
    ("missing!=x", True),  # != also matches objects without the key
    ("app", True),
    ("missing", False),
    ("!missing", True),
    ("!app", False),
    ("app in (web,db)", True),
    ("app in ( db , web )", True),
    ("app in (db)", False),
    ("missing in (web)", False),
    ("app notin (db,cache)", True),
    ("app notin (web)", False),
    ("missing notin (web)", True),  # notin also matches objects without the key
    ("app=web,tier=front", True),
    ("app=web,tier=back", False),
    ("app in (web,db),blinkt=show,!missing", True),
    ("example.com/role=x", False),
    ("empty=", False),
]


@pytest.mark.parametrize(("text", "expected"), LABEL_CASES)
def test_label_selector_matches_like_kubernetes(text: str, expected: bool) -> None:
    assert parse_label_selector(text).matches(LABELS) is expected


def test_empty_label_value_matches_an_empty_label() -> None:
    assert parse_label_selector("empty=").matches({"empty": ""})
    assert parse_label_selector("a in (x,)").matches({"a": ""})


@pytest.mark.parametrize(
    "text",
    [
        "app=web=x",
        "app in web",
        "app in ()",
        "app in (web",
        "app)",
        "app in (a,(b))",
        "=web",
        "app=,",
        "app web",
        "-app=web",
        "app=" + "x" * 64,
        "a/b/c=d",
        "app=we b",
        "!",
        "app=web,,tier=front",
    ],
)
def test_invalid_label_selectors_are_refused(text: str) -> None:
    with pytest.raises(SelectorError):
        parse_label_selector(text)


POD = make_pod("web-1", "prod", node="node-1", phase="Running")
PENDING = make_pod("web-2", "prod", phase="Pending", ready=False)

FIELD_CASES = [
    ("", POD, True),
    ("spec.nodeName=node-1", POD, True),
    ("spec.nodeName==node-1", POD, True),
    ("spec.nodeName=node-2", POD, False),
    ("spec.nodeName!=node-2", POD, True),
    ("spec.nodeName=", PENDING, True),  # unscheduled pods have no node: compares as ""
    ("spec.nodeName=", POD, False),
    ("metadata.name=web-1", POD, True),
    ("metadata.namespace=prod,status.phase=Running", POD, True),
    ("metadata.namespace=prod,status.phase!=Running", POD, False),
    ("status.phase=Pending", PENDING, True),
    ("spec.restartPolicy=Always", POD, True),
]


@pytest.mark.parametrize(("text", "pod", "expected"), FIELD_CASES)
def test_field_selector_matches_pod_fields(text: str, pod: dict[str, object], expected: bool) -> None:
    assert parse_field_selector(text).matches(pod) is expected


def test_field_selector_values_unescape_commas_and_equals() -> None:
    selector = parse_field_selector(r"metadata.name=a\,b\=c\\d")
    assert selector.requirements[0].value == "a,b=c\\d"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("spec.foo=bar", "not a known field selector"),
        ("metadata.labels=x", "not a known field selector"),
        ("spec.nodeName", "invalid field selector term"),
        (r"metadata.name=a\x", "invalid escape"),
    ],
)
def test_invalid_field_selectors_are_refused(text: str, message: str) -> None:
    with pytest.raises(SelectorError, match=message):
        parse_field_selector(text)


def test_pod_selector_combines_namespace_labels_and_fields() -> None:
    pod = make_pod("web-1", "prod", node="node-1", labels={"blinkt": "show"})
    assert PodSelector.parse(namespace="prod", labels="blinkt=show", fields="spec.nodeName=node-1").matches(pod)
    assert not PodSelector.parse(namespace="default", labels="blinkt=show").matches(pod)
    assert not PodSelector.parse(labels="blinkt=hide").matches(pod)
    assert not PodSelector.parse(fields="spec.nodeName=node-2").matches(pod)
