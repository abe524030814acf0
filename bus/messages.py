"""Messages of bus contract v1, validated once at the edge.

Raw payloads from the wire go through :func:`decode_event` / :func:`decode_snapshot`
exactly once; the rest of the code sees only typed, frozen models. The models tolerate
unknown fields (a v1 subscriber must accept what a later v1 publisher adds) but reject
wrong types, unknown actions, unknown versions and oversized payloads with a
:class:`BadMessage` whose ``kind`` is a short, stable label for counting and
rate-limited logging.

``epoch`` (optional) names the publishing watcher's incarnation: a subscriber that sees
a new epoch forgets its ``seq`` (see docs/protocol.md, "Why epoch").

The seed's three keys (``action``, ``pod``, ``color``) are all a minimal publisher has
to send; everything else is optional on the wire.

Every way a payload can be off-contract ends in a :class:`BadMessage`, never in another
exception: JSON nested deeper than the decoder's recursion limit is ``too_deep``, a
number too long to convert (over 4,300 digits) or a ``seq`` above :data:`MAX_SEQ` is
``out_of_range``. Details quote at most a short prefix of what was sent, so a hostile
payload cannot make the log line expensive or long.

``MAX_SEQ`` is 2**53 - 1, the largest integer every JSON reader holds exactly
(JavaScript's ``Number.MAX_SAFE_INTEGER``, in the console's browser): a watcher publishing
a thousand events a second would need 285,000 years to reach it, so a larger ``seq`` can
only be garbage or an attack (it would otherwise make every later message look old).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError, field_validator

PROTOCOL_VERSION = 1
MAX_PAYLOAD_BYTES = 64 * 1024
MAX_SEQ = 2**53 - 1
DEFAULT_COLOR = "0000ff"

ONLINE = b"online"
OFFLINE = b"offline"
DEGRADED = b"degraded"  # a watcher on the broker that cannot list/watch the API: subscribers show it as stale
STATUSES = (ONLINE, OFFLINE, DEGRADED)

_HEX6 = re.compile(r"^[0-9a-f]{6}$")
_HEX3 = re.compile(r"^[0-9a-f]{3}$")


class BadMessage(ValueError):
    """A payload that is not a valid v1 message. ``kind`` labels the reason."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


class Action(StrEnum):
    ADD = "add"
    UPDATE = "update"
    REMOVE = "remove"


class PodState(StrEnum):
    PENDING = "pending"
    READY = "ready"
    UNREADY = "unready"
    TERMINATING = "terminating"


def normalize_color(value: object) -> str | None:
    """``#A81399`` → ``a81399``, ``#FFF`` → ``ffffff``; anything else → None."""
    if not isinstance(value, str):
        return None
    text = value.strip().lower().removeprefix("#")
    if _HEX6.match(text):
        return text
    if _HEX3.match(text):
        return "".join(c * 2 for c in text)
    return None


def utc_timestamp(epoch_seconds: float) -> str:
    """RFC 3339 UTC with milliseconds, as the contract's ``ts``."""
    moment = datetime.fromtimestamp(epoch_seconds, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


M = TypeVar("M", bound=BaseModel)
NonEmptyStr = Annotated[StrictStr, Field(min_length=1, max_length=253)]
Seq = Annotated[StrictInt, Field(ge=0, le=MAX_SEQ)]


class PodEntry(BaseModel):
    """One pod as a device needs it; the element of a snapshot's ordered list."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    pod: NonEmptyStr
    color: str | None = None
    namespace: NonEmptyStr | None = None
    uid: NonEmptyStr | None = None
    state: PodState | None = None

    @field_validator("color", mode="before")
    @classmethod
    def _normalize_color(cls, value: Any) -> str | None:
        return normalize_color(value)

    @property
    def key(self) -> str:
        """Identity: ``uid`` when present, else ``namespace/pod``, else ``pod``."""
        if self.uid:
            return self.uid
        if self.namespace:
            return f"{self.namespace}/{self.pod}"
        return self.pod

    @property
    def shown_color(self) -> str:
        return self.color or DEFAULT_COLOR

    def entry(self) -> PodEntry:
        """The plain entry (drops event-only fields of subclasses)."""
        return PodEntry(pod=self.pod, color=self.color, namespace=self.namespace, uid=self.uid, state=self.state)


class PodEvent(PodEntry):
    """A pod event on ``nodes/<node>/pods``."""

    v: StrictInt = PROTOCOL_VERSION
    action: Action
    node: NonEmptyStr | None = None
    seq: Seq | None = None
    epoch: NonEmptyStr | None = None
    ts: StrictStr | None = None

    def to_payload(self) -> bytes:
        return _dump(self, first=("v", "action", "pod", "color"))


class NodeSnapshot(BaseModel):
    """The retained snapshot on ``nodes/<node>/state``: the canonical ordered list."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    v: StrictInt = PROTOCOL_VERSION
    node: NonEmptyStr
    seq: Seq
    epoch: NonEmptyStr | None = None
    ts: StrictStr | None = None
    pods: tuple[PodEntry, ...] = ()

    def to_payload(self) -> bytes:
        return _dump(self, first=("v", "node", "seq", "epoch", "ts"))


def _dump(model: BaseModel, *, first: tuple[str, ...]) -> bytes:
    data = model.model_dump(mode="json", exclude_none=True)
    ordered = {k: data[k] for k in first if k in data} | data
    return json.dumps(ordered, separators=(",", ":")).encode()


def _load_object(payload: bytes) -> dict[str, Any]:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise BadMessage("oversized", f"{len(payload)} bytes > {MAX_PAYLOAD_BYTES}")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BadMessage("not_utf8", str(e)) from e
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise BadMessage("not_json", str(e)) from e
    except RecursionError as e:  # nesting deeper than the decoder's stack allows
        raise BadMessage("too_deep", "JSON nested too deeply") from e
    except ValueError as e:  # an integer of more than 4,300 digits
        raise BadMessage("out_of_range", str(e)[:80]) from e
    if not isinstance(data, dict):
        raise BadMessage("not_object", f"expected a JSON object, got {type(data).__name__}")
    version = data.get("v", PROTOCOL_VERSION)
    if version != PROTOCOL_VERSION or isinstance(version, bool):
        raise BadMessage("unknown_version", f"v={brief(version)}, this subscriber speaks v{PROTOCOL_VERSION}")
    return data


def brief(value: object) -> str:
    """A short, safe rendering of a value from the wire (never a deep ``repr``)."""
    if value is None or isinstance(value, bool | float):
        return repr(value)
    if isinstance(value, int):
        text = str(value)
        return text if len(text) <= 20 else f"{text[:20]}... ({len(text)} digits)"
    if isinstance(value, str):
        return repr(value[:40]) + ("..." if len(value) > 40 else "")
    return f"<{type(value).__name__}>"


def _validate(model: type[M], data: dict[str, Any]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as e:
        first = e.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "message"
        kind = "out_of_range" if first["type"] == "less_than_equal" else "invalid"
        raise BadMessage(kind, f"{where}: {first['msg']}") from e


def decode_event(payload: bytes) -> PodEvent:
    """Parse and validate one pod event; raise BadMessage on anything off-contract."""
    data = _load_object(payload)
    action = data.get("action")
    if not isinstance(action, str) or action not in {a.value for a in Action}:  # [] is unhashable
        raise BadMessage("unknown_action", f"action={brief(action)}")
    return _validate(PodEvent, data)


def decode_snapshot(payload: bytes) -> NodeSnapshot:
    """Parse and validate a node snapshot; raise BadMessage on anything off-contract."""
    return _validate(NodeSnapshot, _load_object(payload))
