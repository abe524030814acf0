"""Broker URLs and failover lists: ``mqtt://[user[:pass]@]host[:port][?protocol=5]``.

Schemes ``mqtt`` (1883), ``mqtts`` (8883), ``ws`` (80) and ``wss`` (443); websocket URLs
keep their path (Mosquitto serves any path, default ``/mqtt``). MQTT 3.1.1 is the
default protocol because every broker we meet speaks it (the embedded broker, NATS
2.9 and RabbitMQ 3.10 speak nothing newer); ``?protocol=5`` selects MQTT 5.

Where the brokers come from, one rule for every command (:func:`resolve_broker_urls`):
the ``--broker`` options if any were given (repeatable), else ``$MQTT_URL``, else
``mqtt://127.0.0.1:1883``. Every value may hold several URLs separated by commas. All of
them, in order, are one failover list (:class:`Brokers`, tried by ``bus.connection``);
they must share scheme and protocol, because one MQTT client keeps its transport, TLS
and protocol version for life.

User info is everything before the *last* ``@``: a password may hold ``/``, ``#``,
``?``, ``@`` and ``:`` as they are, and percent-escapes (``%2F``) are decoded. A comma
separates URLs, so a password with a comma must be written ``%2C`` in a URL — or,
better, kept out of the URL altogether (``bus.credentials``: files and the environment
keep it out of ``ps``).

Errors never show a password: a URL in an error message goes through
:func:`redact_text` first, which hides the user info's password and anything after a
``:`` that is not a port number. Pure: no I/O; the environment is passed in.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal
from urllib.parse import parse_qs, unquote

from bus import redaction

DEFAULT_URL = "mqtt://127.0.0.1:1883"
_DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883, "ws": 80, "wss": 443}
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://(.*)$", re.DOTALL)
_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::([^:]*))?$")

Protocol = Literal["3.1.1", "5"]


class BrokerUrlError(ValueError):
    """A broker URL that cannot be used; the message never holds a password."""


@dataclass(frozen=True)
class BrokerUrl:
    """One broker. ``repr`` leaves the password out, like :meth:`redacted`."""

    scheme: str
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    path: str = "/mqtt"
    protocol: Protocol = "3.1.1"

    @property
    def tls(self) -> bool:
        return self.scheme in {"mqtts", "wss"}

    @property
    def transport(self) -> Literal["tcp", "websockets"]:
        return "websockets" if self.scheme in {"ws", "wss"} else "tcp"

    def redacted(self) -> str:
        """The URL for log lines: never the password."""
        user = f"{self.username}:***@" if self.username else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{user}{host}:{self.port}"


@dataclass(frozen=True)
class Brokers:
    """A failover list: one or more brokers, tried in order, same scheme and protocol."""

    urls: tuple[BrokerUrl, ...]

    def __post_init__(self) -> None:
        if not self.urls:
            raise BrokerUrlError("no broker URL")
        kinds = {(u.scheme, u.protocol) for u in self.urls}
        if len(kinds) > 1:
            shown = ", ".join(f"{s}:// with MQTT {p}" for s, p in sorted(kinds))
            raise BrokerUrlError(f"the brokers of one failover list must share scheme and protocol, got {shown}")

    @classmethod
    def of(cls, address: BrokerAddress) -> Brokers:
        return address if isinstance(address, Brokers) else cls((address,))

    @property
    def first(self) -> BrokerUrl:
        return self.urls[0]

    @property
    def protocol(self) -> Protocol:
        return self.first.protocol

    def with_protocol(self, protocol: Protocol) -> Brokers:
        return Brokers(tuple(replace(u, protocol=protocol) for u in self.urls))

    def redacted(self) -> str:
        return ", ".join(u.redacted() for u in self.urls)

    def __iter__(self) -> Iterator[BrokerUrl]:
        return iter(self.urls)

    def __len__(self) -> int:
        return len(self.urls)


BrokerAddress = BrokerUrl | Brokers


def redact_text(text: str) -> str:
    """A URL-like text fit for an error message: no password, nothing after a non-port ``:``."""
    match = _SCHEME.match(text.strip())
    scheme, rest = (f"{match[1]}://", match[2]) if match else ("", text.strip())
    userinfo, at, hostpart = rest.rpartition("@")
    user = ""
    if at:
        name = userinfo.split(":", 1)[0]
        user = f"{name}:***@" if ":" in userinfo else f"{name}@"
    authority = re.split(r"[/?]", hostpart, maxsplit=1)[0]
    host, colon, port = authority.partition(":")
    if colon and not port.isdigit():
        port = "***"
    tail = "/…" if len(authority) < len(hostpart) else ""
    return f"{scheme}{user}{host}{colon}{port}{tail}"


def parse_broker_url(text: str) -> BrokerUrl:
    """Parse one broker URL; raise BrokerUrlError with the reason if it is unusable."""
    shown = redact_text(text)
    match = _SCHEME.match(text.strip())
    if not match or match[1].lower() not in _DEFAULT_PORTS:
        raise BrokerUrlError(f"broker URL {shown!r}: scheme must be one of {', '.join(_DEFAULT_PORTS)}")
    scheme, rest = match[1].lower(), match[2]
    userinfo, at, hostpart = rest.rpartition("@")
    username, password = _userinfo(userinfo, shown) if at else (None, None)
    authority, path, query = _split_hostpart(hostpart)
    host_match = _HOST.match(authority)
    if not host_match:
        raise BrokerUrlError(f"broker URL {shown!r}: no host" if not authority else f"broker URL {shown!r}: bad host")
    return BrokerUrl(
        scheme=scheme,
        host=host_match[1].strip("[]"),
        port=_port(host_match[2], scheme, shown),
        username=username,
        password=password,
        path=path or "/mqtt",
        protocol=_protocol(query, shown),
    )


def _userinfo(userinfo: str, shown: str) -> tuple[str | None, str | None]:
    name, colon, secret = userinfo.partition(":")
    if colon:  # from now on, no log line can show it (bus.redaction)
        redaction.remember(secret)
        redaction.remember(unquote(secret))
    if not name and colon:
        raise BrokerUrlError(f"broker URL {shown!r}: a password needs a user name")
    return unquote(name) or None, unquote(secret) if colon else None


def _split_hostpart(hostpart: str) -> tuple[str, str, str]:
    authority, _, query = hostpart.partition("?")
    authority, slash, path = authority.partition("/")
    return authority, f"/{path}" if slash else "", query


def _port(text: str | None, scheme: str, shown: str) -> int:
    if text is None or text == "":
        return _DEFAULT_PORTS[scheme]
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise BrokerUrlError(f"broker URL {shown!r}: bad port (a number from 1 to 65535)")
    return int(text)


def _protocol(query: str, shown: str) -> Protocol:
    protocol = parse_qs(query).get("protocol", ["3.1.1"])[-1]
    if protocol not in ("3.1.1", "5"):
        raise BrokerUrlError(f"broker URL {shown!r}: protocol must be 3.1.1 or 5")
    return "5" if protocol == "5" else "3.1.1"


def split_broker_urls(text: str) -> list[str]:
    """The URLs of one comma-separated value; an empty entry is an error."""
    entries = [entry.strip() for entry in text.split(",")]
    if any(not entry for entry in entries):
        raise BrokerUrlError(f"empty entry in broker list {redact_text(text)!r} (URLs are separated by single commas)")
    return entries


def parse_brokers(values: Sequence[str]) -> Brokers:
    """Every URL of ``values`` (each may be a comma-separated list), as one failover list."""
    return Brokers(tuple(parse_broker_url(entry) for value in values for entry in split_broker_urls(value)))


def resolve_broker_urls(flags: Sequence[str] | None, env: Mapping[str, str]) -> Brokers:
    """``--broker`` values if any, else ``$MQTT_URL``, else the local default; errors name the source."""
    if flags:
        source, values = "--broker", list(flags)
    elif env.get("MQTT_URL", "").strip():
        source, values = "$MQTT_URL", [env["MQTT_URL"]]
    else:
        source, values = "default", [DEFAULT_URL]
    try:
        return parse_brokers(values)
    except BrokerUrlError as e:
        raise BrokerUrlError(f"{source}: {e}") from e

