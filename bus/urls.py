"""Broker URLs: ``mqtt://[user:pass@]host[:port][?protocol=5]``, also ``mqtts://``, ``ws://``, ``wss://``.

Resolution order for every command: ``--broker``, then ``$MQTT_URL``, then
``mqtt://127.0.0.1:1883``. Default ports: 1883 (mqtt), 8883 (mqtts), 80 (ws), 443 (wss);
websocket URLs keep their path (Mosquitto serves any path, default ``/mqtt``).

MQTT 3.1.1 is the default protocol because every broker we meet speaks it (the
embedded fallback broker speaks nothing else); ``?protocol=5`` selects MQTT 5.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

DEFAULT_URL = "mqtt://127.0.0.1:1883"
_DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883, "ws": 80, "wss": 443}

Protocol = Literal["3.1.1", "5"]


class BrokerUrlError(ValueError):
    """A broker URL that cannot be used."""


@dataclass(frozen=True)
class BrokerUrl:
    scheme: str
    host: str
    port: int
    username: str | None = None
    password: str | None = None
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
        return f"{self.scheme}://{user}{self.host}:{self.port}"


def parse_broker_url(text: str) -> BrokerUrl:
    """Parse a broker URL; raise BrokerUrlError with the reason if it is unusable."""
    parts = urlsplit(text.strip())
    if parts.scheme not in _DEFAULT_PORTS:
        raise BrokerUrlError(f"broker URL {text!r}: scheme must be one of {', '.join(_DEFAULT_PORTS)}")
    if not parts.hostname:
        raise BrokerUrlError(f"broker URL {text!r}: no host")
    try:
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
    except ValueError as e:
        raise BrokerUrlError(f"broker URL {text!r}: bad port") from e
    protocol = parse_qs(parts.query).get("protocol", ["3.1.1"])[-1]
    if protocol not in ("3.1.1", "5"):
        raise BrokerUrlError(f"broker URL {text!r}: protocol must be 3.1.1 or 5")
    return BrokerUrl(
        scheme=parts.scheme,
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        path=parts.path or "/mqtt",
        protocol="5" if protocol == "5" else "3.1.1",
    )


def resolve_broker_url(flag: str | None) -> BrokerUrl:
    """``--broker`` if given, else ``$MQTT_URL``, else the local default."""
    return parse_broker_url(flag or os.environ.get("MQTT_URL") or DEFAULT_URL)
