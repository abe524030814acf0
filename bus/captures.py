"""Capture files: what ``python -m bus record`` writes and ``python -m bus replay`` reads.

Two formats are read; the first non-blank line decides which (a line starting with
``{`` means JSON lines — no sensible MQTT topic starts with ``{``).

**JSON lines** (``.jsonl``, written by ``python -m bus record``), UTF-8, one object per
line. An optional header comes first::

    {"capture": "shinealight", "v": 1, "started": "2026-11-26T21:00:00.123Z", "topics": ["nodes/#"]}
    {"offset": 0.004, "topic": "nodes/node-1/state", "payload": "{\\"v\\":1,...}", "retain": true, "qos": 1}
    {"offset": 2.51, "topic": "nodes/node-1/pods", "payload_b64": "/wA=", "retain": false, "qos": 1}

| key | type | meaning |
|---|---|---|
| ``offset`` | number ≥ 0 | seconds since the recording started; never decreasing down the file |
| ``topic`` | string | the topic name as received (no wildcards) |
| ``payload`` | string | the payload, when it is valid UTF-8 |
| ``payload_b64`` | string | the payload in base64, when it is not valid UTF-8 (exactly one of the two) |
| ``retain`` | bool | the broker delivered it retained (default ``false``) |
| ``qos`` | 0, 1, 2 | the QoS it arrived with (default ``1``) |

Payloads round-trip byte for byte: valid UTF-8 is stored as text (readable, greppable),
anything else as base64. Messages the broker delivered at subscribe time are the
retained state of the moment recording started; they come first, with ``retain: true``.
The recorder subscribes with MQTT 5 *retain-as-published*, so snapshots published
retained during the recording are marked ``retain: true`` as well (with MQTT 3.1.1 only
the ones delivered at subscribe time are). The header is optional, later versions
may add keys (readers ignore unknown keys), and a header with another ``v`` is rejected.
Blank lines are skipped.

**mosquitto_sub text** (``mosquitto_sub -v -t 'nodes/#' > capture.txt``): ``topic payload``
per line, split at the first space, so the payload may contain spaces. A line without
a space, or with the payload ``(null)`` (how mosquitto_sub 2 prints an empty payload),
is a topic with an empty payload — on a retained topic, a clear. The text carries no
timing and no flags: messages are ``interval`` seconds apart, and retain and QoS follow
the contract by the topic's last level (``state``, ``status`` and ``frame`` are retained;
``frame`` is QoS 0, the rest QoS 1). Payloads containing a newline cannot be told apart
from a new line in this format; record with ``python -m bus record`` instead.

Reading validates the whole file first and raises :class:`CaptureError` with the line
number of the first bad line, so a bad file publishes nothing.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO

CAPTURE_MAGIC = "shinealight"
CAPTURE_VERSION = 1
DEFAULT_INTERVAL = 0.1
MAX_TOPIC_BYTES = 65535
RETAINED_LEVELS = frozenset({"state", "status", "frame"})
_NULL_PAYLOAD = b"(null)"

CaptureFormat = Literal["jsonl", "mosquitto_sub"]


class CaptureError(ValueError):
    """A capture file (or line) that cannot be read; ``line`` is 1-based when known."""

    def __init__(self, reason: str, *, line: int | None = None) -> None:
        super().__init__(f"line {line}: {reason}" if line is not None else reason)
        self.reason = reason
        self.line = line


@dataclass(frozen=True)
class CapturedMessage:
    """One message as it flowed: ``offset`` seconds after the recording started."""

    offset: float
    topic: str
    payload: bytes
    retain: bool = False
    qos: int = 1


@dataclass(frozen=True)
class Capture:
    """A whole capture: its messages in order, and what its header said (if it had one)."""

    messages: tuple[CapturedMessage, ...]
    format: CaptureFormat = "jsonl"
    started: str | None = None
    topics: tuple[str, ...] = field(default=())


def validate_topic_name(topic: str) -> str:
    """Return ``topic`` if it can be published to (MQTT topic *name* rules), else raise ValueError."""
    if not topic:
        raise ValueError("empty topic")
    if any(c in topic for c in "+#\0"):
        raise ValueError(f"topic {topic!r} contains a wildcard or NUL")
    if len(topic.encode("utf-8")) > MAX_TOPIC_BYTES:  # a lone surrogate raises UnicodeEncodeError
        raise ValueError(f"topic longer than {MAX_TOPIC_BYTES} bytes")
    return topic


# -- writing -------------------------------------------------------------------------


def format_header(*, started: str, topics: Sequence[str]) -> str:
    """The header line (without newline)."""
    header = {"capture": CAPTURE_MAGIC, "v": CAPTURE_VERSION, "started": started, "topics": list(topics)}
    return json.dumps(header, ensure_ascii=False)


def format_message(message: CapturedMessage) -> str:
    """One message as a JSON line (without newline); payload as text if UTF-8, else base64."""
    record: dict[str, Any] = {"offset": round(message.offset, 6), "topic": message.topic}
    try:
        record["payload"] = message.payload.decode("utf-8")
    except UnicodeDecodeError:
        record["payload_b64"] = base64.b64encode(message.payload).decode("ascii")
    record |= {"retain": message.retain, "qos": message.qos}
    return json.dumps(record, ensure_ascii=False)


class CaptureWriter:
    """Writes a capture to a text stream, one flushed line per message (Ctrl-C loses nothing)."""

    def __init__(self, stream: TextIO, *, started: str | None = None, topics: Sequence[str] = ()) -> None:
        self._stream = stream
        self.count = 0
        if started is not None:
            self._write_line(format_header(started=started, topics=topics))

    def write(self, message: CapturedMessage) -> None:
        self._write_line(format_message(message))
        self.count += 1

    def _write_line(self, line: str) -> None:
        self._stream.write(line + "\n")
        self._stream.flush()


def write_capture(path: Path, messages: Iterable[CapturedMessage], *, started: str | None = None,
                  topics: Sequence[str] = ()) -> None:
    """Write a whole capture file (JSON lines)."""
    with path.open("w", encoding="utf-8", newline="\n") as stream:
        writer = CaptureWriter(stream, started=started, topics=topics)
        for message in messages:
            writer.write(message)


# -- reading -------------------------------------------------------------------------


def load_capture(path: Path | str, *, interval: float = DEFAULT_INTERVAL) -> Capture:
    """Read and validate a capture file in either format; raise CaptureError on the first bad line."""
    return parse_capture(Path(path).read_bytes(), interval=interval)


def parse_capture(data: bytes, *, interval: float = DEFAULT_INTERVAL) -> Capture:
    """Parse a capture from its bytes, detecting the format from the first non-blank line."""
    lines = _numbered_lines(data)
    if lines and lines[0][1].startswith(b"{"):
        return _parse_jsonl(lines)
    return _parse_text(lines, interval=interval)


def _numbered_lines(data: bytes) -> list[tuple[int, bytes]]:
    """Non-blank lines with their 1-based numbers; only ``\\n`` ends a line (payloads may hold others)."""
    data = data.removeprefix(b"\xef\xbb\xbf")
    numbered = ((n, line.removesuffix(b"\r")) for n, line in enumerate(data.split(b"\n"), start=1))
    return [(n, line) for n, line in numbered if line.strip()]


def _parse_text(lines: list[tuple[int, bytes]], *, interval: float) -> Capture:
    messages = [_text_message(line, n, offset=i * interval) for i, (n, line) in enumerate(lines)]
    return Capture(tuple(messages), format="mosquitto_sub")


def _text_message(line: bytes, number: int, *, offset: float) -> CapturedMessage:
    raw_topic, _, payload = line.partition(b" ")
    try:
        topic = validate_topic_name(raw_topic.decode("utf-8"))
    except ValueError as e:  # UnicodeDecodeError is a ValueError too
        raise CaptureError(f"bad topic: {e}", line=number) from e
    if payload == _NULL_PAYLOAD:
        payload = b""
    last_level = topic.rsplit("/", 1)[-1]
    retain = last_level in RETAINED_LEVELS
    return CapturedMessage(offset, topic, payload, retain=retain, qos=0 if last_level == "frame" else 1)


def _parse_jsonl(lines: list[tuple[int, bytes]]) -> Capture:
    header: dict[str, Any] = {}
    messages: list[CapturedMessage] = []
    for index, (number, line) in enumerate(lines):
        record = _json_object(line, number)
        if "capture" in record:
            if index:
                raise CaptureError("a header is only allowed on the first line", line=number)
            header = _checked_header(record, number)
            continue
        message = _record_message(record, number)
        if messages and message.offset < messages[-1].offset:
            raise CaptureError(f"offset {message.offset} is before the previous {messages[-1].offset}", line=number)
        messages.append(message)
    return Capture(tuple(messages), format="jsonl", started=header.get("started"),
                   topics=tuple(header.get("topics", ())))


def _json_object(line: bytes, number: int) -> dict[str, Any]:
    try:
        record = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise CaptureError(f"not UTF-8: {e}", line=number) from e
    except json.JSONDecodeError as e:
        raise CaptureError(f"not JSON: {e}", line=number) from e
    if not isinstance(record, dict):
        raise CaptureError(f"expected a JSON object, got {type(record).__name__}", line=number)
    return record


def _checked_header(record: dict[str, Any], number: int) -> dict[str, Any]:
    if record.get("capture") != CAPTURE_MAGIC:
        raise CaptureError(f"unknown capture kind {record.get('capture')!r}", line=number)
    if record.get("v") != CAPTURE_VERSION or isinstance(record.get("v"), bool):
        raise CaptureError(f"unsupported capture version {record.get('v')!r} (this reader: {CAPTURE_VERSION})",
                           line=number)
    topics = record.get("topics", [])
    started = record.get("started")
    if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
        raise CaptureError("header 'topics' must be a list of strings", line=number)
    if started is not None and not isinstance(started, str):
        raise CaptureError("header 'started' must be a string", line=number)
    return {"started": started, "topics": topics}


def _record_message(record: dict[str, Any], number: int) -> CapturedMessage:
    try:
        return CapturedMessage(
            offset=_offset(record),
            topic=validate_topic_name(_typed(record, "topic", str, required=True)),
            payload=_payload(record),
            retain=_typed(record, "retain", bool, default=False),
            qos=_qos(record),
        )
    except ValueError as e:
        raise CaptureError(str(e), line=number) from e


def _typed(record: dict[str, Any], key: str, kind: type[Any], *, required: bool = False, default: Any = None) -> Any:
    if key not in record:
        if required:
            raise ValueError(f"missing {key!r}")
        return default
    value = record[key]
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ValueError(f"{key!r} must be a {kind.__name__}, got {value!r}")
    return value


def _offset(record: dict[str, Any]) -> float:
    if "offset" not in record:
        raise ValueError("missing 'offset'")
    value = record["offset"]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ValueError(f"'offset' must be a number >= 0, got {value!r}")
    return float(value)


def _qos(record: dict[str, Any]) -> int:
    value = record.get("qos", 1)
    if isinstance(value, bool) or value not in (0, 1, 2):
        raise ValueError(f"'qos' must be 0, 1 or 2, got {value!r}")
    return int(value)


def _payload(record: dict[str, Any]) -> bytes:
    text = _typed(record, "payload", str)
    encoded = _typed(record, "payload_b64", str)
    if (text is None) == (encoded is None):
        raise ValueError("exactly one of 'payload' and 'payload_b64' is required")
    if encoded is not None:
        try:
            return base64.b64decode(encoded, validate=True)
        except binascii.Error as e:
            raise ValueError(f"'payload_b64' is not base64: {e}") from e
    try:
        return bytes(text.encode("utf-8"))
    except UnicodeEncodeError as e:  # a lone surrogate escape such as "\ud800"
        raise ValueError(f"'payload' is not valid Unicode text: {e}") from e
