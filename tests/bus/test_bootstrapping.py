"""Exact-topic bootstrap for a subscriber of every node: made only where wildcards bring no retained messages."""

from __future__ import annotations

from bus.bootstrapping import Change, RetainedBootstrap
from bus.topics import Topics

T = Topics("p/")
A, B, C = "a.example", "b", "c"


def exact(*nodes: str) -> list[str]:
    return [t for n in nodes for t in (T.state(n), T.status(n))]


def test_given_nodes_are_subscribed_exactly_from_the_start() -> None:
    boot = RetainedBootstrap(T, nodes=[A])
    assert boot.initial() == exact(A) and boot.holds(A) and not boot.holds(B)


def test_where_wildcards_bring_nothing_retained_every_new_node_gets_exact_subscriptions_once() -> None:
    boot = RetainedBootstrap(T, nodes=[A])
    assert boot.on_message(T.pods(B), retained=False) == Change(subscribe=exact(B))
    assert boot.on_message(T.state(B), retained=False) == Change()  # known now
    assert boot.on_message(T.state(A), retained=True) == Change()  # by its exact subscription: says nothing
    assert boot.wildcards_retain is None and boot.holds(B)


def test_a_retained_message_by_wildcard_drops_them_all_and_stops_making_them() -> None:
    boot = RetainedBootstrap(T, nodes=[A])
    boot.on_message(T.pods(B), retained=False)
    assert boot.on_message(T.state(C), retained=True) == Change(unsubscribe=exact(A, B))
    assert boot.wildcards_retain and not boot.holds(A)
    assert boot.on_message(T.pods("d"), retained=False) == Change()


def test_other_topics_are_ignored() -> None:
    boot = RetainedBootstrap(T)
    assert boot.on_message("p/agents/x/status", retained=True) == Change()
    assert boot.wildcards_retain is None
