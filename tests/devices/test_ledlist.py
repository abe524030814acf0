"""The ESP32's ``ledlist.py`` under CPython: tables per rule, and a differential check
against the agent's own core (``bus.ordering`` + ``led_agent.rendering``), so a
strip on a microcontroller shows what a Blinkt! on a Pi shows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bus.messages import BadMessage, decode_event, decode_snapshot
from bus.ordering import NodeList
from led_agent.rendering import Scene, render
from tests.devices.micropython import ESP32_DIR, cross_compile, load_ledlist

ll = load_ledlist()
LEDS = 4
RED, DARK, WHITE, BLUE = (255, 0, 0), (0, 0, 0), (255, 255, 255), (0, 0, 255)


def pod(name: str, color: str | None = None, state: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"pod": name, "namespace": "default", "uid": f"uid-{name}"}
    if color is not None:
        data["color"] = color
    if state is not None:
        data["state"] = state
    return data


def ev(action: str, name: str, seq: int | None = None, *, epoch: str | None = None,
       color: str | None = None, state: str | None = None) -> bytes:
    data = {"action": action, **pod(name, color, state), "node": "n1"}
    data |= {k: v for k, v in (("seq", seq), ("epoch", epoch)) if v is not None}
    return json.dumps(data).encode()


def snap(seq: int, *pods: dict[str, Any] | str, epoch: str | None = None) -> bytes:
    listed = [p if isinstance(p, dict) else pod(p) for p in pods]
    return json.dumps({"v": 1, "node": "n1", "seq": seq, "epoch": epoch, "pods": listed}).encode()


def view(seq: int | None = None, *pods: dict[str, Any] | str) -> Any:
    v = ll.NodeView("n1", LEDS)
    if seq is not None:
        v.handle("state", snap(seq, *pods), 0)
    return v


def shown(v: Any) -> list[str]:
    return [p[0].removeprefix("uid-") for p in v.pods]


# -- the subscriber algorithm -------------------------------------------------------------


@pytest.mark.parametrize(
    ("seq", "resync", "names", "last"),
    [(6, False, ["a", "b", "c"], 6), (5, False, ["a", "b"], 5), (2, False, ["a", "b"], 5),
     (9, True, ["a", "b", "c"], 9), (None, False, ["a", "b", "c"], 5)],
)
def test_event_sequence_rules(seq: int | None, resync: bool, names: list[str], last: int) -> None:
    v = view(5, "a", "b")
    assert v.handle("pods", ev("add", "c", seq), 100) is resync
    assert (shown(v), v.last) == (names, last)


@pytest.mark.parametrize(("seq", "taken"), [(4, False), (5, True), (6, True)])
def test_snapshots_older_than_last_are_ignored(seq: int, taken: bool) -> None:
    v = view(5, "a")
    v.handle("state", snap(seq, "z"), 100)
    assert shown(v) == (["z"] if taken else ["a"])


def test_applying_is_idempotent_and_keeps_places() -> None:
    v = view(1, "a", "b", "c")
    v.handle("pods", ev("add", "b", 2, color="#F00"), 100)  # add of a known pod: update in place
    v.handle("pods", ev("update", "z", 3), 100)  # update of an unknown pod: append
    v.handle("pods", ev("remove", "nope", 4), 100)  # remove of an unknown pod: nothing
    assert shown(v) == ["a", "b", "c", "z"]
    assert v.pods[1][1] == 0xFF0000 and v.last == 4


def test_the_seed_minimal_event_is_enough() -> None:
    v = view()
    v.handle("pods", b'{"action":"add","pod":"x","color":"ff0000"}', 0)
    v.handle("pods", b'{"action":"add","pod":"y"}', 0)
    assert v.keys() == ["x", "y"] and v.frame(0) == [RED, BLUE, DARK, DARK]


def test_queued_events_before_the_first_snapshot_are_replayed_on_it() -> None:
    v = view()
    v.handle("pods", ev("add", "c", 11), 0)
    v.handle("pods", ev("remove", "a", 12), 0)
    v.handle("state", snap(10, "a", "b"), 0)  # older than the events, still the first: taken
    assert (shown(v), v.last, v.synced) == (["b", "c"], 12, True)


def test_a_new_epoch_forgets_last_for_events_and_snapshots() -> None:
    v = ll.NodeView("n1", LEDS)
    v.handle("state", snap(50, "a", epoch="old"), 0)
    v.handle("pods", ev("add", "b", 3, epoch="new"), 0)  # lower seq, new incarnation: the next one
    assert (shown(v), v.last, v.epoch) == (["a", "b"], 3, "new")
    v.handle("state", snap(1, "c", epoch="newer"), 0)
    assert (shown(v), v.last) == (["c"], 1)


@pytest.mark.parametrize(
    ("kind", "payload", "bad"),
    [
        ("pods", b"\xff\xfe", "not_utf8"),
        ("pods", b"{nope", "not_json"),
        ("pods", b"[1, 2]", "not_object"),
        ("pods", b'{"v":2,"action":"add","pod":"x"}', "unknown_version"),
        ("pods", b'{"v":true,"action":"add","pod":"x"}', "unknown_version"),
        ("pods", b'{"action":"explode","pod":"x"}', "unknown_action"),
        ("pods", b'{"action":["add"],"pod":"x"}', "unknown_action"),
        ("pods", b'{"action":"add","pod":""}', "invalid"),
        ("pods", b'{"action":"add","pod":"x","seq":-1}', "invalid"),
        ("pods", b'{"action":"add","pod":"x","seq":true}', "invalid"),
        ("pods", b'{"action":"add","pod":"x","state":"sleepy"}', "invalid"),
        ("pods", b'{"action":"add","pod":"x","uid":7}', "invalid"),
        ("pods", b'{"action":"add","pod":"x","node":"n2"}', "wrong_node"),
        ("pods", b'{"action":"add","pod":"' + b"x" * 70000 + b'"}', "oversized"),
        ("state", b'{"node":"n1","pods":[]}', "invalid"),
        ("state", b'{"node":"n1","seq":9,"pods":{"pod":"x"}}', "invalid"),
        ("state", b'{"node":"n1","seq":9,"pods":["x"]}', "invalid"),
        ("state", b'{"node":"n2","seq":9,"pods":[]}', "wrong_node"),
    ],
)
def test_bad_input_is_counted_by_kind_and_changes_nothing(kind: str, payload: bytes, bad: str) -> None:
    v = view(5, "a", "b")
    before = (list(v.pods), v.last, v.frame(1000))
    assert v.handle(kind, payload, 1000) is False
    assert v.bad == {bad: 1}
    assert (list(v.pods), v.last, v.frame(1000)) == before


@pytest.mark.parametrize(
    ("payload", "kind"),
    [(b"{nope", "not_json"), (b"[1]", "not_object"), (b'{"v":2,"action":"add","pod":"x"}', "unknown_version"),
     (b'{"action":"explode","pod":"x"}', "unknown_action"), (b'{"action":"add","pod":""}', "invalid"),
     (b'{"action":"add","pod":"x","seq":true}', "invalid")],
)
def test_bad_input_kinds_match_the_agents(payload: bytes, kind: str) -> None:
    """The same labels as bus.messages, so counters read the same on every device."""
    with pytest.raises(BadMessage) as theirs:
        decode_event(payload)
    with pytest.raises(ll.BadInput) as mine:
        ll.parse_event(payload)
    assert mine.value.kind == theirs.value.kind == kind


def test_an_empty_state_payload_keeps_what_is_shown() -> None:
    v = view(5, "a")
    v.handle("state", b"", 0)
    assert shown(v) == ["a"] and v.bad == {}


@pytest.mark.parametrize(("raw", "color"), [("#A81399", "a81399"), ("#FFF", "ffffff"), ("ffff00", "ffff00"),
                                            ("red", None), ("12345", None), (123, None), ("#12345g", None)])
def test_colors_are_normalised_and_invalid_ones_fall_back_to_blue(raw: object, color: str | None) -> None:
    assert ll.normalize_color(raw) == color


# -- frames ------------------------------------------------------------------------------


def test_removal_flashes_red_three_times_then_the_gap_closes() -> None:
    v = view(1, "a", "b", "c")
    v.handle("pods", ev("remove", "b", 2), 1000)
    assert [v.frame(1000 + t)[1] for t in (0, 160, 310, 460, 610, 760)] == [RED, DARK] * 3
    assert v.animated(1899)
    assert v.frame(1900) == [BLUE, BLUE, DARK, DARK] and not v.animated(1900)


@pytest.mark.parametrize(
    ("state", "at", "color"),
    [("pending", 0, (0, 0, 64)), ("ready", 0, BLUE), (None, 0, BLUE), ("terminating", 100, BLUE),
     ("terminating", 300, DARK), ("unready", 0, (0, 0, 64)), ("unready", 1000, BLUE)],
)
def test_states(state: str | None, at: int, color: tuple[int, int, int]) -> None:
    v = view(1, pod("a", state=state))
    assert v.frame(at)[0] == color


def test_overflow_alternates_the_last_led_with_white() -> None:
    v = view(1, *"abcdef")
    assert v.frame(100) == [BLUE] * 4
    assert v.frame(600) == [BLUE, BLUE, BLUE, WHITE]
    assert v.animated(0)


# -- the same as the agent --------------------------------------------------------------

names = st.sampled_from("abcdef")
events = st.builds(
    lambda action, name, seq, epoch, color, state: ("pods", ev(action, name, seq, epoch=epoch, color=color,
                                                               state=state)),
    st.sampled_from(["add", "update", "remove"]), names, st.none() | st.integers(0, 12),
    st.sampled_from([None, "e1", "e2"]), st.sampled_from([None, "ff0000", "00ff00"]),
    st.sampled_from([None, "pending", "ready", "unready", "terminating"]),
)
snapshots = st.builds(lambda seq, pods, epoch: ("state", snap(seq, *pods, epoch=epoch)),
                      st.integers(0, 12), st.lists(names, max_size=6), st.sampled_from([None, "e1", "e2"]))


@given(st.lists(st.tuples(st.one_of(events, snapshots), st.integers(0, 400)), max_size=25),
       st.lists(st.integers(0, 3000), min_size=1, max_size=5))
def test_lists_and_frames_match_the_agent(messages: list[tuple[tuple[str, bytes], int]], probes: list[int]) -> None:
    """Half-millisecond probe times keep both clear of phase boundaries (ms vs float seconds)."""
    mine, theirs, scene, now = ll.NodeView("n1", LEDS), NodeList(), Scene(), 0
    for (kind, payload), pause in messages:
        now += pause
        resync = mine.handle(kind, payload, now)
        if kind == "pods":
            outcome = theirs.apply_event(decode_event(payload))
            assert resync is outcome.resync
        else:
            outcome = theirs.apply_snapshot(decode_snapshot(payload))
        if outcome.changes:
            scene.apply(outcome.changes, live_count=len(theirs.entries), now=now / 1000)
        assert (mine.keys(), mine.last, mine.epoch) == (theirs.keys(), theirs.last, theirs.epoch)
    for probe in sorted(probes):
        at = now + probe + 0.5
        expected = render(theirs.entries, scene, leds=LEDS, now=at / 1000)
        assert mine.frame(at) == [ll.rgb(c) for c in expected]


# -- MicroPython can compile it -----------------------------------------------------------


@pytest.mark.parametrize("name", ["ledlist.py", "main.py", "config.example.py"])
def test_micropython_compiles_the_sources(name: str, tmp_path: Path) -> None:
    done = cross_compile(ESP32_DIR / name, tmp_path / "out.mpy")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out.mpy").read_bytes()[:1] == b"M"  # the .mpy magic


def test_micropython_rejects_what_it_cannot_run(tmp_path: Path) -> None:
    """The compile check is not a formality: syntax beyond MicroPython fails it."""
    source = tmp_path / "generic_function.py"
    source.write_text("def f[T](x: T) -> T:\n    return x\n")
    assert cross_compile(source, tmp_path / "out.mpy").returncode != 0


# -- status, limits, memory ---------------------------------------------------------------


@pytest.mark.parametrize(("payloads", "stale", "bad"), [
    ([b"offline"], True, {}), ([b"degraded"], True, {}), ([b"offline", b"online"], False, {}),
    ([b"degraded", b""], False, {}), ([b"offline", b"sleepy"], True, {"bad_status": 1}),
])  # fmt: skip
def test_a_watcher_offline_or_degraded_makes_the_node_stale(payloads: list[bytes], stale: bool,
                                                            bad: dict[str, int]) -> None:  # fmt: skip
    v = view(1, pod("a", "ffff00"))
    for payload in payloads:
        v.handle("status", payload, 0)
    assert (v.stale, v.bad) == (stale, bad)
    levels = {v.frame(t)[0] for t in (0, 700, 1300, 2000)}
    assert levels == ({(26, 26, 0), (51, 51, 0), (77, 77, 0), (102, 102, 0)} if stale else {(255, 255, 0)})
    assert v.animated(0) is stale


def test_pods_beyond_the_limit_are_counted_and_shown_as_overflow() -> None:
    v = ll.NodeView("n1", LEDS, 5)
    v.handle("state", snap(1, *"abcdefgh"), 0)
    assert (shown(v), v.untracked) == (list("abcde"), 3)
    v.handle("pods", ev("add", "z", 2), 0)  # still full: counted, not tracked
    v.handle("pods", ev("remove", "g", 3), 0)  # one of those beyond: uncounted
    assert (len(v.pods), v.untracked) == (5, 3)
    assert v.frame(600)[-1] == WHITE and v.animated(0)


def test_a_message_that_does_not_fit_in_memory_is_dropped_and_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    v = view(1, "a")

    def no_memory(_payload: bytes) -> tuple[object, ...]:
        raise MemoryError  # as json.loads does on a board whose heap cannot hold the decoded snapshot

    monkeypatch.setattr(ll, "parse_snapshot", no_memory)
    assert v.handle("state", snap(2, "a", "b"), 0) is False
    assert (shown(v), v.bad) == (["a"], {"no_memory": 1})
