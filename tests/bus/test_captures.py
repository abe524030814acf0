"""The capture file format: round trips, mosquitto_sub text, and bad lines with their numbers."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bus.captures import (
    Capture,
    CapturedMessage,
    CaptureError,
    CaptureWriter,
    format_message,
    load_capture,
    parse_capture,
    write_capture,
)

topics = st.text(st.characters(blacklist_characters="+#\0", blacklist_categories=["Cs"]), min_size=1, max_size=40)
messages = st.builds(
    CapturedMessage,
    offset=st.floats(min_value=0, max_value=1e6, allow_nan=False),
    topic=topics,
    payload=st.one_of(st.binary(max_size=64), st.text(max_size=64).map(lambda t: t.encode("utf-8", "surrogatepass"))),
    retain=st.booleans(),
    qos=st.sampled_from([0, 1, 2]),
)


def _rounded(message: CapturedMessage) -> CapturedMessage:
    return CapturedMessage(round(message.offset, 6), message.topic, message.payload, message.retain, message.qos)


@given(st.lists(messages, max_size=8).map(lambda ms: sorted(ms, key=lambda m: round(m.offset, 6))))
def test_messages_round_trip_byte_for_byte(batch: list[CapturedMessage]) -> None:
    stream = io.StringIO()
    writer = CaptureWriter(stream, started="2026-11-26T21:00:00.000Z", topics=["nodes/#", "agents/+/status"])
    for message in batch:
        writer.write(message)

    capture = parse_capture(stream.getvalue().encode("utf-8"))

    assert capture.messages == tuple(_rounded(m) for m in batch)
    assert capture.format == "jsonl"
    assert capture.started == "2026-11-26T21:00:00.000Z"
    assert capture.topics == ("nodes/#", "agents/+/status")
    assert writer.count == len(batch)


def test_text_payloads_are_readable_and_binary_ones_are_base64() -> None:
    text = json.loads(format_message(CapturedMessage(1.5, "nodes/n1/pods", '{"pod":"é x"}'.encode())))
    binary = json.loads(format_message(CapturedMessage(2.0, "nodes/n1/pods", b"\xff\x00", retain=True, qos=0)))

    assert text == {"offset": 1.5, "topic": "nodes/n1/pods", "payload": '{"pod":"é x"}', "retain": False, "qos": 1}
    assert binary == {"offset": 2.0, "topic": "nodes/n1/pods", "payload_b64": "/wA=", "retain": True, "qos": 0}


def test_payload_with_line_separators_stays_on_one_line(tmp_path: Path) -> None:
    tricky = "a\nb\rc\u2028d\x85e".encode()
    path = tmp_path / "c.jsonl"
    write_capture(path, [CapturedMessage(0, "t", tricky), CapturedMessage(1, "t", b"")])

    assert len(path.read_bytes().split(b"\n")) == 3  # two lines and the final newline
    assert [m.payload for m in load_capture(path).messages] == [tricky, b""]


def test_a_file_without_header_and_with_defaults_and_blank_lines_is_read() -> None:
    data = b'\n{"offset": 0, "topic": "a/b", "payload": "x"}\n\n{"offset": 2, "topic": "a/c", "payload_b64": ""}\n'

    capture = parse_capture(data)

    assert capture == Capture(
        (CapturedMessage(0.0, "a/b", b"x", retain=False, qos=1), CapturedMessage(2.0, "a/c", b"", False, 1)),
        format="jsonl",
    )


def test_unknown_keys_are_tolerated() -> None:
    data = b'{"capture": "shinealight", "v": 1, "future": true}\n{"offset": 1, "topic": "a", "payload": "", "x": 1}\n'

    assert parse_capture(data).messages == (CapturedMessage(1.0, "a", b""),)


# -- mosquitto_sub -v text -------------------------------------------------------------


def test_mosquitto_sub_text_splits_at_the_first_space_and_spaces_messages_by_interval() -> None:
    data = (
        b'nodes/n1/state {"v":1, "node":"n1", "seq":1}\n'
        b"nodes/n1/pods  two  spaces \n"
        b"nodes/n2/state\n"
        b"nodes/n3/status (null)\n"
        b"agents/a1/frame \xff\xfe\n"
    )

    capture = parse_capture(data, interval=0.5)

    assert capture.format == "mosquitto_sub"
    assert capture.messages == (
        CapturedMessage(0.0, "nodes/n1/state", b'{"v":1, "node":"n1", "seq":1}', retain=True, qos=1),
        CapturedMessage(0.5, "nodes/n1/pods", b" two  spaces ", retain=False, qos=1),
        CapturedMessage(1.0, "nodes/n2/state", b"", retain=True, qos=1),
        CapturedMessage(1.5, "nodes/n3/status", b"", retain=True, qos=1),
        CapturedMessage(2.0, "agents/a1/frame", b"\xff\xfe", retain=True, qos=0),
    )


def test_mosquitto_sub_text_tolerates_crlf_and_blank_lines() -> None:
    capture = parse_capture(b"a/b hello world\r\n\r\nc/d x\r\n", interval=1)

    assert [(m.offset, m.topic, m.payload) for m in capture.messages] == [(0, "a/b", b"hello world"), (1, "c/d", b"x")]


def test_an_empty_file_is_an_empty_capture(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"\n")

    assert load_capture(path).messages == ()


# -- bad input -------------------------------------------------------------------------

GOOD = b'{"offset": 0, "topic": "a", "payload": "x"}\n'


@pytest.mark.parametrize(
    ("bad_line", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "expected a JSON object, got list"),
        (b'{"offset": 1, "payload": "x"}', "missing 'topic'"),
        (b'{"topic": "a", "payload": "x"}', "missing 'offset'"),
        (b'{"offset": -1, "topic": "a", "payload": "x"}', "'offset' must be a number >= 0"),
        (b'{"offset": "1", "topic": "a", "payload": "x"}', "'offset' must be a number >= 0"),
        (b'{"offset": NaN, "topic": "a", "payload": "x"}', "'offset' must be a number >= 0"),
        (b'{"offset": 1, "topic": "a/#", "payload": "x"}', "wildcard"),
        (b'{"offset": 1, "topic": "", "payload": "x"}', "empty topic"),
        (b'{"offset": 1, "topic": 5, "payload": "x"}', "'topic' must be a str"),
        (b'{"offset": 1, "topic": "a"}', "exactly one of 'payload' and 'payload_b64'"),
        (b'{"offset": 1, "topic": "a", "payload": "x", "payload_b64": ""}', "exactly one of"),
        (b'{"offset": 1, "topic": "a", "payload_b64": "***"}', "'payload_b64' is not base64"),
        (b'{"offset": 1, "topic": "a", "payload": "\\ud800"}', "not valid Unicode"),
        (b'{"offset": 1, "topic": "a", "payload": "x", "retain": 1}', "'retain' must be a bool"),
        (b'{"offset": 1, "topic": "a", "payload": "x", "qos": 3}', "'qos' must be 0, 1 or 2"),
        (b'{"offset": 1, "topic": "a", "payload": "x", "qos": true}', "'qos' must be 0, 1 or 2"),
        (b'{"offset": 0.5, "topic": "a", "payload": "x"}', "offset 0.5 is before the previous 1.0"),
        (b'{"capture": "shinealight", "v": 1}', "header is only allowed on the first line"),
        (b'{"offset": 1, "topic": "a", "payload": "\xff"}', "not UTF-8"),
    ],
)
def test_a_bad_line_is_reported_with_its_number(bad_line: bytes, reason: str) -> None:
    data = b'{"capture": "shinealight", "v": 1}\n' + GOOD.replace(b'"offset": 0', b'"offset": 1') + b"\n" + bad_line

    with pytest.raises(CaptureError, match=f"^line 4: .*{reason}") as raised:
        parse_capture(data + b"\n" + GOOD)

    assert raised.value.line == 4


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (b'{"capture": "shinealight", "v": 2}', "unsupported capture version 2"),
        (b'{"capture": "other", "v": 1}', "unknown capture kind 'other'"),
        (b'{"capture": "shinealight", "v": 1, "topics": "nodes/#"}', "'topics' must be a list of strings"),
        (b'{"capture": "shinealight", "v": 1, "started": 5}', "'started' must be a string"),
    ],
)
def test_a_bad_header_is_rejected(header: bytes, reason: str) -> None:
    with pytest.raises(CaptureError, match=f"^line 1: (header )?{reason}"):
        parse_capture(header + b"\n" + GOOD)


@pytest.mark.parametrize(
    ("line", "reason"),
    [(b"nodes/+/pods x", "wildcard"), (b"\xff/t x", "can't decode"), (b"a/#", "wildcard")],
)
def test_a_bad_mosquitto_sub_line_is_reported_with_its_number(line: bytes, reason: str) -> None:
    with pytest.raises(CaptureError, match=f"^line 3: bad topic: .*{reason}"):
        parse_capture(b"a/b x\n\n" + line + b"\nc/d y\n")


def test_a_broken_first_json_line_is_not_mistaken_for_text() -> None:
    with pytest.raises(CaptureError, match=r"^line 1: not JSON"):
        parse_capture(b'{"offset": 0, "topic": "a", "payload": "x"\n' + GOOD)
