import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bus.messages import (
    MAX_PAYLOAD_BYTES,
    MAX_SEQ,
    Action,
    BadMessage,
    NodeSnapshot,
    PodEntry,
    PodEvent,
    PodState,
    decode_event,
    decode_snapshot,
    normalize_color,
    utc_timestamp,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("#A81399", "a81399"),
        ("FFFF00", "ffff00"),
        ("#FFF", "ffffff"),
        ("0f0", "00ff00"),
        (" ff0000 ", "ff0000"),
        ("red", None),
        ("#12345", None),
        ("", None),
        (None, None),
        (123, None),
    ],
)
def test_normalize_color(raw: object, expected: str | None) -> None:
    assert normalize_color(raw) == expected


def test_seed_minimal_message_is_valid() -> None:
    event = decode_event(b'{"action":"add","pod":"x","color":"ff0000"}')
    assert event.action is Action.ADD
    assert (event.pod, event.color, event.seq, event.uid) == ("x", "ff0000", None, None)
    assert event.key == "x"


def test_full_event_round_trips_with_seed_keys_first() -> None:
    event = PodEvent(
        action=Action.UPDATE, pod="p", color="A81399", namespace="default", uid="u1",
        state=PodState.READY, node="node-1", seq=17, ts=utc_timestamp(0),
    )
    payload = event.to_payload()
    assert list(json.loads(payload))[:4] == ["v", "action", "pod", "color"]
    assert decode_event(payload) == event
    assert event.color == "a81399"


def test_identity_prefers_uid_then_namespace() -> None:
    assert PodEntry(pod="p", namespace="ns", uid="u").key == "u"
    assert PodEntry(pod="p", namespace="ns").key == "ns/p"
    assert PodEntry(pod="p").key == "p"


def test_unknown_fields_are_tolerated() -> None:
    event = decode_event(b'{"action":"remove","pod":"x","future":{"a":1}}')
    assert event.action is Action.REMOVE


def test_invalid_color_is_omitted_and_shown_blue() -> None:
    event = decode_event(b'{"action":"add","pod":"x","color":"banana"}')
    assert event.color is None
    assert event.shown_color == "0000ff"


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        (b"\xff\xfe", "not_utf8"),
        (b"not json", "not_json"),
        (b"[1,2]", "not_object"),
        (b'"add"', "not_object"),
        (b'{"action":"explode","pod":"x"}', "unknown_action"),
        (b'{"pod":"x"}', "unknown_action"),
        (b'{"v":2,"action":"add","pod":"x"}', "unknown_version"),
        (b'{"v":true,"action":"add","pod":"x"}', "unknown_version"),
        (b'{"action":"add"}', "invalid"),
        (b'{"action":"add","pod":""}', "invalid"),
        (b'{"action":"add","pod":42}', "invalid"),
        (b'{"action":"add","pod":"x","seq":"3"}', "invalid"),
        (b'{"action":"add","pod":"x","seq":-1}', "invalid"),
        (b'{"action":"add","pod":"x","state":"sleepy"}', "invalid"),
        (b'{"action":"add","pod":"x","uid":7}', "invalid"),
        (b"[" * 60_000, "too_deep"),
        (b'{"action":"add","pod":"x","extra":' + b"[" * 5_000 + b"]" * 5_000 + b"}", "too_deep"),
        (b'{"action":"add","pod":"x","seq":' + b"7" * 4_301 + b"}", "out_of_range"),
        (b'{"action":"add","pod":"x","color":' + b"7" * 9_000 + b"}", "out_of_range"),
        (b'{"action":"add","pod":"x","seq":' + str(MAX_SEQ + 1).encode() + b"}", "out_of_range"),
        (b'{"action":"add","pod":"x","seq":1' + b"0" * 30 + b"}", "out_of_range"),
    ],
)
def test_bad_events_are_rejected_with_a_kind(payload: bytes, kind: str) -> None:
    with pytest.raises(BadMessage) as info:
        decode_event(payload)
    assert info.value.kind == kind


def test_the_largest_seq_is_the_largest_integer_every_json_reader_holds_exactly() -> None:
    assert MAX_SEQ == 2**53 - 1
    assert decode_event(b'{"action":"add","pod":"x","seq":9007199254740991}').seq == MAX_SEQ
    assert decode_snapshot(b'{"node":"n","seq":9007199254740991}').seq == MAX_SEQ
    with pytest.raises(BadMessage) as info:
        decode_snapshot(b'{"node":"n","seq":9007199254740992}')
    assert info.value.kind == "out_of_range"


@pytest.mark.parametrize(
    "payload",
    [
        b'{"action":' + b"[" * 900 + b"]" * 900 + b',"pod":"x"}',
        b'{"v":' + b"[" * 900 + b"]" * 900 + b',"action":"add","pod":"x"}',
        b'{"action":"' + b"a" * 60_000 + b'","pod":"x"}',
        b'{"v":' + b"9" * 4_000 + b',"action":"add","pod":"x"}',
    ],
)
def test_details_quote_only_a_short_prefix_of_what_was_sent(payload: bytes) -> None:
    with pytest.raises(BadMessage) as info:
        decode_event(payload)
    assert len(info.value.detail) < 120


def test_oversized_payload_is_rejected_before_parsing() -> None:
    payload = b'{"action":"add","pod":"' + b"x" * MAX_PAYLOAD_BYTES + b'"}'
    with pytest.raises(BadMessage) as info:
        decode_event(payload)
    assert info.value.kind == "oversized"


def test_snapshot_round_trip() -> None:
    snap = NodeSnapshot(node="node-1", seq=3, pods=(PodEntry(pod="a", color="ffff00", state=PodState.READY),))
    assert decode_snapshot(snap.to_payload()) == snap


@pytest.mark.parametrize(
    "payload",
    [b"", b"{}", b'{"node":"n"}', b'{"node":"n","seq":1,"pods":"nope"}', b'{"node":"n","seq":1,"pods":[{}]}'],
)
def test_garbage_snapshots_are_rejected(payload: bytes) -> None:
    with pytest.raises(BadMessage):
        decode_snapshot(payload)


@given(st.binary(max_size=300))
def test_decoding_never_raises_anything_but_bad_message(payload: bytes) -> None:
    for decode in (decode_event, decode_snapshot):
        with contextlib.suppress(BadMessage):
            decode(payload)


@given(st.dictionaries(st.sampled_from(["v", "action", "pod", "color", "seq", "uid", "state", "x"]),
                       st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.lists(st.integers())))
def test_decoding_arbitrary_objects_never_raises_anything_but_bad_message(data: dict[str, object]) -> None:
    with contextlib.suppress(BadMessage):
        decode_event(json.dumps(data).encode())


@given(st.sampled_from(["action", "pod", "seq", "v", "pods", "epoch", "x"]), st.sampled_from(["[", '{"a":']),
       st.integers(1, 20_000), st.sampled_from([b"1", b"9" * 5_000, b'"s"']))
def test_nesting_and_long_numbers_anywhere_are_bad_messages(key: str, opener: str, depth: int, leaf: bytes) -> None:
    closer = "]" if opener == "[" else "}"
    nested = opener.encode() * depth + leaf + closer.encode() * depth
    for decode in (decode_event, decode_snapshot):
        for payload in (b'{"action":"add","pod":"x","node":"n","seq":1,"' + key.encode() + b'":' + nested + b"}",
                        nested):
            with contextlib.suppress(BadMessage):
                decode(payload)


def test_timestamp_format() -> None:
    assert utc_timestamp(1_800_000_000.1234) == "2027-01-15T08:00:00.123Z"


def test_epoch_is_optional_and_follows_seq_on_the_wire() -> None:
    event = PodEvent(action=Action.ADD, pod="p", seq=3, epoch="e1", ts=utc_timestamp(0))
    snap = NodeSnapshot(node="n", seq=3, epoch="e1", ts=utc_timestamp(0))
    assert list(json.loads(event.to_payload())) == ["v", "action", "pod", "seq", "epoch", "ts"]
    assert list(json.loads(snap.to_payload()))[:5] == ["v", "node", "seq", "epoch", "ts"]
    assert decode_event(event.to_payload()).epoch == "e1"
    assert decode_snapshot(snap.to_payload()).epoch == "e1"
    assert decode_event(b'{"action":"add","pod":"x"}').epoch is None
    with pytest.raises(BadMessage):
        decode_event(b'{"action":"add","pod":"x","epoch":""}')
